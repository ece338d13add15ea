// Package httpscript serves scripted HTTP exchanges for client tests: each
// step names the request it expects and the answer it gives, and the test
// fails if a step goes unused or an unexpected request arrives.
package httpscript

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Step is one scripted exchange.
type Step struct {
	Method, Path, Query string
	// Check inspects the request further; body is the request body.
	Check  func(t testing.TB, r *http.Request, body string)
	Status int
	Header map[string]string
	Body   string
	// Drop closes the connection without answering.
	Drop bool
}

// Server starts a loopback server that plays steps in order. Every request
// must carry the Authorization header wantAuth (when not empty).
func Server(t testing.TB, wantAuth string, steps ...Step) string {
	t.Helper()
	var mu sync.Mutex
	next := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(steps) {
			t.Errorf("unexpected request %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
			http.Error(w, "unexpected", http.StatusTeapot)
			return
		}
		s := steps[next]
		next++
		b, _ := io.ReadAll(r.Body)
		if r.Method != s.Method || r.URL.Path != s.Path || r.URL.RawQuery != s.Query {
			t.Errorf("step %d: got %s %s?%s, want %s %s?%s", next, r.Method, r.URL.Path, r.URL.RawQuery, s.Method, s.Path, s.Query)
		}
		if got := r.Header.Get("Authorization"); wantAuth != "" && got != wantAuth {
			t.Errorf("step %d: got Authorization %q, want %q", next, got, wantAuth)
		}
		if s.Check != nil {
			s.Check(t, r, string(b))
		}
		if s.Drop {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
				}
			}
			return
		}
		for k, v := range s.Header {
			w.Header().Set(k, v)
		}
		if s.Body != "" && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(s.Status)
		_, _ = io.WriteString(w, s.Body)
	}))
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		defer mu.Unlock()
		if next != len(steps) {
			t.Errorf("%d of %d scripted steps were not used", len(steps)-next, len(steps))
		}
	})
	return srv.URL
}
