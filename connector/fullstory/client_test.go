package fullstory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"

	"github.com/conductorone/baton-fullstory/internal/httpscript"
)

const testKey = "test-key-s3cr3t"

type step = httpscript.Step

func scriptServer(t *testing.T, steps ...step) string {
	return httpscript.Server(t, "Basic "+testKey, steps...)
}

// newTestClient returns a client whose waits are recorded, not slept.
func newTestClient(t *testing.T, baseURL string, opts ...ClientOption) (*Client, *[]time.Duration) {
	t.Helper()
	var waits []time.Duration
	opts = append([]ClientOption{
		WithHTTPClient(&http.Client{Timeout: 10 * time.Second}),
		WithSleep(func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			return ctx.Err()
		}),
	}, opts...)
	c, err := NewClient(context.Background(), baseURL, testKey, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, &waits
}

func TestListUsersSendsFiltersAndDecodesPage(t *testing.T) {
	yes := true
	base := scriptServer(t, step{
		Method: "GET", Path: "/v2/users",
		Query: "display_name=Jane+Doe&email=jane%40example.com&is_identified=true&page_token=tok-1&uid=u-1",
		Check: func(t testing.TB, r *http.Request, _ string) {
			if got := r.Header.Get("Accept"); got != "application/json" {
				t.Errorf("got Accept %q, want application/json", got)
			}
		},
		Status: 200,
		Body: `{"results":[
			{"id":"1","uid":"u-1","display_name":"Jane Doe","email":"jane@example.com","is_being_deleted":false,"properties":{"plan":"pro","seats":3,"account":12345678901234567890,"ltv":1.50}},
			{"id":"2","is_being_deleted":true}
		],"total_records":"1234","next_page_token":"tok-2"}`,
	})
	c, _ := newTestClient(t, base)
	got, err := c.ListUsers(context.Background(), ListUsersParams{UID: "u-1", Email: "jane@example.com", DisplayName: "Jane Doe", IsIdentified: &yes, PageToken: "tok-1"})
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	want := &ListUsersPage{
		Results: []User{
			{ID: "1", UID: "u-1", DisplayName: "Jane Doe", Email: "jane@example.com", Properties: map[string]any{"plan": "pro", "seats": json.Number("3"),
				"account": json.Number("12345678901234567890"), "ltv": json.Number("1.50")}},
			{ID: "2", IsBeingDeleted: true},
		},
		TotalRecords:  1234,
		NextPageToken: "tok-2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListUsers mismatch (-want +got):\n%s", diff)
	}
}

func TestListUsersLastAndEmptyPages(t *testing.T) {
	base := scriptServer(t,
		step{Method: "GET", Path: "/v2/users", Status: 200, Body: `{"results":[],"total_records":"0"}`},
		step{Method: "GET", Path: "/v2/users", Status: 200, Body: `{"total_records":7}`},
	)
	c, _ := newTestClient(t, base)
	for i, wantTotal := range []int64{0, 7} {
		got, err := c.ListUsers(context.Background(), ListUsersParams{})
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if diff := cmp.Diff(&ListUsersPage{TotalRecords: wantTotal}, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("page %d mismatch (-want +got):\n%s", i, diff)
		}
	}
}

func TestErrorsAreTypedWithGRPCCodes(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		wantErr  APIError
		wantCode codes.Code
	}{
		{"400 required field", 400, nil, `{"code":"required_field","message":"uid is required"}`,
			APIError{Status: 400, Code: "required_field", Message: "uid is required"}, codes.InvalidArgument},
		{"401", 401, nil, `{"code":"unauthorized","message":"bad key"}`,
			APIError{Status: 401, Code: "unauthorized", Message: "bad key"}, codes.Unauthenticated},
		{"403", 403, nil, `{"code":"forbidden","message":"not allowed"}`,
			APIError{Status: 403, Code: "forbidden", Message: "not allowed"}, codes.PermissionDenied},
		{"404", 404, nil, `{"code":"user_not_found","message":"no such user"}`,
			APIError{Status: 404, Code: "user_not_found", Message: "no such user"}, codes.NotFound},
		{"429", 429, map[string]string{"Retry-After": "7"}, `{"code":"too_many_requests","message":"slow down"}`,
			APIError{Status: 429, Code: "too_many_requests", Message: "slow down", RetryAfter: 7 * time.Second}, codes.Unavailable},
		{"500", 500, nil, `{"code":"server_error","message":"oops"}`,
			APIError{Status: 500, Code: "server_error", Message: "oops"}, codes.Unavailable},
		{"502 html body", 502, map[string]string{"Content-Type": "text/html"}, `<html>bad gateway</html>`,
			APIError{Status: 502, Code: "http_error", Message: "Bad Gateway"}, codes.Unavailable},
		{"409 empty body", 409, nil, ``,
			APIError{Status: 409, Code: "http_error", Message: "Conflict"}, codes.AlreadyExists},
		{"unnamed status", 561, nil, ``,
			APIError{Status: 561, Code: "http_error", Message: "HTTP 561"}, codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := scriptServer(t, step{Method: "GET", Path: "/v2/users/abc", Status: tt.status, Header: tt.header, Body: tt.body})
			c, _ := newTestClient(t, base, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
			_, err := c.GetUser(context.Background(), "abc")
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("got error %v (%T), want *APIError", err, err)
			}
			want := tt.wantErr
			want.Op, want.Attempts = "get user", 1
			if diff := cmp.Diff(want, *apiErr, cmpopts.IgnoreUnexported(APIError{})); diff != "" {
				t.Errorf("APIError mismatch (-want +got):\n%s", diff)
			}
			if got := status.Code(err); got != tt.wantCode {
				t.Errorf("got gRPC code %v, want %v", got, tt.wantCode)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q contains the API key", err)
			}
		})
	}
}

func TestRateLimitCarriesResetForTheSDK(t *testing.T) {
	base := scriptServer(t, step{Method: "GET", Path: "/v2/users", Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: `{"code":"too_many_requests","message":"x"}`})
	c, _ := newTestClient(t, base, WithRetryPolicy(RetryPolicy{MaxAttempts: 1}))
	_, err := c.ListUsers(context.Background(), ListUsersParams{})
	st, _ := status.FromError(err)
	var rl *v2.RateLimitDescription
	for _, d := range st.Details() {
		if r, ok := d.(*v2.RateLimitDescription); ok {
			rl = r
		}
	}
	if rl == nil {
		t.Fatalf("status %v carries no RateLimitDescription", st)
	}
	if until := time.Until(rl.GetResetAt().AsTime()); until < 25*time.Second || until > 31*time.Second {
		t.Errorf("got reset in %v, want about 30s", until)
	}
	if rl.GetStatus() != v2.RateLimitDescription_STATUS_OVERLIMIT {
		t.Errorf("got rate-limit status %v, want OVERLIMIT", rl.GetStatus())
	}
}

func TestRetries(t *testing.T) {
	ok := step{Method: "GET", Path: "/v2/users/u", Status: 200, Body: `{"id":"u","is_being_deleted":false}`}
	tooMany := func(ra string) step {
		return step{Method: "GET", Path: "/v2/users/u", Status: 429, Header: map[string]string{"Retry-After": ra}, Body: `{"code":"too_many_requests","message":"x"}`}
	}
	fail := step{Method: "GET", Path: "/v2/users/u", Status: 503, Body: `{"code":"server_error","message":"x"}`}
	policy := RetryPolicy{MaxAttempts: 3, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, MaxRetryAfter: 5 * time.Second}

	t.Run("429 waits for Retry-After", func(t *testing.T) {
		c, waits := newTestClient(t, scriptServer(t, tooMany("2"), ok), WithRetryPolicy(policy))
		if _, err := c.GetUser(context.Background(), "u"); err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if diff := cmp.Diff([]time.Duration{2 * time.Second}, *waits); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(Stats{Requests: 2, Retries: 1}, c.Stats()); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
	})
	t.Run("Retry-After is capped", func(t *testing.T) {
		c, waits := newTestClient(t, scriptServer(t, tooMany("3600"), ok), WithRetryPolicy(policy))
		if _, err := c.GetUser(context.Background(), "u"); err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if diff := cmp.Diff([]time.Duration{5 * time.Second}, *waits); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
	})
	t.Run("5xx backs off with jitter then succeeds", func(t *testing.T) {
		c, waits := newTestClient(t, scriptServer(t, fail, fail, ok), WithRetryPolicy(policy))
		if _, err := c.GetUser(context.Background(), "u"); err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if len(*waits) != 2 {
			t.Fatalf("got %d waits, want 2", len(*waits))
		}
		for i, w := range *waits {
			max := policy.BaseDelay << i
			if w < max/2 || w > max {
				t.Errorf("wait %d = %v, want within [%v, %v]", i, w, max/2, max)
			}
		}
	})
	t.Run("exhausted retries return the last error", func(t *testing.T) {
		c, _ := newTestClient(t, scriptServer(t, fail, fail, fail), WithRetryPolicy(policy))
		_, err := c.GetUser(context.Background(), "u")
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 503 || apiErr.Attempts != 3 {
			t.Fatalf("got %v, want a 503 APIError after 3 attempts", err)
		}
	})
	t.Run("4xx never retries", func(t *testing.T) {
		c, waits := newTestClient(t, scriptServer(t, step{Method: "GET", Path: "/v2/users/u", Status: 400, Body: `{"code":"invalid_argument","message":"x"}`}), WithRetryPolicy(policy))
		if _, err := c.GetUser(context.Background(), "u"); err == nil {
			t.Fatal("got nil error, want 400")
		}
		if len(*waits) != 0 {
			t.Errorf("got waits %v, want none", *waits)
		}
	})
	t.Run("dropped connection is retried", func(t *testing.T) {
		c, _ := newTestClient(t, scriptServer(t, step{Method: "GET", Path: "/v2/users/u", Drop: true}, ok), WithRetryPolicy(policy))
		if _, err := c.GetUser(context.Background(), "u"); err != nil {
			t.Fatalf("GetUser: %v", err)
		}
	})
	t.Run("context cancelled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		c, _ := newTestClient(t, scriptServer(t, tooMany("1")), WithRetryPolicy(policy), WithSleep(func(context.Context, time.Duration) error {
			cancel()
			return context.Canceled
		}))
		_, err := c.GetUser(ctx, "u")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
}

func TestCreateUserSendsIdempotencyKeyAndRetriesDrop(t *testing.T) {
	check := func(t testing.TB, r *http.Request, body string) {
		if got := r.Header.Get("Idempotency-Key"); got != "key-1" {
			t.Errorf("got Idempotency-Key %q, want key-1", got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("got Content-Type %q, want application/json", got)
		}
		if want := `{"uid":"u-1","display_name":"Jane","email":"jane@example.com"}`; body != want {
			t.Errorf("got body %s, want %s", body, want)
		}
	}
	base := scriptServer(t,
		step{Method: "POST", Path: "/v2/users", Check: check, Drop: true},
		step{Method: "POST", Path: "/v2/users", Check: check, Status: 200, Body: `{"id":"fs-1"}`},
	)
	c, _ := newTestClient(t, base)
	id, err := c.CreateUser(context.Background(), UserRequest{UID: "u-1", DisplayName: "Jane", Email: "jane@example.com"}, "key-1")
	if err != nil || id != "fs-1" {
		t.Fatalf("CreateUser = %q, %v; want fs-1, nil", id, err)
	}
}

func TestUpdateAndDelete(t *testing.T) {
	base := scriptServer(t,
		step{Method: "POST", Path: "/v2/users/fs%2F1", Status: 200, Body: `{"id":"fs/1"}`},
		step{Method: "DELETE", Path: "/v2/users/fs-2", Status: 200, Body: `{}`},
	)
	c, _ := newTestClient(t, base)
	if id, err := c.UpdateUser(context.Background(), "fs/1", UserRequest{DisplayName: "J"}, "k"); err != nil || id != "fs/1" {
		t.Fatalf("UpdateUser = %q, %v", id, err)
	}
	if err := c.DeleteUser(context.Background(), "fs-2"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
}

func TestMalformedAndOversizedResponses(t *testing.T) {
	t.Run("malformed JSON", func(t *testing.T) {
		c, waits := newTestClient(t, scriptServer(t, step{Method: "GET", Path: "/v2/users", Status: 200, Body: `{"results":[{"id":`}))
		_, err := c.ListUsers(context.Background(), ListUsersParams{})
		if err == nil || !strings.Contains(err.Error(), "malformed response") {
			t.Fatalf("got %v, want a malformed-response error", err)
		}
		if len(*waits) != 0 {
			t.Errorf("malformed JSON was retried: %v", *waits)
		}
	})
	t.Run("bad total_records", func(t *testing.T) {
		c, _ := newTestClient(t, scriptServer(t, step{Method: "GET", Path: "/v2/users", Status: 200, Body: `{"results":[],"total_records":"lots"}`}))
		_, err := c.ListUsers(context.Background(), ListUsersParams{})
		if err == nil || !strings.Contains(err.Error(), "total_records") {
			t.Fatalf("got %v, want a total_records error", err)
		}
	})
	t.Run("body over the bound", func(t *testing.T) {
		big := `{"results":[],"total_records":"0","next_page_token":"` + strings.Repeat("x", 4096) + `"}`
		c, waits := newTestClient(t, scriptServer(t, step{Method: "GET", Path: "/v2/users", Status: 200, Body: big}), WithMaxResponseBytes(1024))
		_, err := c.ListUsers(context.Background(), ListUsersParams{})
		if err == nil || !strings.Contains(err.Error(), "size limit") {
			t.Fatalf("got %v, want a size-limit error", err)
		}
		if len(*waits) != 0 {
			t.Errorf("oversized body was retried: %v", *waits)
		}
	})
}

func TestParseBaseURL(t *testing.T) {
	for _, tt := range []struct {
		in, want, errPart string
	}{
		{in: "https://api.fullstory.com", want: "https://api.fullstory.com"},
		{in: "https://api.eu1.fullstory.com/", want: "https://api.eu1.fullstory.com"},
		{in: "http://127.0.0.1:8089", want: "http://127.0.0.1:8089"},
		{in: "api.fullstory.com", errPart: "must start with https://"},
		{in: "https://", errPart: "has no host"},
		{in: "https://api.fullstory.com/v2", errPart: "only a scheme and host"},
		{in: "https://user:pw@api.fullstory.com", errPart: "only a scheme and host"},
		{in: "://bad", errPart: "is not a URL"},
	} {
		u, err := ParseBaseURL(tt.in)
		if tt.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("ParseBaseURL(%q) error = %v, want one containing %q", tt.in, err, tt.errPart)
			}
			continue
		}
		if err != nil || u.String() != tt.want {
			t.Errorf("ParseBaseURL(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
		}
	}
}

func ExampleAPIError() {
	err := &APIError{Op: "list users", Status: 403, Code: "forbidden", Message: "no"}
	fmt.Println(err)
	// Output: baton-fullstory: list users: Fullstory answered 403 forbidden: no: the API key lacks permission: it needs Admin or Architect permission
}
