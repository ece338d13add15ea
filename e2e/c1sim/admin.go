package c1sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/conductorone/baton-fullstory/simulator/conductorone"
)

// Credentials are a minted ConductorOne client, as the connector's
// BATON_CLIENT_ID and BATON_CLIENT_SECRET.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// TaskRequest is the body of POST /admin/tasks.
type TaskRequest struct {
	Type        string `json:"type"` // full_sync, create_account, delete_resource, grant, revoke
	Login       string `json:"login,omitempty"`
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// Profile is create_account's AccountInfo profile beside login, email
	// and display_name (e.g. SCIM mode's given_name and family_name).
	Profile      map[string]any `json:"profile,omitempty"`
	ResourceType string         `json:"resource_type,omitempty"`
	ResourceID   string         `json:"resource_id,omitempty"`
}

// Task statuses.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Task is a task as the admin API reports it.
type Task struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Status   string `json:"status"`
	Error    string `json:"error,omitempty"`
	Attempts int    `json:"attempts"`
	// ErrorCode is the gRPC code name a failed task finished with.
	ErrorCode string `json:"error_code,omitempty"`
	// Requeues counts hand-outs lost because heartbeats stopped.
	Requeues   int `json:"requeues"`
	Heartbeats int `json:"heartbeats"`
	// Uploads counts accepted c1z uploads for the task.
	Uploads int `json:"uploads"`
	// Response is the protojson of the response the connector finished
	// the task with, if any (an Any: "@type" plus the message's fields).
	Response json.RawMessage `json:"response,omitempty"`
}

// Create-account outcomes, as baton-sdk's CreateAccountResponse names them.
const (
	CreateSucceeded     = "success"
	CreateAlreadyExists = "alreadyExists"
)

// CreateResult is what a finished create_account task reported: the outcome
// and the account's resource id.
type CreateResult struct {
	Outcome    string // CreateSucceeded or CreateAlreadyExists
	ResourceID string
}

// CreateAccountResult decodes the response of a create_account task.
func (t Task) CreateAccountResult() (CreateResult, error) {
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(t.Response, &resp); err != nil {
		return CreateResult{}, fmt.Errorf("c1sim: task %s response %q: %w", t.ID, t.Response, err)
	}
	for _, outcome := range []string{CreateSucceeded, CreateAlreadyExists} {
		raw, ok := resp[outcome]
		if !ok {
			continue
		}
		var r struct {
			Resource struct {
				ID struct {
					Resource string `json:"resource"`
				} `json:"id"`
			} `json:"resource"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return CreateResult{}, fmt.Errorf("c1sim: task %s %s: %w", t.ID, outcome, err)
		}
		return CreateResult{Outcome: outcome, ResourceID: r.Resource.ID.Resource}, nil
	}
	return CreateResult{}, fmt.Errorf("c1sim: task %s: no create-account outcome in response %s", t.ID, t.Response)
}

// Finished reports whether the task reached a final status.
func (t Task) Finished() bool { return t.Status == StatusSucceeded || t.Status == StatusFailed }

// UploadSummary is GET /admin/tasks/{id}/upload/summary: the simulator's
// decoding of the uploaded c1z with baton-sdk's reader. These are the
// simulator library's types, which the admin API encodes.
type (
	UploadSummary = conductorone.UploadSummary
	SummaryUser   = conductorone.SummaryUser
	SummaryEmail  = conductorone.SummaryEmail
)

// MintCredentials registers a new client named name.
func (c *Container) MintCredentials(ctx context.Context, name string) (Credentials, error) {
	var out Credentials
	err := c.admin.Do(ctx, http.MethodPost, "/admin/credentials", map[string]string{"name": name}, &out)
	return out, err
}

// EnqueueTask queues a task and returns its id.
func (c *Container) EnqueueTask(ctx context.Context, t TaskRequest) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	if err := c.admin.Do(ctx, http.MethodPost, "/admin/tasks", t, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("c1sim: enqueue %s: empty task id", t.Type)
	}
	return out.ID, nil
}

// Task returns one task.
func (c *Container) Task(ctx context.Context, id string) (Task, error) {
	var out Task
	err := c.admin.Do(ctx, http.MethodGet, "/admin/tasks/"+url.PathEscape(id), nil, &out)
	return out, err
}

// Tasks lists all tasks.
func (c *Container) Tasks(ctx context.Context) ([]Task, error) {
	var out []Task
	err := c.admin.Do(ctx, http.MethodGet, "/admin/tasks", nil, &out)
	return out, err
}

// WaitTask long-polls until the task is finished or ctx ends.
func (c *Container) WaitTask(ctx context.Context, id string) (Task, error) {
	for {
		var t Task
		if err := c.admin.Do(ctx, http.MethodGet, "/admin/tasks/"+url.PathEscape(id)+"?wait=30s", nil, &t); err != nil {
			return t, err
		}
		if t.Finished() {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return t, fmt.Errorf("c1sim: wait for task %s (last status %s): %w", id, t.Status, ctx.Err())
		case <-time.After(100 * time.Millisecond): // in case the server answers before the wait ends
		}
	}
}

// Upload returns the c1z the connector uploaded for a task.
func (c *Container) Upload(ctx context.Context, id string) ([]byte, error) {
	var out []byte
	err := c.admin.Do(ctx, http.MethodGet, "/admin/tasks/"+url.PathEscape(id)+"/upload", nil, &out)
	return out, err
}

// Summary returns the simulator's decoding of a task's upload.
func (c *Container) Summary(ctx context.Context, id string) (UploadSummary, error) {
	var out UploadSummary
	err := c.admin.Do(ctx, http.MethodGet, "/admin/tasks/"+url.PathEscape(id)+"/upload/summary", nil, &out)
	return out, err
}
