package restclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestNoContentIsNotAnEmptyResult: a 204 (a proxy, a misrouted request) to
// a call that expects a body must fail, not decode as an empty value: an
// empty page of users would end a sync early with a c1z that looks complete.
func TestNoContentIsNotAnEmptyResult(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL + "/v2/users")
	c, err := New(context.Background(), Options{
		HTTPClient:  srv.Client(),
		DecodeError: func(op string, r Response) error { return &statusErr{status: r.Status} },
	})
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Results []string `json:"results"`
	}
	err = c.Do(context.Background(), Request{Op: "list users", Method: http.MethodGet, URL: u}, &page)
	if err == nil || status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "HTTP 204") {
		t.Errorf("GET answered 204: got %v, want an Internal error naming HTTP 204", err)
	}
	if n := c.Stats().Requests; n != 1 {
		t.Errorf("%d requests, want 1 (a malformed answer is not retried)", n)
	}
	// Without a body to decode, 204 is success.
	if err := c.Do(context.Background(), Request{Op: "delete user", Method: http.MethodDelete, URL: u}, nil); err != nil {
		t.Errorf("DELETE answered 204: %v", err)
	}
}
