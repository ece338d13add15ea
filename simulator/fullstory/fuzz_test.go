package fullstory

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzHandlers sends arbitrary methods, paths, query strings, bodies and
// Idempotency-Keys to the API in process. No input may panic the server,
// earn a 5xx, produce a body that is not JSON, or break the store's
// invariants.
func FuzzHandlers(f *testing.F) {
	// Every input gets a fresh server with the same seed, so a failing
	// input reproduces on its own.
	newSim := func(tb testing.TB) (*Server, *fakeClock) {
		clock := newFakeClock()
		sim, err := New(WithAPIKey(adminKey, RoleAdmin), WithAPIKey(standardKey, RoleStandard),
			WithUsers(20), WithAnonymousUsers(5), WithPageSize(7), WithClock(clock.Now))
		if err != nil {
			tb.Fatal(err)
		}
		return sim, clock
	}
	sim, _ := newSim(f)
	users := sim.Users()
	id := users[0].ID
	fh := filterHash(&listQuery{})
	tok := sim.encodePageToken(fh, users[6].ID)

	f.Add("GET", "/v2/users", "", []byte(nil), "", false)
	f.Add("GET", "/v2/users", "is_identified=true&include_schema=true", []byte(nil), "", false)
	f.Add("GET", "/v2/users", "page_token="+tok, []byte(nil), "", false)
	f.Add("GET", "/v2/users", "uid=usr_1&email=a%40b.c&display_name=x", []byte(nil), "", true)
	f.Add("GET", "/v2/users/"+id, "include_schema=1", []byte(nil), "", false)
	f.Add("POST", "/v2/users", "", []byte(`{"uid":"a","display_name":"A","email":"a@example.com","properties":{"n":1,"o":{"p":[1,"x"]}},"schema":{"properties":{"n":"real"}}}`), "k1", false)
	f.Add("POST", "/v2/users", "", []byte(`{"properties":{"bad-name":1}}`), "", true)
	f.Add("POST", "/v2/users/"+id, "", []byte(`{"uid":"changed","properties":{"n":null}}`), "k2", false)
	f.Add("DELETE", "/v2/users/"+id, "", []byte(nil), "", false)
	f.Add("DELETE", "/v2/users", "uid=a", []byte(nil), "", false)
	f.Add("PUT", "/v2/users", "", []byte(`{}`), "", false)

	f.Fuzz(func(t *testing.T, method, path, query string, body []byte, idemKey string, standard bool) {
		if !validMethod(method) || len(body) > 1<<20 || isSCIMPath(path) {
			return // FuzzSCIM covers /scim/v2
		}
		sim, clock := newSim(t)
		r := fuzzRequest(t, method, path, query, body)
		key := adminKey
		if standard {
			key = standardKey
		}
		r.Header.Set("Authorization", "Basic "+key)
		if idemKey != "" {
			r.Header.Set("Idempotency-Key", idemKey)
		}
		w := httptest.NewRecorder()
		start := time.Now()
		sim.Handler().ServeHTTP(w, r)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%s %s?%s took %v", method, path, query, d)
		}

		switch w.Code {
		case 200, 400, 401, 403, 404, 405, 409, 413:
		case 301: // gorilla/mux redirects unclean paths
			return
		default:
			t.Fatalf("%s %s?%s %q: status %d %s", method, path, query, body, w.Code, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s?%s: body is not JSON: %q", method, path, query, w.Body)
		}
		if w.Code != 200 {
			var e apiErr
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("error body %s lacks code or message", w.Body)
			}
		}
		if method == "GET" && path == usersPath && w.Code == 200 {
			var p listPage
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("list answer: %v", err)
			}
			if len(p.Results) > 7 {
				t.Fatalf("page of %d users, page size 7", len(p.Results))
			}
		}
		if err := sim.st.checkInvariants(); err != nil {
			t.Fatalf("after %s %s?%s %q: %v", method, path, query, body, err)
		}
		// Let pending deletions complete, then check again.
		clock.Advance(DefaultDeleteDelay)
		if n := len(sim.Users()); n > 26 {
			t.Fatalf("one request left %d users (started with 25)", n)
		}
		if err := sim.st.checkInvariants(); err != nil {
			t.Fatalf("after deletions of %s %s?%s %q: %v", method, path, query, body, err)
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	return !strings.ContainsFunc(m, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r)
	})
}

// fuzzRequest builds the server-side request a fuzz input stands for,
// without the URL parsing that would reject it before the handler sees it.
func fuzzRequest(t *testing.T, method, path, query string, body []byte) *http.Request {
	u := &url.URL{Path: path, RawQuery: query}
	r := &http.Request{
		Method:     method,
		URL:        u,
		RequestURI: u.RequestURI(),
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          "sim.test",
	}
	return r.WithContext(t.Context())
}
