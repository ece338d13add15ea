package connector

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
)

// recentTokens is how many past Fullstory tokens a page token remembers to
// catch a loop. A loop longer than this is still caught by maxPages.
const recentTokens = 32

// maxEmptyPages bounds a run of empty pages that still carry a next token:
// an API handing out fresh tokens for nothing would otherwise only stop at
// maxPages.
const maxEmptyPages = 100

// pageState is what baton carries between List calls. The connector keeps
// no memory between calls (they may run in different processes), so
// everything needed to continue, and to notice a loop, travels here.
type pageState struct {
	// Token is Fullstory's next_page_token.
	Token string `json:"t"`
	// Page is the number of pages fetched so far.
	Page int `json:"p"`
	// Seen holds hashes of the most recent Fullstory tokens.
	Seen []uint64 `json:"s,omitempty"`
	// Empty counts the empty pages in a row just fetched.
	Empty int `json:"e,omitempty"`
}

func decodePageState(raw string) (pageState, error) {
	var st pageState
	if raw == "" {
		return st, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || st.Token == "" {
		return pageState{}, fmt.Errorf("baton-fullstory: list users: the sync's page token is corrupt; start a new sync")
	}
	return st, nil
}

func (st pageState) encode() string {
	b, _ := json.Marshal(st) // a struct of strings and ints always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// next returns the state for Fullstory's next token, given whether the page
// that came with it was empty, or an error when the token was already handed
// out during this listing or empty pages keep coming.
func (st pageState) next(token string, emptyPage bool) (pageState, error) {
	h := hashToken(token)
	if token == st.Token || slices.Contains(st.Seen, h) {
		return pageState{}, fmt.Errorf("baton-fullstory: list users: Fullstory returned page token %q twice (after %d pages); stopping instead of looping forever", shortToken(token), st.Page)
	}
	empty := 0
	if emptyPage {
		empty = st.Empty + 1
	}
	if empty > maxEmptyPages {
		return pageState{}, fmt.Errorf("baton-fullstory: list users: Fullstory returned %d empty pages in a row, each with a next page token (after %d pages); stopping instead of paging forever", empty, st.Page)
	}
	seen := append(slices.Clone(st.Seen), h)
	if len(seen) > recentTokens {
		seen = seen[len(seen)-recentTokens:]
	}
	return pageState{Token: token, Page: st.Page + 1, Seen: seen, Empty: empty}, nil
}

func hashToken(t string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(t))
	return h.Sum64()
}

func shortToken(t string) string {
	if len(t) > 16 {
		return t[:16] + "..."
	}
	return t
}
