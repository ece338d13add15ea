package restclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/conductorone/baton-sdk/pkg/retry"
	"github.com/conductorone/baton-sdk/pkg/uhttp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type statusErr struct {
	status   int
	attempts int
}

func (e *statusErr) Error() string     { return http.StatusText(e.status) }
func (e *statusErr) SetAttempts(n int) { e.attempts = n }
func (e *statusErr) GRPCStatus() *status.Status {
	return status.New(uhttp.GrpcCodeFromHTTPStatus(e.status), e.Error())
}

// TestExhaustedRetriesStopTheSyncerRetrying: baton-sdk's syncer retries
// Unavailable without limit, so a transient failure that outlasts the
// client's retries must leave with a code the SDK does not retry, or a sync
// against a Fullstory outage never ends.
func TestExhaustedRetriesStopTheSyncerRetrying(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer func(w http.ResponseWriter)
	}{
		{"503", func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }},
		{"429", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}},
		{"dropped connection", func(w http.ResponseWriter) { panic(http.ErrAbortHandler) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tt.answer(w) }))
			t.Cleanup(srv.Close)
			u, _ := url.Parse(srv.URL + "/x")
			for _, attempts := range []int{1, 3} {
				c, err := New(context.Background(), Options{
					HTTPClient:  srv.Client(),
					Retry:       RetryPolicy{MaxAttempts: attempts, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxRetryAfter: time.Millisecond},
					Sleep:       func(context.Context, time.Duration) error { return nil },
					DecodeError: func(op string, r Response) error { return &statusErr{status: r.Status} },
				})
				if err != nil {
					t.Fatal(err)
				}
				err = c.Do(context.Background(), Request{Op: "get", Method: http.MethodGet, URL: u}, nil)
				if err == nil {
					t.Fatalf("attempts %d: got nil error", attempts)
				}
				if got := c.Stats().Requests; got < int64(attempts) {
					t.Errorf("attempts %d: %d requests", attempts, got)
				}
				if attempts == 1 {
					// No retries of its own: the SDK's retries are left to work.
					if got := status.Code(err); got != codes.Unavailable {
						t.Errorf("one attempt: got code %v, want Unavailable", got)
					}
					continue
				}
				var exhausted *RetriesExhaustedError
				if !errors.As(err, &exhausted) || status.Code(err) != codes.Aborted {
					t.Errorf("after %d attempts: got %T with code %v, want *RetriesExhaustedError with Aborted", attempts, err, status.Code(err))
				}
				var se *statusErr
				if tt.name != "dropped connection" && (!errors.As(err, &se) || se.attempts != attempts) {
					t.Errorf("the last decoded error is lost or miscounted: %#v", se)
				}
				r := retry.NewRetryer(context.Background(), retry.RetryConfig{})
				if r.ShouldWaitAndRetry(context.Background(), err) {
					t.Errorf("baton-sdk's retryer would retry the exhausted error %q", err)
				}
			}
		})
	}
}
