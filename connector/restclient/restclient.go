// Package restclient sends JSON requests through baton-sdk's uhttp client
// with bounded retries and a bounded response size. The API clients
// (connector/fullstory, connector/scim) build on it; each brings its own
// error decoding.
package restclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/conductorone/baton-sdk/pkg/uhttp"
	"github.com/grpc-ecosystem/go-grpc-middleware/logging/zap/ctxzap"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultMaxResponseBytes bounds one response body. A page of 100 users with
// 500 properties of 8 KiB each could in theory reach ~400 MiB; real pages are
// a few hundred KiB, so 32 MiB refuses only the absurd.
const DefaultMaxResponseBytes = 32 << 20

// RetryPolicy bounds how a client retries. 429 waits for Retry-After (capped
// by MaxRetryAfter); 5xx and dropped connections back off exponentially with
// jitter; other 4xx never retry.
type RetryPolicy struct {
	MaxAttempts   int
	BaseDelay     time.Duration
	MaxDelay      time.Duration
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy rides out a minute-long rate limit or a short outage.
var DefaultRetryPolicy = RetryPolicy{
	MaxAttempts:   8,
	BaseDelay:     250 * time.Millisecond,
	MaxDelay:      15 * time.Second,
	MaxRetryAfter: 60 * time.Second,
}

// Stats counts what a client did; benchmarks and fault tests print them.
type Stats struct {
	Requests int64
	Retries  int64
}

// Response is a non-2xx answer handed to an ErrorDecoder.
type Response struct {
	Status     int
	Header     http.Header
	Body       []byte
	RetryAfter time.Duration // parsed Retry-After, zero when absent
}

// ErrorDecoder turns a non-2xx answer into the API's typed error.
type ErrorDecoder func(op string, r Response) error

// AttemptsSetter is implemented by typed errors that record how many
// requests were made before giving up.
type AttemptsSetter interface{ SetAttempts(n int) }

// Options configure a Client.
type Options struct {
	HTTPClient       *http.Client // nil: uhttp's client with logging
	Retry            RetryPolicy  // zero: DefaultRetryPolicy
	MaxResponseBytes int64        // zero: DefaultMaxResponseBytes
	Sleep            func(ctx context.Context, d time.Duration) error
	UserAgent        string
	DecodeError      ErrorDecoder
}

// Client sends requests for one API.
type Client struct {
	wrapper     *uhttp.BaseHttpClient
	retry       RetryPolicy
	sleep       func(ctx context.Context, d time.Duration) error
	decodeError ErrorDecoder

	requests atomic.Int64
	retries  atomic.Int64
}

// New builds a Client.
func New(ctx context.Context, o Options) (*Client, error) {
	if o.Retry == (RetryPolicy{}) {
		o.Retry = DefaultRetryPolicy
	}
	if o.Retry.MaxAttempts < 1 {
		o.Retry.MaxAttempts = 1
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.Sleep == nil {
		o.Sleep = sleepContext
	}
	if o.DecodeError == nil {
		return nil, errors.New("restclient: an error decoder is required")
	}
	if o.HTTPClient == nil {
		hc, err := uhttp.NewClient(ctx, uhttp.WithLogger(true, ctxzap.Extract(ctx)), uhttp.WithUserAgent(o.UserAgent))
		if err != nil {
			return nil, err
		}
		o.HTTPClient = hc
	}
	// Bound every body before uhttp reads it whole.
	limited := *o.HTTPClient
	limited.Transport = &limitTransport{next: transportOrDefault(o.HTTPClient.Transport), max: o.MaxResponseBytes}
	wrapper, err := uhttp.NewBaseHttpClientWithContext(ctx, &limited)
	if err != nil {
		return nil, err
	}
	return &Client{wrapper: wrapper, retry: o.Retry, sleep: o.Sleep, decodeError: o.DecodeError}, nil
}

// Stats returns the requests made and retries taken so far.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Retries: c.retries.Load()}
}

// Request is one logical API operation; Do may send it several times.
type Request struct {
	Op     string // what the connector is doing, for errors: "list users"
	Method string
	URL    *url.URL
	Header map[string]string
	Body   any // JSON-encoded when not nil
	// Idempotent marks a POST that may be resent after a dropped
	// connection (it carries an Idempotency-Key, or repeating it is harmless).
	Idempotent bool
	// ContentType of Body; application/json when empty.
	ContentType string
}

// Do sends the request, retrying per the policy, and decodes a 2xx JSON body
// into out (when out is not nil).
func (c *Client) Do(ctx context.Context, r Request, out any) error {
	var payload []byte
	if r.Body != nil {
		var err error
		if payload, err = json.Marshal(r.Body); err != nil {
			return fmt.Errorf("baton-fullstory: %s: encode request: %w", r.Op, err)
		}
	}
	var lastErr error
	for attempt := 1; attempt <= c.retry.MaxAttempts; attempt++ {
		if attempt > 1 {
			c.retries.Add(1)
		}
		wait, err := c.once(ctx, r, payload, out)
		if err == nil {
			return nil
		}
		lastErr = err
		var setter AttemptsSetter
		if errors.As(err, &setter) {
			setter.SetAttempts(attempt)
		}
		if wait < 0 {
			break
		}
		if attempt == c.retry.MaxAttempts {
			if attempt > 1 {
				return &RetriesExhaustedError{Err: err}
			}
			break
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		ctxzap.Extract(ctx).Debug("baton-fullstory: retrying",
			zap.String("op", r.Op), zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(err))
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("baton-fullstory: %s: %w (last error: %w)", r.Op, err, lastErr)
		}
	}
	return lastErr
}

// RetriesExhaustedError is a transient failure (429, 5xx, a dropped
// connection) that outlasted the retry policy. Error and errors.As see the
// last error; its gRPC code is one baton-sdk does not retry. The SDK's
// syncer retries Unavailable without limit, so passing the last error's
// Unavailable on would turn an outage into a sync that never ends instead
// of one that fails with the last error.
type RetriesExhaustedError struct{ Err error }

func (e *RetriesExhaustedError) Error() string { return e.Err.Error() }

func (e *RetriesExhaustedError) Unwrap() error { return e.Err }

// GRPCStatus is Aborted: ConductorOne retries the task later, the syncer
// does not retry the page.
func (e *RetriesExhaustedError) GRPCStatus() *status.Status {
	return status.New(codes.Aborted, e.Err.Error())
}

// once sends the request one time. wait < 0 means do not retry; wait == 0
// means retry after the usual backoff; wait > 0 is what the server asked for.
func (c *Client) once(ctx context.Context, r Request, payload []byte, out any) (time.Duration, error) {
	reqOpts := []uhttp.RequestOption{
		uhttp.WithAcceptJSONHeader(),
		uhttp.WithNoCache(), // syncs and provisioning must see the live state
	}
	for k, v := range r.Header {
		reqOpts = append(reqOpts, uhttp.WithHeader(k, v))
	}
	if payload != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		reqOpts = append(reqOpts, uhttp.WithBody(payload), uhttp.WithContentType(ct))
	}
	req, err := c.wrapper.NewRequest(ctx, r.Method, r.URL, reqOpts...)
	if err != nil {
		return -1, fmt.Errorf("baton-fullstory: %s: build request: %w", r.Op, err)
	}
	c.requests.Add(1)
	resp, err := c.wrapper.Do(req)
	if resp == nil || errors.Is(err, errBodyTooLarge) {
		if err == nil {
			err = errors.New("no response")
		}
		if ctx.Err() != nil || errors.Is(err, errBodyTooLarge) {
			return -1, fmt.Errorf("baton-fullstory: %s: %w", r.Op, err)
		}
		wrapped := uhttp.WrapErrors(codes.Unavailable, fmt.Sprintf("baton-fullstory: %s: connection failed", r.Op), err)
		// A dropped connection: the request may or may not have landed, so
		// only idempotent requests are sent again.
		if !r.Idempotent && (r.Method == http.MethodPost || r.Method == http.MethodPatch) {
			return -1, wrapped
		}
		return 0, wrapped
	}
	body, readErr := io.ReadAll(resp.Body)
	if readErr != nil {
		return 0, uhttp.WrapErrors(codes.Unavailable, fmt.Sprintf("baton-fullstory: %s: read response", r.Op), readErr)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			return 0, nil
		}
		// A caller that expects a body gets none from a 204: an error, not
		// an empty result (an empty user list would end a sync early).
		if err := json.Unmarshal(body, out); err != nil {
			return -1, uhttp.WrapErrors(codes.Internal,
				fmt.Sprintf("baton-fullstory: %s: the server sent a malformed response (HTTP %d, %d bytes): %v", r.Op, resp.StatusCode, len(body), err))
		}
		return 0, nil
	}

	retryAfter := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	apiErr := c.decodeError(r.Op, Response{Status: resp.StatusCode, Header: resp.Header, Body: body, RetryAfter: retryAfter})
	switch {
	case resp.StatusCode == http.StatusTooManyRequests && retryAfter > 0:
		return min(retryAfter, c.retry.MaxRetryAfter), apiErr
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return 0, apiErr
	default:
		return -1, apiErr
	}
}

// backoff is exponential with jitter over its upper half, capped by MaxDelay.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.retry.BaseDelay << min(attempt-1, 20)
	if d <= 0 || d > c.retry.MaxDelay {
		d = c.retry.MaxDelay
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // jitter needs no crypto randomness
}

// ParseRetryAfter reads delay-seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 24*3600 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Truncate shortens s to n bytes for error messages.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

var errBodyTooLarge = errors.New("response body exceeds the size limit")

// limitTransport fails a read once a body passes max bytes.
type limitTransport struct {
	next http.RoundTripper
	max  int64
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, fmt.Errorf("%w (%d bytes > %d)", errBodyTooLarge, resp.ContentLength, t.max)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte means the limit is really exceeded, not just met.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

func transportOrDefault(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		return http.DefaultTransport
	}
	return rt
}

// Option configures a client's Options.
type Option func(*Options)

// WithHTTPClient replaces the HTTP client (tests use httptest's).
func WithHTTPClient(hc *http.Client) Option {
	return func(o *Options) { o.HTTPClient = hc }
}

// WithRetryPolicy replaces DefaultRetryPolicy.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(o *Options) { o.Retry = p }
}

// WithMaxResponseBytes replaces DefaultMaxResponseBytes.
func WithMaxResponseBytes(n int64) Option {
	return func(o *Options) { o.MaxResponseBytes = n }
}

// WithSleep replaces the wait between retries (tests make it instant).
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *Options) { o.Sleep = sleep }
}
