package fullstory

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestListingReusesOneConnection pages through a listing with the client's
// production transport (uhttp's, as the connector runs it) and checks that
// every request rode the same keep-alive connection.
func TestListingReusesOneConnection(t *testing.T) {
	body := benchPage(100, "next")
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c, err := NewClient(context.Background(), srv.URL, "keepalive-key")
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	identified := true
	const pages = 50
	for i := 0; i < pages; i++ {
		p, err := c.ListUsers(context.Background(), ListUsersParams{IsIdentified: &identified, PageToken: "tok"})
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if len(p.Results) != 100 {
			t.Fatalf("page %d: got %d users, want 100", i, len(p.Results))
		}
	}
	if got := c.Stats().Requests; got != pages {
		t.Errorf("got %d requests, want %d", got, pages)
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("got %d connections for %d requests, want 1 (keep-alive)", got, pages)
	}
}
