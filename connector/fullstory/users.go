package fullstory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/conductorone/baton-fullstory/connector/restclient"
)

var jsonUnmarshal = json.Unmarshal

// User is a v2 user as Fullstory returns it.
type User struct {
	ID             string     `json:"id"`
	UID            string     `json:"uid,omitempty"`
	DisplayName    string     `json:"display_name,omitempty"`
	Email          string     `json:"email,omitempty"`
	IsBeingDeleted bool       `json:"is_being_deleted"`
	Properties     Properties `json:"properties,omitempty"`
	AppURL         string     `json:"app_url,omitempty"`
}

// Properties are a user's custom properties. Numbers stay as Fullstory
// wrote them (json.Number), so re-encoding them is exact: as float64,
// 12345678901234567890 would come back as 1.2345678901234567e+19.
type Properties map[string]any

// UnmarshalJSON decodes the properties object with numbers kept as text.
func (p *Properties) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return err
	}
	*p = m
	return nil
}

// ListUsersParams are the filters of GET /v2/users. Fullstory requires the
// same filters on every page, so the caller passes them with each token.
type ListUsersParams struct {
	UID          string
	Email        string
	DisplayName  string
	IsIdentified *bool
	PageToken    string
}

func (p ListUsersParams) query() url.Values {
	q := url.Values{}
	if p.UID != "" {
		q.Set("uid", p.UID)
	}
	if p.Email != "" {
		q.Set("email", p.Email)
	}
	if p.DisplayName != "" {
		q.Set("display_name", p.DisplayName)
	}
	if p.IsIdentified != nil {
		q.Set("is_identified", strconv.FormatBool(*p.IsIdentified))
	}
	if p.PageToken != "" {
		q.Set("page_token", p.PageToken)
	}
	return q
}

// ListUsersPage is one page of GET /v2/users.
type ListUsersPage struct {
	Results       []User
	TotalRecords  int64
	NextPageToken string
}

type listUsersWire struct {
	Results       []User          `json:"results"`
	TotalRecords  json.RawMessage `json:"total_records"`
	NextPageToken string          `json:"next_page_token"`
}

// ListUsers fetches one page. An empty NextPageToken means the last page.
func (c *Client) ListUsers(ctx context.Context, p ListUsersParams) (*ListUsersPage, error) {
	var wire listUsersWire
	err := c.do(ctx, call{op: "list users", method: http.MethodGet, path: pathUsers, query: p.query()}, &wire)
	if err != nil {
		return nil, err
	}
	total, err := parseTotalRecords(wire.TotalRecords)
	if err != nil {
		return nil, fmt.Errorf("baton-fullstory: list users: %w", err)
	}
	return &ListUsersPage{Results: wire.Results, TotalRecords: total, NextPageToken: wire.NextPageToken}, nil
}

// parseTotalRecords reads Fullstory's int64-as-string, tolerating a bare number.
func parseTotalRecords(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("total_records %s is not a non-negative integer", restclient.Truncate(string(raw), 64))
	}
	return n, nil
}

// GetUser fetches one user by Fullstory id.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	if id == "" {
		return nil, errors.New("baton-fullstory: get user: the user id is empty")
	}
	var u User
	err := c.do(ctx, call{op: "get user", method: http.MethodGet, path: fmt.Sprintf(pathUser, url.PathEscape(id))}, &u)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// UserRequest is the body of POST /v2/users and POST /v2/users/{id}.
type UserRequest struct {
	UID         string         `json:"uid,omitempty"`
	DisplayName string         `json:"display_name,omitempty"`
	Email       string         `json:"email,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
}

type idWire struct {
	ID string `json:"id"`
}

// CreateUser creates a user, or updates the identified user with the same
// uid (Fullstory's semantics), and returns its id. idempotencyKey makes a
// retried request land once.
func (c *Client) CreateUser(ctx context.Context, req UserRequest, idempotencyKey string) (string, error) {
	var out idWire
	err := c.do(ctx, call{op: "create user", method: http.MethodPost, path: pathUsers, body: req, idempotencyKey: idempotencyKey}, &out)
	if err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", errors.New("baton-fullstory: create user: Fullstory answered without a user id")
	}
	return out.ID, nil
}

// UpdateUser updates the user with Fullstory id id and returns its id.
func (c *Client) UpdateUser(ctx context.Context, id string, req UserRequest, idempotencyKey string) (string, error) {
	if id == "" {
		return "", errors.New("baton-fullstory: update user: the user id is empty")
	}
	var out idWire
	err := c.do(ctx, call{op: "update user", method: http.MethodPost, path: fmt.Sprintf(pathUser, url.PathEscape(id)), body: req, idempotencyKey: idempotencyKey}, &out)
	if err != nil {
		return "", err
	}
	return out.ID, nil
}

// DeleteUser starts Fullstory's asynchronous deletion of a user and its data.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("baton-fullstory: delete user: the user id is empty")
	}
	return c.do(ctx, call{op: "delete user", method: http.MethodDelete, path: fmt.Sprintf(pathUser, url.PathEscape(id))}, nil)
}
