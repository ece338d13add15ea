package fullstory

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	adminKey     = "key-admin"
	architectKey = "key-architect"
	standardKey  = "key-standard"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a simulator served over a real loopback listener.
type env struct {
	t     *testing.T
	sim   *Server
	srv   *httptest.Server
	clock *fakeClock
}

// newEnv starts a simulator with the three test keys, a fake clock and
// opts, on 127.0.0.1.
func newEnv(t *testing.T, opts ...Option) *env {
	t.Helper()
	clock := newFakeClock()
	base := []Option{
		WithAPIKey(adminKey, RoleAdmin),
		WithAPIKey(architectKey, RoleArchitect),
		WithAPIKey(standardKey, RoleStandard),
		WithClock(clock.Now),
	}
	sim, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{t: t, sim: sim, srv: newLoopbackServer(t, sim), clock: clock}
}

// newLoopbackServer serves sim on 127.0.0.1 until the test ends.
func newLoopbackServer(t *testing.T, sim *Server) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// with returns e reporting to t (for subtests).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// apiErr is Fullstory's error body.
type apiErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (r response) apiError(t *testing.T) apiErr {
	t.Helper()
	var e apiErr
	r.json(t, &e)
	if e.Message == "" {
		t.Errorf("error body %s has no message", r.Body)
	}
	return e
}

type req struct {
	method  string
	path    string // with query
	key     string // API key; "" sends no Authorization header
	body    string
	headers map[string]string
}

func (e *env) do(r req) response {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatalf("NewRequest: %v", err)
	}
	if r.key != "" {
		hr.Header.Set("Authorization", "Basic "+r.key)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("reading body: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type %q, want application/json", r.method, r.path, ct)
	}
	if !json.Valid(b) {
		e.t.Errorf("%s %s: body is not JSON: %q", r.method, r.path, b)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// must performs r and fails unless it answers want.
func (e *env) must(want int, r req) response {
	e.t.Helper()
	resp := e.do(r)
	if resp.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", r.method, r.path, resp.Status, want, resp.Body)
	}
	return resp
}

// create posts body and returns the id.
func (e *env) create(body string) string {
	e.t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	e.must(200, req{method: "POST", path: "/v2/users", key: adminKey, body: body}).json(e.t, &out)
	if out.ID == "" {
		e.t.Fatalf("create %s: empty id", body)
	}
	return out.ID
}

type listPage struct {
	Results       []User `json:"results"`
	TotalRecords  string `json:"total_records"`
	NextPageToken string `json:"next_page_token"`
}

func (e *env) list(query string) listPage {
	e.t.Helper()
	var p listPage
	e.must(200, req{method: "GET", path: "/v2/users" + query, key: adminKey}).json(e.t, &p)
	return p
}

// listAll follows page tokens; extra is appended to every request.
func (e *env) listAll(extra string) (ids []string, pages int) {
	e.t.Helper()
	tok := ""
	for {
		q := "?" + extra
		if tok != "" {
			q += "&page_token=" + tok
		}
		p := e.list(q)
		pages++
		for _, u := range p.Results {
			ids = append(ids, u.ID)
		}
		if p.NextPageToken == "" {
			return ids, pages
		}
		tok = p.NextPageToken
		if pages > 100000 {
			e.t.Fatal("pagination does not end")
		}
	}
}

func userIDs(us []User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func compactJSON(t *testing.T, s []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, s); err != nil {
		t.Fatalf("compact %s: %v", s, err)
	}
	return b.String()
}

// waitRequests waits until the request log holds at least n entries and
// returns it. A dropped request is logged when its handler returns, which
// may be after the client has seen the connection close.
func waitRequests(t *testing.T, sim *Server, n int) []RequestLogEntry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := sim.Requests()
		if len(l) >= n {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("request log %+v: fewer than %d entries after 5s", l, n)
		}
		time.Sleep(time.Millisecond)
	}
}
