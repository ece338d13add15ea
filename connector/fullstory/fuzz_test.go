package fullstory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fuzzKey is the API key the fuzzed client sends; no error may repeat it.
const fuzzKey = "fuzz-key-9c41d7e2"

// fuzzMaxBody is the body bound of the fuzzed client: small, so the fuzzer
// reaches the oversized-body path.
const fuzzMaxBody = 4 << 10

// answerTransport answers every request with one canned response, without
// a network, so each fuzz input costs microseconds.
type answerTransport struct {
	status        int
	header        http.Header
	body          []byte
	knownLength   bool
	requests      int
	authorization []string
}

func (a *answerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a.requests++
	a.authorization = append(a.authorization, req.Header.Get("Authorization"))
	length := int64(-1)
	if a.knownLength {
		length = int64(len(a.body))
	}
	return &http.Response{
		Status:        strconv.Itoa(a.status) + " " + http.StatusText(a.status),
		StatusCode:    a.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        a.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: length,
		Request:       req,
	}, nil
}

// FuzzResponseDecoding answers ListUsers, GetUser and CreateUser with an
// arbitrary status, Retry-After, Content-Type and body. Whatever comes back,
// the client must not panic or hang, must return exactly one of a value and
// an error, must retry only 429 and 5xx, must keep its error prefix and a
// non-OK gRPC code, must not echo the API key, and on success must hold what
// the body really says.
func FuzzResponseDecoding(f *testing.F) {
	for _, s := range []struct {
		op         uint8
		status     int
		retryAfter string
		ctype      string
		body       string
		known      bool
	}{
		{0, 200, "", "application/json", `{"results":[{"id":"1","uid":"u1","display_name":"A","email":"a@example.com","is_being_deleted":false,"properties":{"n":1}}],"total_records":"1","next_page_token":"t2"}`, true},
		{0, 200, "", "application/json", `{"results":[],"total_records":"0"}`, true},
		{0, 200, "", "application/json", `{"results":[{"id":"1"},{"id":"1"}],"total_records":2}`, false},
		{0, 200, "", "application/json", `{"results":null,"total_records":"-5"}`, true},
		{0, 200, "", "application/json", `{"total_records":"99999999999999999999"}`, true},
		{0, 200, "", "application/json", `{"results":[{"id":7}]}`, true},
		{0, 200, "", "application/json", `{"results":[`, true},
		{0, 200, "", "text/html", `<html>captive portal</html>`, false},
		{0, 200, "", "application/json", ``, true},
		{0, 200, "", "application/json", `null`, true},
		{0, 200, "", "application/json", `{"results":[{"id":"1","properties":{"deep":{"a":[1,{"b":[null,true,"x"]}]}}}]}`, false},
		{0, 200, "", "application/json", strings.Repeat(" ", fuzzMaxBody) + `{}`, false},
		{0, 429, "1", "application/json", `{"code":"too_many_requests","message":"slow down"}`, true},
		{0, 429, "Wed, 21 Oct 2099 07:28:00 GMT", "application/json", `{}`, true},
		{0, 429, "-3", "", ``, false},
		{0, 500, "", "application/json", `{"code":"server_error","message":"oops"}`, true},
		{0, 503, "2", "text/plain", `upstream connect error`, false},
		{0, 401, "", "application/json", `{"code":"unauthorized","message":"bad key"}`, true},
		{0, 403, "", "application/json", `{"code":"forbidden","message":"` + strings.Repeat("x", 600) + `"}`, true},
		{0, 404, "", "application/json", `{"code":1,"message":["not","a","string"]}`, true},
		{0, 302, "", "", ``, true},
		{1, 200, "", "application/json", `{"id":"1","uid":"u1","is_being_deleted":true,"app_url":"https://app.fullstory.com/ui/x"}`, true},
		{1, 200, "", "application/json", `{"id":"1","properties":"not an object"}`, true},
		{1, 404, "", "application/json", `{"code":"user_not_found","message":"no such user"}`, true},
		{2, 200, "", "application/json", `{"id":"new-1"}`, true},
		{2, 200, "", "application/json", `{}`, true},
		{2, 400, "", "application/json", `{"code":"invalid_argument","message":"uid is immutable"}`, true},
	} {
		f.Add(s.op, s.status, s.retryAfter, s.ctype, []byte(s.body), s.known)
	}

	// One client for the whole run, its canned answer replaced per input:
	// each uhttp client starts a cache goroutine that never ends, so a
	// client per input would pile up goroutines until fuzzing stalls.
	// Inputs run one at a time within a process.
	answer := &answerTransport{}
	var waits []time.Duration
	c, err := NewClient(context.Background(), "https://api.fullstory.test", fuzzKey,
		WithHTTPClient(&http.Client{Transport: answer}),
		WithMaxResponseBytes(fuzzMaxBody),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxRetryAfter: time.Minute}),
		WithSleep(func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }))
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, op uint8, statusCode int, retryAfter, contentType string, body []byte, knownLength bool) {
		if statusCode < 200 || statusCode > 599 {
			return
		}
		header := http.Header{}
		if retryAfter != "" {
			header.Set("Retry-After", retryAfter)
		}
		if contentType != "" {
			header.Set("Content-Type", contentType)
		}
		*answer = answerTransport{status: statusCode, header: header, body: body, knownLength: knownLength}
		waits = nil
		var err error

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var got any
		switch op % 3 {
		case 0:
			page, err2 := c.ListUsers(ctx, ListUsersParams{PageToken: "tok"})
			err = err2
			if page != nil {
				got = page
				if page.TotalRecords < 0 {
					t.Errorf("negative total_records %d", page.TotalRecords)
				}
				checkDecoded(t, body, func(b []byte) (any, error) {
					var w struct {
						Results       []User `json:"results"`
						NextPageToken string `json:"next_page_token"`
					}
					err := json.Unmarshal(b, &w)
					return w, err
				}, struct {
					Results       []User `json:"results"`
					NextPageToken string `json:"next_page_token"`
				}{page.Results, page.NextPageToken})
			}
		case 1:
			u, err2 := c.GetUser(ctx, "user/1?x")
			err = err2
			if u != nil {
				got = u
				checkDecoded(t, body, func(b []byte) (any, error) {
					var u User
					err := json.Unmarshal(b, &u)
					return u, err
				}, *u)
			}
		case 2:
			id, err2 := c.CreateUser(ctx, UserRequest{UID: "u1"}, "idem-1")
			err = err2
			if err == nil {
				got = id
				if id == "" {
					t.Errorf("CreateUser returned no error and no id")
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the call outlived its 5s context")
		}

		// Exactly one of a value and an error.
		if (got == nil) == (err == nil) {
			t.Fatalf("got value %v and error %v", got, err)
		}
		for _, a := range answer.authorization {
			if a != "Basic "+fuzzKey {
				t.Errorf("sent Authorization %q", a)
			}
		}
		retryable := statusCode == http.StatusTooManyRequests || statusCode >= 500
		if err == nil {
			if statusCode >= 300 {
				t.Errorf("HTTP %d decoded as success", statusCode)
			}
			if answer.requests != 1 {
				t.Errorf("success after %d requests, want 1", answer.requests)
			}
			if !json.Valid(body) {
				t.Errorf("a body that is not JSON decoded as success: %q", body)
			}
			return
		}

		msg := err.Error()
		if !strings.Contains(msg, "baton-fullstory: ") {
			t.Errorf("error lacks the baton-fullstory prefix: %q", msg)
		}
		if !bytes.Contains(body, []byte(fuzzKey)) && strings.Contains(msg, fuzzKey) {
			t.Errorf("error repeats the API key: %q", msg)
		}
		if code := status.Code(err); code == codes.OK {
			t.Errorf("error %q carries gRPC code OK", msg)
		}
		if statusCode < 300 {
			if answer.requests != 1 {
				t.Errorf("a 2xx that failed to decode was sent %d times, want 1", answer.requests)
			}
			return
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			if len(body) <= fuzzMaxBody {
				t.Fatalf("HTTP %d gave %T %q, want an *APIError", statusCode, err, msg)
			}
			return // the body bound tripped before decoding
		}
		// The message falls back to the status text, which is empty for
		// statuses net/http does not name (561): tolerated.
		if apiErr.Status != statusCode || apiErr.Code == "" || len(apiErr.Message) > 512+3 ||
			(apiErr.Message == "" && http.StatusText(statusCode) != "") {
			t.Errorf("APIError %+v for HTTP %d", apiErr, statusCode)
		}
		wantRequests := 1
		if retryable {
			wantRequests = 2
		}
		if answer.requests != wantRequests || apiErr.Attempts != wantRequests {
			t.Errorf("HTTP %d: %d requests, Attempts %d, want %d", statusCode, answer.requests, apiErr.Attempts, wantRequests)
		}
		if retryable {
			// Exhausted retries must leave with a code baton-sdk's syncer does not retry.
			if code := status.Code(err); code == codes.Unavailable || code == codes.DeadlineExceeded {
				t.Errorf("HTTP %d after the last attempt carries %v, which baton-sdk retries forever", statusCode, code)
			}
			if len(waits) != 1 || waits[0] < 0 || waits[0] > time.Minute {
				t.Errorf("HTTP %d: waits %v, want one wait within [0, 1m]", statusCode, waits)
			}
		}
	})
}

// checkDecoded compares what the client returned with a plain decode of the
// body (the client may only have succeeded if that decode succeeds too).
func checkDecoded(t *testing.T, body []byte, decode func([]byte) (any, error), got any) {
	t.Helper()
	want, err := decode(body)
	if err != nil {
		t.Errorf("the client decoded a body encoding/json refuses (%v): %q", err, body)
		return
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Errorf("decoded %s, the body says %s", gotJSON, wantJSON)
	}
}
