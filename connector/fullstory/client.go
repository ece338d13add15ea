// Package fullstory is a typed client for Fullstory's v2 Users API. It is the
// only code in the connector that speaks HTTP to Fullstory.
package fullstory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/conductorone/baton-fullstory/connector/restclient"
)

// DefaultBaseURL is Fullstory's public API.
const DefaultBaseURL = "https://api.fullstory.com"

// Paths of the v2 Users API, in one place.
const (
	pathUsers = "/v2/users"
	pathUser  = "/v2/users/%s"
)

// DefaultMaxResponseBytes bounds one response body.
const DefaultMaxResponseBytes = restclient.DefaultMaxResponseBytes

// RetryPolicy bounds how the client retries (see restclient.RetryPolicy).
type RetryPolicy = restclient.RetryPolicy

// DefaultRetryPolicy rides out a minute-long rate limit or a short outage.
var DefaultRetryPolicy = restclient.DefaultRetryPolicy

// Stats counts what the client did; benchmarks and fault tests print them.
type Stats = restclient.Stats

// Client talks to one Fullstory account with one API key.
type Client struct {
	baseURL *url.URL
	apiKey  string
	rest    *restclient.Client
	now     func() time.Time
}

// ClientOption configures a Client.
type ClientOption = restclient.Option

// Options shared with every client built on restclient.
var (
	WithHTTPClient       = restclient.WithHTTPClient
	WithRetryPolicy      = restclient.WithRetryPolicy
	WithMaxResponseBytes = restclient.WithMaxResponseBytes
	WithSleep            = restclient.WithSleep
)

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
	c := &Client{baseURL: u, apiKey: apiKey, now: time.Now}
	o := restclient.Options{UserAgent: "baton-fullstory", DecodeError: c.decodeError}
	for _, opt := range opts {
		opt(&o)
	}
	if c.rest, err = restclient.New(ctx, o); err != nil {
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
func (c *Client) Stats() Stats { return c.rest.Stats() }

// call is one logical API operation.
type call struct {
	op             string
	method         string
	path           string
	query          url.Values
	body           any
	idempotencyKey string
}

// do sends the call with the API key and decodes a 2xx body into out.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	u := *c.baseURL
	u.Path = cl.path
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	header := map[string]string{"Authorization": "Basic " + c.apiKey}
	if cl.idempotencyKey != "" {
		header["Idempotency-Key"] = cl.idempotencyKey
	}
	return c.rest.Do(ctx, restclient.Request{
		Op:         cl.op,
		Method:     cl.method,
		URL:        &u,
		Header:     header,
		Body:       cl.body,
		Idempotent: cl.idempotencyKey != "",
	}, out)
}

// decodeError turns a non-2xx answer into an *APIError, keeping what it can
// when the body is not Fullstory's JSON.
func (c *Client) decodeError(op string, r restclient.Response) error {
	apiErr := &APIError{Op: op, Status: r.Status, RetryAfter: r.RetryAfter, resetAt: r.ResetAt(c.now())}
	var wire struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := jsonUnmarshal(r.Body, &wire); err == nil {
		apiErr.Code, apiErr.Message = wire.Code, wire.Message
	}
	if apiErr.Code == "" {
		apiErr.Code = codeUnknownHTTPError
	}
	if apiErr.Message == "" {
		apiErr.Message = http.StatusText(r.Status)
	}
	if apiErr.Message == "" {
		apiErr.Message = fmt.Sprintf("HTTP %d", r.Status)
	}
	apiErr.Message = restclient.Truncate(apiErr.Message, 512)
	return apiErr
}
