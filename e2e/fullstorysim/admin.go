package fullstorysim

import (
	"context"
	"net/http"
)

// User is a Fullstory v2 user as the simulator's admin dump shows it.
type User struct {
	ID             string         `json:"id"`
	UID            string         `json:"uid,omitempty"`
	DisplayName    string         `json:"display_name,omitempty"`
	Email          string         `json:"email,omitempty"`
	Properties     map[string]any `json:"properties,omitempty"`
	IsBeingDeleted bool           `json:"is_being_deleted"`
}

// Identified reports whether the user has a uid (an identified user).
func (u User) Identified() bool { return u.UID != "" }

// Faults are the simulator's switchable faults.
type Faults struct {
	LatencyMS    int64   `json:"latency_ms"`
	RateLimitRPS int     `json:"rate_limit_rps"`
	ErrorRate    float64 `json:"error_rate"`
	DropRate     float64 `json:"drop_rate"`
}

// Request is one entry of the simulator's request log.
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  any    `json:"query"`
	Status int    `json:"status"`
}

// Seed is the body of POST /_simulator/seed.
type Seed struct {
	Users          int    `json:"users,omitempty"`
	AnonymousUsers int    `json:"anonymous_users,omitempty"`
	Seed           int64  `json:"seed,omitempty"`
	Records        []User `json:"records,omitempty"`
}

// Users dumps the store, sorted by ID.
func (c *Container) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := c.admin.Do(ctx, http.MethodGet, "/_simulator/users", nil, &out)
	return out, err
}

// Reset empties the store.
func (c *Container) Reset(ctx context.Context) error {
	return c.admin.Do(ctx, http.MethodPost, "/_simulator/reset", nil, nil)
}

// SeedUsers adds users.
func (c *Container) SeedUsers(ctx context.Context, s Seed) error {
	return c.admin.Do(ctx, http.MethodPost, "/_simulator/seed", s, nil)
}

// SetFaults replaces the faults.
func (c *Container) SetFaults(ctx context.Context, f Faults) error {
	return c.admin.Do(ctx, http.MethodPut, "/_simulator/faults", f, nil)
}

// Requests returns the request log.
func (c *Container) Requests(ctx context.Context) ([]Request, error) {
	var out []Request
	err := c.admin.Do(ctx, http.MethodGet, "/_simulator/requests", nil, &out)
	return out, err
}

// ClearRequests empties the request log.
func (c *Container) ClearRequests(ctx context.Context) error {
	return c.admin.Do(ctx, http.MethodDelete, "/_simulator/requests", nil, nil)
}
