// Package fullstory is a typed client for Fullstory's v2 Users API. It is the
// only code in the connector that speaks HTTP to Fullstory.
package fullstory

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
)

// DefaultBaseURL is Fullstory's public API.
const DefaultBaseURL = "https://api.fullstory.com"

// Paths of the v2 Users API, in one place.
const (
	pathUsers = "/v2/users"
	pathUser  = "/v2/users/%s"
)

// DefaultMaxResponseBytes bounds one response body. A page of 100 users with
// 500 properties of 8 KiB each could in theory reach ~400 MiB; real pages are
// a few hundred KiB, so 32 MiB refuses only the absurd.
const DefaultMaxResponseBytes = 32 << 20

// RetryPolicy bounds how the client retries. 429 waits for Retry-After (capped
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

// Stats counts what the client did; benchmarks and fault tests print them.
type Stats struct {
	Requests int64
	Retries  int64
}

// Client talks to one Fullstory account with one API key.
type Client struct {
	baseURL      *url.URL
	apiKey       string
	httpClient   *http.Client
	wrapper      *uhttp.BaseHttpClient
	retry        RetryPolicy
	maxBodyBytes int64
	sleep        func(ctx context.Context, d time.Duration) error
	now          func() time.Time

	requests atomic.Int64
	retries  atomic.Int64
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient replaces the HTTP client (tests use httptest's).
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *Client) { c.httpClient = hc }
}

// WithRetryPolicy replaces DefaultRetryPolicy.
func WithRetryPolicy(p RetryPolicy) ClientOption {
	return func(c *Client) { c.retry = p }
}

// WithMaxResponseBytes replaces DefaultMaxResponseBytes.
func WithMaxResponseBytes(n int64) ClientOption {
	return func(c *Client) { c.maxBodyBytes = n }
}

// WithSleep replaces the wait between retries (tests make it instant).
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) ClientOption {
	return func(c *Client) { c.sleep = sleep }
}

// NewClient returns a client for baseURL (scheme and host, no path) that
// authenticates with apiKey.
func NewClient(ctx context.Context, baseURL, apiKey string, opts ...ClientOption) (*Client, error) {
	if apiKey == "" {
		return nil, errors.New("baton-fullstory: new client: the API key is empty")
	}
	u, err := ParseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		baseURL:      u,
		apiKey:       apiKey,
		retry:        DefaultRetryPolicy,
		maxBodyBytes: DefaultMaxResponseBytes,
		sleep:        sleepContext,
		now:          time.Now,
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.httpClient == nil {
		hc, err := uhttp.NewClient(ctx, uhttp.WithLogger(true, ctxzap.Extract(ctx)), uhttp.WithUserAgent("baton-fullstory"))
		if err != nil {
			return nil, fmt.Errorf("baton-fullstory: new client: %w", err)
		}
		c.httpClient = hc
	}
	if c.retry.MaxAttempts < 1 {
		c.retry.MaxAttempts = 1
	}
	// Bound every body before uhttp reads it whole.
	limited := *c.httpClient
	limited.Transport = &limitTransport{next: transportOrDefault(c.httpClient.Transport), max: c.maxBodyBytes}
	c.wrapper, err = uhttp.NewBaseHttpClientWithContext(ctx, &limited)
	if err != nil {
		return nil, fmt.Errorf("baton-fullstory: new client: %w", err)
	}
	return c, nil
}

// ParseBaseURL checks that raw is an absolute http(s) URL with a host and no
// path beyond "/", and returns it without a trailing slash.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("baton-fullstory: base URL %q is not a URL: %w", raw, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("baton-fullstory: base URL %q must start with https:// (for example %s)", raw, DefaultBaseURL)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("baton-fullstory: base URL %q has no host (for example %s)", raw, DefaultBaseURL)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("baton-fullstory: base URL %q must be only a scheme and host, like %s", raw, DefaultBaseURL)
	}
	u.Path = ""
	return u, nil
}

// Stats returns the requests made and retries taken so far.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Retries: c.retries.Load()}
}

// call is one logical API operation; do may send it several times.
type call struct {
	op             string
	method         string
	path           string
	query          url.Values
	body           any
	idempotencyKey string
}

// do sends the call, retrying per the policy, and decodes a 2xx body into out.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	u := *c.baseURL
	u.Path = cl.path
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("baton-fullstory: %s: encode request: %w", cl.op, err)
		}
	}

	var lastErr error
	for attempt := 1; attempt <= c.retry.MaxAttempts; attempt++ {
		if attempt > 1 {
			c.retries.Add(1)
		}
		wait, err := c.once(ctx, cl, &u, payload, out)
		if err == nil {
			return nil
		}
		lastErr = err
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			apiErr.Attempts = attempt
		}
		if wait < 0 || attempt == c.retry.MaxAttempts {
			break
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		ctxzap.Extract(ctx).Debug("baton-fullstory: retrying",
			zap.String("op", cl.op), zap.Int("attempt", attempt), zap.Duration("wait", wait), zap.Error(err))
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("baton-fullstory: %s: %w (last error: %w)", cl.op, err, lastErr)
		}
	}
	return lastErr
}

// once sends the call one time. wait < 0 means do not retry; wait == 0 means
// retry after the usual backoff; wait > 0 is what the server asked for.
func (c *Client) once(ctx context.Context, cl call, u *url.URL, payload []byte, out any) (time.Duration, error) {
	reqOpts := []uhttp.RequestOption{
		uhttp.WithHeader("Authorization", "Basic "+c.apiKey),
		uhttp.WithAcceptJSONHeader(),
		uhttp.WithNoCache(), // syncs and provisioning must see the live state
	}
	if payload != nil {
		reqOpts = append(reqOpts, uhttp.WithBody(payload), uhttp.WithContentTypeJSONHeader())
	}
	if cl.idempotencyKey != "" {
		reqOpts = append(reqOpts, uhttp.WithHeader("Idempotency-Key", cl.idempotencyKey))
	}
	req, err := c.wrapper.NewRequest(ctx, cl.method, u, reqOpts...)
	if err != nil {
		return -1, fmt.Errorf("baton-fullstory: %s: build request: %w", cl.op, err)
	}
	c.requests.Add(1)
	resp, err := c.wrapper.Do(req)
	if resp == nil || errors.Is(err, errBodyTooLarge) {
		if err == nil {
			err = errors.New("no response")
		}
		if ctx.Err() != nil || errors.Is(err, errBodyTooLarge) {
			return -1, fmt.Errorf("baton-fullstory: %s: %w", cl.op, err)
		}
		// A dropped connection: the request may or may not have landed, so
		// only idempotent requests are sent again.
		if cl.method == http.MethodPost && cl.idempotencyKey == "" {
			return -1, uhttp.WrapErrors(codes.Unavailable, fmt.Sprintf("baton-fullstory: %s: connection failed", cl.op), err)
		}
		return 0, uhttp.WrapErrors(codes.Unavailable, fmt.Sprintf("baton-fullstory: %s: connection failed", cl.op), err)
	}
	body, readErr := io.ReadAll(resp.Body)
	if readErr != nil {
		return 0, uhttp.WrapErrors(codes.Unavailable, fmt.Sprintf("baton-fullstory: %s: read response", cl.op), readErr)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil {
			return 0, nil
		}
		if err := json.Unmarshal(body, out); err != nil {
			return -1, uhttp.WrapErrors(codes.Internal,
				fmt.Sprintf("baton-fullstory: %s: Fullstory sent a malformed response (HTTP %d, %d bytes): %v", cl.op, resp.StatusCode, len(body), err))
		}
		return 0, nil
	}

	apiErr := c.decodeError(cl.op, resp, body)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if apiErr.RetryAfter > 0 {
			return min(apiErr.RetryAfter, c.retry.MaxRetryAfter), apiErr
		}
		return 0, apiErr
	case resp.StatusCode >= 500:
		return 0, apiErr
	default:
		return -1, apiErr
	}
}

// decodeError turns a non-2xx answer into an *APIError, keeping what it can
// when the body is not Fullstory's JSON.
func (c *Client) decodeError(op string, resp *http.Response, body []byte) *APIError {
	apiErr := &APIError{Op: op, Status: resp.StatusCode}
	var wire struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &wire); err == nil {
		apiErr.Code, apiErr.Message = wire.Code, wire.Message
	}
	if apiErr.Code == "" {
		apiErr.Code = codeUnknownHTTPError
	}
	if apiErr.Message == "" {
		apiErr.Message = http.StatusText(resp.StatusCode)
	}
	apiErr.Message = truncate(apiErr.Message, 512)
	if ra := parseRetryAfter(resp.Header.Get("Retry-After"), c.now()); ra > 0 {
		apiErr.RetryAfter = ra
		apiErr.resetAt = c.now().Add(ra)
	} else if resp.StatusCode == http.StatusTooManyRequests {
		apiErr.resetAt = c.now().Add(time.Second)
	}
	return apiErr
}

// backoff is exponential with full jitter, capped by MaxDelay.
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

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
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
