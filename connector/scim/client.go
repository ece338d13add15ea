// Package scim is a typed client for Fullstory's SCIM 2.0 API, through which
// Fullstory's teammates (the people who log in to Fullstory) are managed.
package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/conductorone/baton-fullstory/connector/restclient"
	"github.com/conductorone/baton-sdk/pkg/uhttp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultBaseURL is Fullstory's SCIM endpoint.
const DefaultBaseURL = "https://app.fullstory.com/scim/v2"

// SCIM schema URNs.
const (
	SchemaUser         = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError        = "urn:ietf:params:scim:api:messages:2.0:Error"
	contentType        = "application/scim+json"
)

// User is a SCIM User, a Fullstory teammate.
type User struct {
	Schemas     []string `json:"schemas,omitempty"`
	ID          string   `json:"id,omitempty"`
	ExternalID  string   `json:"externalId,omitempty"`
	UserName    string   `json:"userName"`
	Name        *Name    `json:"name,omitempty"`
	DisplayName string   `json:"displayName,omitempty"`
	Emails      []Email  `json:"emails,omitempty"`
	Active      *bool    `json:"active,omitempty"`
}

// IsActive treats a missing active attribute as active, as SCIM does.
func (u *User) IsActive() bool { return u.Active == nil || *u.Active }

// Name is a SCIM user's name.
type Name struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// Email is one of a SCIM user's email addresses.
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// ListResponse is one page of GET /Users.
type ListResponse struct {
	TotalResults int    `json:"totalResults"`
	StartIndex   int    `json:"startIndex"`
	ItemsPerPage int    `json:"itemsPerPage"`
	Resources    []User `json:"Resources"`
}

// APIError is a non-2xx SCIM answer, decoded from SCIM's error schema.
type APIError struct {
	Status     int
	SCIMType   string
	Detail     string
	RetryAfter time.Duration
	Op         string
	Attempts   int
	resetAt    time.Time
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("baton-fullstory: scim %s: Fullstory answered %d", e.Op, e.Status)
	if e.SCIMType != "" {
		s += " " + e.SCIMType
	}
	s += ": " + e.Detail
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	switch e.Status {
	case http.StatusUnauthorized:
		s += ": Fullstory rejected the SCIM token: check --scim-token (BATON_SCIM_TOKEN)"
	case http.StatusForbidden:
		s += ": the SCIM token may not do this; generate one under Settings > Account Management > SSO"
	}
	return s
}

// SetAttempts records how many requests were made before giving up.
func (e *APIError) SetAttempts(n int) { e.Attempts = n }

// GRPCStatus maps the HTTP status like uhttp; a 429 carries its reset time.
func (e *APIError) GRPCStatus() *status.Status {
	return restclient.Status(e.Status, e.Error(), e.resetAt)
}

// IsNotFound reports whether err is a SCIM 404.
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// IsConflict reports whether err is a SCIM 409 (uniqueness).
func IsConflict(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict
}

// Client talks to one Fullstory account's SCIM API with one bearer token.
type Client struct {
	base  *url.URL
	token string
	rest  *restclient.Client
}

// NewClient returns a client for baseURL (for example DefaultBaseURL).
func NewClient(ctx context.Context, baseURL, token string, opts ...restclient.Option) (*Client, error) {
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("baton-fullstory: new scim client: the SCIM token is empty")
	}
	u, err := ParseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: u, token: strings.TrimSpace(token)}
	o := restclient.Options{UserAgent: "baton-fullstory", DecodeError: c.decodeError}
	for _, opt := range opts {
		opt(&o)
	}
	if c.rest, err = restclient.New(ctx, o); err != nil {
		return nil, fmt.Errorf("baton-fullstory: new scim client: %w", err)
	}
	return c, nil
}

// ParseBaseURL checks that raw is an absolute http(s) URL; a path such as
// /scim/v2 is kept, without its trailing slash.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("baton-fullstory: SCIM base URL %q is not a URL: %w", raw, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("baton-fullstory: SCIM base URL %q must start with https:// (for example %s)", raw, DefaultBaseURL)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("baton-fullstory: SCIM base URL %q has no host (for example %s)", raw, DefaultBaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("baton-fullstory: SCIM base URL %q must be a scheme, host and path only, like %s", raw, DefaultBaseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// Stats returns the requests made and retries taken so far.
func (c *Client) Stats() restclient.Stats { return c.rest.Stats() }

func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	u := *c.base
	u.Path = c.base.Path + path
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	return c.rest.Do(ctx, restclient.Request{
		Op:          op,
		Method:      method,
		URL:         &u,
		Header:      map[string]string{"Authorization": "Bearer " + c.token, "Accept": contentType + ", application/json"},
		Body:        body,
		ContentType: contentType,
		// PATCH of active is idempotent; a create is not, so a dropped
		// create is reported rather than sent twice.
		Idempotent: method == http.MethodPatch,
	}, out)
}

func (c *Client) decodeError(op string, r restclient.Response) error {
	apiErr := &APIError{Op: op, Status: r.Status, RetryAfter: r.RetryAfter, resetAt: r.ResetAt(time.Now())}
	var wire struct {
		Status   json.RawMessage `json:"status"`
		SCIMType string          `json:"scimType"`
		Detail   string          `json:"detail"`
	}
	if err := json.Unmarshal(r.Body, &wire); err == nil {
		apiErr.SCIMType, apiErr.Detail = wire.SCIMType, wire.Detail
	}
	if apiErr.Detail == "" {
		apiErr.Detail = http.StatusText(r.Status)
	}
	if apiErr.Detail == "" {
		apiErr.Detail = fmt.Sprintf("HTTP %d", r.Status)
	}
	apiErr.Detail = restclient.Truncate(apiErr.Detail, 512)
	return apiErr
}

// ListUsers fetches one page: startIndex is 1-based, count is what is
// asked for (a server may return fewer).
func (c *Client) ListUsers(ctx context.Context, startIndex, count int) (*ListResponse, error) {
	q := url.Values{"startIndex": {strconv.Itoa(startIndex)}, "count": {strconv.Itoa(count)}}
	var out ListResponse
	if err := c.do(ctx, "list users", http.MethodGet, "/Users", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FindByUserName returns the user with userName (compared case-insensitively,
// as SCIM's userName is), or nil.
func (c *Client) FindByUserName(ctx context.Context, userName string) (*User, error) {
	q := url.Values{"filter": {fmt.Sprintf("userName eq %s", strconv.Quote(userName))}}
	var out ListResponse
	if err := c.do(ctx, "find user", http.MethodGet, "/Users", q, nil, &out); err != nil {
		return nil, err
	}
	for i := range out.Resources {
		if strings.EqualFold(out.Resources[i].UserName, userName) {
			return &out.Resources[i], nil
		}
	}
	return nil, nil
}

// GetUser fetches one user by SCIM id.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	if id == "" {
		return nil, errors.New("baton-fullstory: scim get user: the id is empty")
	}
	var out User
	if err := c.do(ctx, "get user", http.MethodGet, "/Users/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateUser posts a new user and returns it as created.
func (c *Client) CreateUser(ctx context.Context, u User) (*User, error) {
	u.Schemas = []string{SchemaUser}
	var out User
	if err := c.do(ctx, "create user", http.MethodPost, "/Users", nil, u, &out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, uhttp.WrapErrors(codes.Internal, "baton-fullstory: scim create user: Fullstory answered without a user id")
	}
	return &out, nil
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

// SetActive activates or deactivates a user with a PATCH.
func (c *Client) SetActive(ctx context.Context, id string, active bool) error {
	if id == "" {
		return errors.New("baton-fullstory: scim set active: the id is empty")
	}
	body := patchRequest{Schemas: []string{SchemaPatchOp}, Operations: []patchOp{{Op: "replace", Path: "active", Value: active}}}
	op := "deactivate user"
	if active {
		op = "reactivate user"
	}
	return c.do(ctx, op, http.MethodPatch, "/Users/"+url.PathEscape(id), nil, body, nil)
}
