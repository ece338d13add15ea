//go:build provider

package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pact-foundation/pact-go/v2/models"
	"github.com/pact-foundation/pact-go/v2/provider"

	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
)

// TestProviderVerification replays every interaction of both pact files
// against the Fullstory simulator, served in-process on 127.0.0.1: the v2
// Users API contract (connector/fullstory) and the SCIM contract
// (connector/scim). Each provider state builds a fresh simulator holding
// exactly the data the state names (read from the state's parameters), so
// interactions cannot leak into each other; teardown empties and closes it.
func TestProviderVerification(t *testing.T) {
	t.Run(providerName, func(t *testing.T) {
		w := &world{base: []fssim.Option{fssim.WithAPIKey(adminKey, fssim.RoleAdmin)}}
		verifyPact(t, pactFileName, consumerName, providerName, w, w.stateHandlers())
	})
	t.Run(scimProviderName, func(t *testing.T) {
		w := &world{base: []fssim.Option{fssim.WithSCIMToken(scimToken)}}
		verifyPact(t, scimPactFileName, scimConsumerName, scimProviderName, w, w.scimStateHandlers())
	})
}

// verifyPact verifies one pact file with its own world and state handlers.
func verifyPact(t *testing.T, file, consumer, providerName string, w *world, handlers models.StateHandlers) {
	pactPath := filepath.Join(*pactDir, file)
	pact, err := readPactFile(pactPath)
	if err != nil {
		t.Fatalf("read pact file: %v", err)
	}
	if pact.Consumer.Name != consumer || pact.Provider.Name != providerName {
		t.Fatalf("%s is a pact between %q and %q, want %q and %q", file, pact.Consumer.Name, pact.Provider.Name, consumer, providerName)
	}

	srv := httptest.NewServer(w) // 127.0.0.1, OS-assigned port
	t.Cleanup(srv.Close)
	t.Cleanup(w.teardown)

	checkStatesHandled(t, pact, handlers)

	err = provider.NewVerifier().VerifyProvider(t, provider.VerifyRequest{
		Provider:             providerName,
		ProviderBaseURL:      srv.URL,
		PactFiles:            []string{pactPath},
		StateHandlers:        handlers,
		FailIfNoPactsFound:   true,
		DisableColoredOutput: true,
		RequestTimeout:       10 * time.Second,
	})
	if err != nil {
		t.Fatalf("provider verification of %s failed: %v", file, err)
	}

	// Every interaction's state was set up and torn down once.
	want := map[string]int{}
	for _, i := range pact.Interactions {
		for _, s := range i.ProviderStates {
			want[s.Name]++
		}
	}
	got := w.calls()
	if diff := cmp.Diff(want, got.setups); diff != "" {
		t.Errorf("state setups per state (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got.teardowns); diff != "" {
		t.Errorf("state teardowns per state (-want +got):\n%s", diff)
	}
}

// checkStatesHandled fails when the pact names a state with no handler
// (pact-go would only log a warning and verify against whatever data is
// left) or a handler serves no state of the pact (a stale name).
func checkStatesHandled(t *testing.T, pact *pactFile, handlers models.StateHandlers) {
	t.Helper()
	used := map[string]bool{}
	for _, i := range pact.Interactions {
		if len(i.ProviderStates) == 0 {
			t.Errorf("interaction %q has no provider state; every interaction must name the data it needs", i.Description)
		}
		for _, s := range i.ProviderStates {
			used[s.Name] = true
			if _, ok := handlers[s.Name]; !ok {
				t.Errorf("interaction %q: no state handler for provider state %q", i.Description, s.Name)
			}
		}
	}
	for name := range handlers {
		if !used[name] {
			t.Errorf("state handler %q serves no interaction of the pact file", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// world serves the simulator of the current provider state.
type world struct {
	base      []fssim.Option // every simulator of this world gets these
	mu        sync.Mutex
	sim       *fssim.Server
	setups    map[string]int
	teardowns map[string]int
	errSeed   int64 // a seed whose first faulted request answers 500
}

func (w *world) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	sim := w.sim
	w.mu.Unlock()
	if sim == nil {
		http.Error(rw, "contracts: no provider state is set up", http.StatusServiceUnavailable)
		return
	}
	sim.Handler().ServeHTTP(rw, r)
}

// replace installs a fresh simulator configured with the world's base
// options (the v2 world's know adminKey, the SCIM world's scimToken) plus
// opts.
func (w *world) replace(opts ...fssim.Option) (*fssim.Server, error) {
	sim, err := fssim.New(append(slices.Clone(w.base), opts...)...)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	old := w.sim
	w.sim = sim
	w.mu.Unlock()
	if old != nil {
		if err := old.Close(); err != nil {
			return nil, err
		}
	}
	return sim, nil
}

// teardown empties and closes the simulator.
func (w *world) teardown() {
	w.mu.Lock()
	sim := w.sim
	w.sim = nil
	w.mu.Unlock()
	if sim != nil {
		sim.Reset()
		sim.SetFaults(fssim.Faults{})
		_ = sim.Close()
	}
}

type stateCalls struct{ setups, teardowns map[string]int }

func (w *world) calls() stateCalls {
	w.mu.Lock()
	defer w.mu.Unlock()
	return stateCalls{setups: maps.Clone(w.setups), teardowns: maps.Clone(w.teardowns)}
}

// setupFunc builds the state and returns the values the interaction
// injects with fromProviderState.
type setupFunc func(params map[string]any) (models.ProviderStateResponse, error)

// handler wraps setup with the teardown every state shares and counts both.
func (w *world) handler(name string, setup setupFunc) models.StateHandler {
	return func(isSetup bool, s models.ProviderState) (models.ProviderStateResponse, error) {
		w.mu.Lock()
		if w.setups == nil {
			w.setups, w.teardowns = map[string]int{}, map[string]int{}
		}
		if isSetup {
			w.setups[name]++
		} else {
			w.teardowns[name]++
		}
		w.mu.Unlock()
		if !isSetup {
			w.teardown()
			return nil, nil
		}
		res, err := setup(stateParams(s.Parameters))
		if err != nil {
			return nil, fmt.Errorf("provider state %q: %w", name, err)
		}
		return res, nil
	}
}

// stateParams returns the parameters of a state: pact-go passes the
// state-change body minus action and state, which holds them under
// "params" (or at the top level for older cores).
func stateParams(p map[string]any) map[string]any {
	if inner, ok := p["params"].(map[string]any); ok {
		return inner
	}
	return p
}

// decodeParams converts the parameters into out through JSON.
func decodeParams(params map[string]any, out any) error {
	b, err := json.Marshal(params)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("parameters %s: %w", b, err)
	}
	return nil
}

func (w *world) stateHandlers() models.StateHandlers {
	return models.StateHandlers{
		stateUsersSpanPages: w.handler(stateUsersSpanPages, w.setupPagedUsers),
		stateUserExists:     w.handler(stateUserExists, w.setupUserExists),
		stateNoUserWithID:   w.handler(stateNoUserWithID, w.setupNoUserWithID),
		stateNoUserWithUID:  w.handler(stateNoUserWithUID, w.setupNoUserWithUID),
		stateCreateAnswered: w.handler(stateCreateAnswered, w.setupCreateAnswered),
		stateRevokedKey:     w.handler(stateRevokedKey, w.setupRevokedKey),
		stateStandardKey:    w.handler(stateStandardKey, w.setupStandardKey),
		stateRateLimited:    w.handler(stateRateLimited, w.setupRateLimited),
		stateServerError:    w.handler(stateServerError, w.setupServerError),
	}
}

// seed stores users exactly and checks the simulator holds them and
// nothing else.
func seed(sim *fssim.Server, users []fixtureUser) error {
	want := make([]string, 0, len(users))
	for _, u := range users {
		if u.ID == "" {
			return fmt.Errorf("fixture user %+v has no id", u)
		}
		got, err := sim.PutUser(fssim.User{ID: u.ID, UID: u.UID, DisplayName: u.DisplayName, Email: u.Email, Properties: u.Properties})
		if err != nil {
			return fmt.Errorf("seed user %s: %w", u.ID, err)
		}
		if got.ID != u.ID {
			return fmt.Errorf("seeded user %s got id %s", u.ID, got.ID)
		}
		want = append(want, u.ID)
	}
	var got []string
	for _, u := range sim.Users() {
		got = append(got, u.ID)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("simulator holds users %v, want exactly %v", got, want)
	}
	return nil
}

// call sends one request straight to the simulator's handler.
func call(sim *fssim.Server, method, target, apiKey string, header http.Header, body []byte) (int, map[string]any, error) {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	req.Header.Set("Authorization", "Basic "+apiKey)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	sim.Handler().ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		return rec.Code, nil, fmt.Errorf("%s %s answered %d with a body that is not a JSON object: %q", method, target, rec.Code, rec.Body.String())
	}
	return rec.Code, out, nil
}

// nextPageToken lists one page and returns its next_page_token.
func nextPageToken(sim *fssim.Server, query url.Values) (string, error) {
	target := "/v2/users"
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	status, body, err := call(sim, http.MethodGet, target, adminKey, nil, nil)
	if err != nil {
		return "", err
	}
	tok, _ := body["next_page_token"].(string)
	if status != http.StatusOK || tok == "" {
		return "", fmt.Errorf("GET %s answered %d %v, want 200 with a next_page_token", target, status, body)
	}
	return tok, nil
}

func (w *world) setupPagedUsers(params map[string]any) (models.ProviderStateResponse, error) {
	var p struct {
		PageSize int           `json:"page_size"`
		Users    []fixtureUser `json:"users"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	sim, err := w.replace(fssim.WithPageSize(p.PageSize))
	if err != nil {
		return nil, err
	}
	if err := seed(sim, p.Users); err != nil {
		return nil, err
	}
	// Page tokens are the simulator's to mint: read the pages the
	// interactions continue from. A token that cannot be read is left out
	// rather than failing the state, so the verifier reports the real
	// defect (a first page without next_page_token) on the interactions
	// themselves; the next-page interactions then send the consumer's
	// example token and fail on the provider's answer.
	values := models.ProviderStateResponse{}
	if first, err := nextPageToken(sim, nil); err == nil {
		values[valueFirstPageToken] = first
		if second, err := nextPageToken(sim, url.Values{"page_token": {first}}); err == nil {
			values[valueSecondPageToken] = second
		}
	}
	if identified, err := nextPageToken(sim, url.Values{"is_identified": {"true"}}); err == nil {
		values[valueIdentifiedPageToken] = identified
	}
	sim.ClearRequests()
	return values, nil
}

func (w *world) setupUserExists(params map[string]any) (models.ProviderStateResponse, error) {
	var p struct {
		User fixtureUser `json:"user"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	sim, err := w.replace()
	if err != nil {
		return nil, err
	}
	return nil, seed(sim, []fixtureUser{p.User})
}

// otherUsers keeps the "no such user" states from being an empty store.
var otherUsers = []fixtureUser{
	{ID: "1000000000000000101", UID: "u-other-1", DisplayName: "Other One", Email: "other1@example.com"},
	{ID: "1000000000000000102"},
}

func (w *world) setupNoUserWithID(map[string]any) (models.ProviderStateResponse, error) {
	sim, err := w.replace()
	if err != nil {
		return nil, err
	}
	if err := seed(sim, otherUsers); err != nil {
		return nil, err
	}
	for _, u := range sim.Users() {
		if u.ID == missingID {
			return nil, fmt.Errorf("user %s exists", missingID)
		}
	}
	return nil, nil
}

func (w *world) setupNoUserWithUID(map[string]any) (models.ProviderStateResponse, error) {
	sim, err := w.replace()
	if err != nil {
		return nil, err
	}
	if err := seed(sim, otherUsers); err != nil {
		return nil, err
	}
	for _, u := range sim.Users() {
		if u.UID == newUID {
			return nil, fmt.Errorf("user %s has uid %s", u.ID, newUID)
		}
	}
	return nil, nil
}

// setupCreateAnswered stores the user the first create answered with, sends
// that create with the key (Fullstory's POST answers the id of the user
// with the same uid), then erases the user: a provider that answered the
// replay by creating again would return a new id, and the contract expects
// the first one.
func (w *world) setupCreateAnswered(params map[string]any) (models.ProviderStateResponse, error) {
	var p struct {
		Request struct {
			IdempotencyKey string         `json:"idempotency_key"`
			Body           map[string]any `json:"body"`
		} `json:"request"`
		Answer struct {
			ID string `json:"id"`
		} `json:"answer"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	req, id := p.Request, p.Answer.ID
	sim, err := w.replace(fssim.WithDeleteDelay(0))
	if err != nil {
		return nil, err
	}
	uid, _ := req.Body["uid"].(string)
	if err := seed(sim, []fixtureUser{{ID: id, UID: uid}}); err != nil {
		return nil, err
	}
	// Compact JSON with sorted keys: the form the verifier sends the
	// body in, so the replay is byte-for-byte the same request.
	body, err := json.Marshal(req.Body)
	if err != nil {
		return nil, err
	}
	h := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {req.IdempotencyKey}}
	status, out, err := call(sim, http.MethodPost, "/v2/users", adminKey, h, body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK || out["id"] != id {
		return nil, fmt.Errorf("first create answered %d %v, want 200 with id %s", status, out, id)
	}
	status, out, err = call(sim, http.MethodDelete, "/v2/users/"+url.PathEscape(id), adminKey, nil, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("erasing user %s answered %d %v", id, status, out)
	}
	if users := sim.Users(); len(users) != 0 {
		return nil, fmt.Errorf("users left after erasing the created one: %+v", users)
	}
	sim.ClearRequests()
	return nil, nil
}

func (w *world) setupRevokedKey(map[string]any) (models.ProviderStateResponse, error) {
	// Only adminKey is configured: revokedKey is unknown.
	sim, err := w.replace()
	if err != nil {
		return nil, err
	}
	return nil, seed(sim, otherUsers)
}

func (w *world) setupStandardKey(map[string]any) (models.ProviderStateResponse, error) {
	sim, err := w.replace(fssim.WithAPIKey(standardKey, fssim.RoleStandard))
	if err != nil {
		return nil, err
	}
	return nil, seed(sim, otherUsers)
}

// setupRateLimited allows one request per second on a stopped clock and
// spends it, so the next request is over the limit.
func (w *world) setupRateLimited(map[string]any) (models.ProviderStateResponse, error) {
	stopped := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	sim, err := w.replace(
		fssim.WithClock(func() time.Time { return stopped }),
		fssim.WithFaults(fssim.Faults{RateLimitRPS: 1}),
	)
	if err != nil {
		return nil, err
	}
	if err := seed(sim, otherUsers); err != nil {
		return nil, err
	}
	status, out, err := call(sim, http.MethodGet, "/v2/users", adminKey, nil, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("the request spending the rate limit answered %d %v", status, out)
	}
	sim.ClearRequests()
	return nil, nil
}

// setupServerError makes every request fail. The simulator's error faults
// answer 500 or 503 as its seeded generator draws; the first draw of a
// fresh simulator depends only on its seed, so a seed whose first faulted
// request answers 500 (found once by probing) makes the state
// deterministic.
func (w *world) setupServerError(map[string]any) (models.ProviderStateResponse, error) {
	seedVal, err := w.serverErrorSeed()
	if err != nil {
		return nil, err
	}
	_, err = w.replace(fssim.WithSeed(seedVal), fssim.WithFaults(fssim.Faults{ErrorRate: 1}))
	return nil, err
}

func (w *world) serverErrorSeed() (int64, error) {
	w.mu.Lock()
	s := w.errSeed
	w.mu.Unlock()
	if s != 0 {
		return s, nil
	}
	for s = 1; s <= 64; s++ {
		probe, err := fssim.New(fssim.WithAPIKey(adminKey, fssim.RoleAdmin), fssim.WithSeed(s), fssim.WithFaults(fssim.Faults{ErrorRate: 1}))
		if err != nil {
			return 0, err
		}
		status, _, err := call(probe, http.MethodGet, "/v2/users", adminKey, nil, nil)
		_ = probe.Close()
		if err != nil {
			return 0, err
		}
		if status == http.StatusInternalServerError {
			w.mu.Lock()
			w.errSeed = s
			w.mu.Unlock()
			return s, nil
		}
	}
	return 0, fmt.Errorf("no seed in 1..64 makes the first faulted request answer 500")
}
