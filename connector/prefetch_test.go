package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conductorone/baton-fullstory/connector/fullstory"
	"github.com/conductorone/baton-sdk/pkg/pagination"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"github.com/google/go-cmp/cmp"
)

// pagedServer serves n pages of two identified users each; page i answers
// Fullstory token "t<i>" (page 0 none) and links to "t<i+1>".
type pagedServer struct {
	t     *testing.T
	n     int
	delay time.Duration
	// hold, when set, blocks the request for that token until it is closed.
	hold   map[string]chan struct{}
	mu     sync.Mutex
	counts map[string]int
	order  []string
}

func newPagedServer(t *testing.T, n int, delay time.Duration) (*pagedServer, *fullstory.Client) {
	t.Helper()
	s := &pagedServer{t: t, n: n, delay: delay, hold: map[string]chan struct{}{}, counts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	c, err := fullstory.NewClient(context.Background(), srv.URL, testKey,
		fullstory.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}),
		fullstory.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return s, c
}

func (s *pagedServer) serve(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("page_token")
	if q := r.URL.Query().Get("is_identified"); q != "true" {
		s.t.Errorf("page %q: got is_identified=%q, want true", tok, q)
	}
	s.mu.Lock()
	s.counts[tok]++
	s.order = append(s.order, tok)
	hold := s.hold[tok]
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	time.Sleep(s.delay)
	i := 0
	if tok != "" {
		if _, err := fmt.Sscanf(tok, "t%d", &i); err != nil || i <= 0 || i >= s.n {
			http.Error(w, `{"code":"invalid_argument","message":"bad token"}`, http.StatusBadRequest)
			return
		}
	}
	next := ""
	if i+1 < s.n {
		next = fmt.Sprintf("t%d", i+1)
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, page(next, user(fmt.Sprint(2*i)), user(fmt.Sprint(2*i+1))))
}

func (s *pagedServer) count(tok string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[tok]
}

func (s *pagedServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

func (s *pagedServer) wantIDs() []string {
	var ids []string
	for i := 0; i < 2*s.n; i++ {
		ids = append(ids, fmt.Sprint(i))
	}
	return ids
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func listOnce(b *userBuilder, ctx context.Context, token string) ([]string, string, error) {
	rs, res, err := b.List(ctx, nil, resource.SyncOpAttrs{PageToken: pagination.Token{Token: token}})
	if err != nil {
		return nil, "", err
	}
	return ids(rs), res.NextPageToken, nil
}

func TestReadAheadFetchesEachPageOnceWhileBatonWorks(t *testing.T) {
	s, c := newPagedServer(t, 20, time.Millisecond)
	b := newUserBuilder(c, false)

	got, next, err := listOnce(b, context.Background(), "")
	if err != nil {
		t.Fatalf("first page: %v", err)
	}
	// Without another List call, the next pages are fetched (up to the
	// read-ahead depth, plus the one being fetched when the buffer fills).
	waitFor(t, "pages read ahead", func() bool { return s.count(fmt.Sprintf("t%d", readAheadPages)) == 1 })
	if n := s.total(); n > readAheadPages+2 {
		t.Errorf("got %d requests after one List call, want at most %d", n, readAheadPages+2)
	}

	for calls := 1; next != ""; calls++ {
		if calls > 100 {
			t.Fatal("List never finished")
		}
		var rs []string
		if rs, next, err = listOnce(b, context.Background(), next); err != nil {
			t.Fatalf("List: %v", err)
		}
		got = append(got, rs...)
	}
	if diff := cmp.Diff(s.wantIDs(), got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	want := []string{""}
	for i := 1; i < s.n; i++ {
		want = append(want, fmt.Sprintf("t%d", i))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if diff := cmp.Diff(want, s.order); diff != "" {
		t.Errorf("requests by page token, in order (-want +got):\n%s", diff)
	}
}

func TestReadAheadStopsWhenBatonAsksForAnotherPage(t *testing.T) {
	s, c := newPagedServer(t, 12, time.Millisecond)
	b := newUserBuilder(c, false)

	_, next, err := listOnce(b, context.Background(), "")
	if err != nil {
		t.Fatalf("first page: %v", err)
	}
	if _, _, err := listOnce(b, context.Background(), next); err != nil {
		t.Fatalf("second page: %v", err)
	}
	ra := b.ahead.cur
	// A restarted sync asks for the first page again: the reading stops,
	// and the listing from the start is complete and correct.
	var got []string
	next = ""
	for calls := 0; calls == 0 || next != ""; calls++ {
		if calls > 100 {
			t.Fatal("List never finished")
		}
		var rs []string
		if rs, next, err = listOnce(b, context.Background(), next); err != nil {
			t.Fatalf("List: %v", err)
		}
		got = append(got, rs...)
	}
	if diff := cmp.Diff(s.wantIDs(), got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	select {
	case <-ra.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the first reading did not stop")
	}
	// Two listings: every page at most twice (once each), the first page
	// exactly twice.
	if n := s.count(""); n != 2 {
		t.Errorf("first page requested %d times, want 2", n)
	}
	for i := 1; i < s.n; i++ {
		if n := s.count(fmt.Sprintf("t%d", i)); n < 1 || n > 2 {
			t.Errorf("page t%d requested %d times, want 1 or 2", i, n)
		}
	}
}

func TestReadAheadDropsPagesNobodyAsksFor(t *testing.T) {
	s, c := newPagedServer(t, 10, 0)
	b := newUserBuilder(c, false)
	b.ahead.maxAge = 30 * time.Millisecond

	_, next, err := listOnce(b, context.Background(), "")
	if err != nil {
		t.Fatalf("first page: %v", err)
	}
	ra := b.ahead.cur
	select {
	case <-ra.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the reading did not stop although nobody asked for its pages")
	}
	if n := s.total(); n > readAheadPages+2 {
		t.Errorf("got %d requests, want at most %d", n, readAheadPages+2)
	}
	// The page waited too long: it is fetched again.
	got, _, err := listOnce(b, context.Background(), next)
	if err != nil {
		t.Fatalf("second page: %v", err)
	}
	if diff := cmp.Diff([]string{"2", "3"}, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if n := s.count("t1"); n != 2 {
		t.Errorf("page t1 requested %d times, want 2 (read ahead, then again)", n)
	}
}

func TestReadAheadWaitHonoursTheCallersContext(t *testing.T) {
	s, c := newPagedServer(t, 5, 0)
	release := make(chan struct{})
	s.hold["t1"] = release
	b := newUserBuilder(c, false)

	_, next, err := listOnce(b, context.Background(), "")
	if err != nil {
		t.Fatalf("first page: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := listOnce(b, ctx, next); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the caller's deadline", err)
	}
	close(release)
	got, _, err := listOnce(b, context.Background(), next)
	if err != nil {
		t.Fatalf("second page after the timeout: %v", err)
	}
	if diff := cmp.Diff([]string{"2", "3"}, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestReadAheadHandsOverErrorsInOrder(t *testing.T) {
	// Page t2 links back to t1: the loop is reported by the List call for
	// t2, as without reading ahead, after the pages before it.
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		switch r.URL.Query().Get("page_token") {
		case "":
			fmt.Fprint(w, page("t1", user("1")))
		case "t1":
			fmt.Fprint(w, page("t2", user("2")))
		default:
			fmt.Fprint(w, page("t1", user("3")))
		}
	}))
	defer srv.Close()
	c, err := fullstory.NewClient(context.Background(), srv.URL, testKey)
	if err != nil {
		t.Fatal(err)
	}
	b := newUserBuilder(c, false)
	var got []string
	next := ""
	var calls int
	for calls = 1; calls < 10; calls++ {
		var rs []string
		rs, next, err = listOnce(b, context.Background(), next)
		if err != nil {
			break
		}
		got = append(got, rs...)
	}
	if err == nil || !strings.Contains(err.Error(), `returned page token "t1" twice`) {
		t.Fatalf("got %v, want a token-loop error", err)
	}
	if calls != 3 || !cmp.Equal([]string{"1", "2"}, got) {
		t.Errorf("got users %v and the error at call %d, want [1 2] and call 3", got, calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 3 {
		t.Errorf("got %d requests, want 3", requests)
	}
}

// listedIDs lists every page through b's List, as baton's syncer does.
func listedIDs(t *testing.T, b *userBuilder) []string {
	t.Helper()
	rs, _, err := listAll(t, b)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return ids(rs)
}

func TestValidatesFirstPageServesTheSync(t *testing.T) {
	s, c := newPagedServer(t, 5, 0)
	conn := &Connector{client: c, users: newUserBuilder(c, false)}
	if _, err := conn.Validate(context.Background()); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	b := conn.ResourceSyncers(context.Background())[0].(*userBuilder)
	if diff := cmp.Diff(s.wantIDs(), listedIDs(t, b)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	// Validate's request is the sync's first page: each page once.
	s.mu.Lock()
	defer s.mu.Unlock()
	if diff := cmp.Diff([]string{"", "t1", "t2", "t3", "t4"}, s.order); diff != "" {
		t.Errorf("requests by page token, in order (-want +got):\n%s", diff)
	}
}

func TestValidatesFirstPageServesOneSyncOnlyAndExpires(t *testing.T) {
	s, c := newPagedServer(t, 2, 0)
	b := newUserBuilder(c, false)
	b.ahead.maxAge = 30 * time.Millisecond

	if err := b.validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	listedIDs(t, b) // takes the kept page
	listedIDs(t, b) // a second sync fetches its own
	if got := s.count(""); got != 2 {
		t.Errorf("first page requested %d times by validate and two syncs, want 2", got)
	}

	if err := b.validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // older than maxAge: fetched again
	if diff := cmp.Diff(s.wantIDs(), listedIDs(t, b)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if got := s.count(""); got != 4 {
		t.Errorf("first page requested %d times after a stale validate, want 4", got)
	}
}
