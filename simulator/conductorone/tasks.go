package conductorone

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"google.golang.org/protobuf/types/known/structpb"
)

// TaskType names a kind of task the admin API can enqueue.
type TaskType string

const (
	TaskFullSync       TaskType = "full_sync"
	TaskCreateAccount  TaskType = "create_account"
	TaskDeleteResource TaskType = "delete_resource"
	TaskGrant          TaskType = "grant"
	TaskRevoke         TaskType = "revoke"
)

// TaskStatus is where a task is in its life.
type TaskStatus string

const (
	StatusPending   TaskStatus = "pending"
	StatusRunning   TaskStatus = "running"
	StatusSucceeded TaskStatus = "succeeded"
	StatusFailed    TaskStatus = "failed"
)

// Finished reports whether the status is terminal.
func (st TaskStatus) Finished() bool { return st == StatusSucceeded || st == StatusFailed }

// TaskSpec is what the admin API accepts on POST /admin/tasks. Which fields
// matter depends on Type.
type TaskSpec struct {
	Type TaskType `json:"type"`

	// full_sync
	SkipEntitlementsAndGrants bool `json:"skip_entitlements_and_grants,omitempty"`

	// create_account: AccountInfo{login, primary email, profile{display_name,...}}.
	Login          string         `json:"login,omitempty"`
	Email          string         `json:"email,omitempty"`
	DisplayName    string         `json:"display_name,omitempty"`
	Profile        map[string]any `json:"profile,omitempty"`
	ResourceTypeID string         `json:"resource_type_id,omitempty"`

	// delete_resource (and the principal/entitlement of grant/revoke).
	ResourceType       string `json:"resource_type,omitempty"`
	ResourceID         string `json:"resource_id,omitempty"`
	ParentResourceType string `json:"parent_resource_type,omitempty"`
	ParentResourceID   string `json:"parent_resource_id,omitempty"`

	// grant / revoke
	EntitlementID           string `json:"entitlement_id,omitempty"`
	EntitlementResourceType string `json:"entitlement_resource_type,omitempty"`
	EntitlementResourceID   string `json:"entitlement_resource_id,omitempty"`
	PrincipalType           string `json:"principal_type,omitempty"`
	PrincipalID             string `json:"principal_id,omitempty"`
	GrantID                 string `json:"grant_id,omitempty"`
}

// TaskView is a task as the admin API shows it.
type TaskView struct {
	ID       string     `json:"id"`
	Type     TaskType   `json:"type"`
	Status   TaskStatus `json:"status"`
	Error    string     `json:"error"`
	Attempts int        `json:"attempts"`

	// ErrorCode is the gRPC code name the connector finished with, when it failed.
	ErrorCode    string `json:"error_code,omitempty"`
	NonRetryable bool   `json:"non_retryable,omitempty"`
	// Response is the protojson of the response the connector reported, if any.
	Response json.RawMessage `json:"response,omitempty"`
	// Requeues counts how often the task went back to pending because its heartbeats stopped.
	Requeues   int    `json:"requeues"`
	Heartbeats int    `json:"heartbeats"`
	HostID     string `json:"host_id,omitempty"`
	ClientID   string `json:"client_id,omitempty"`
	// Uploads counts accepted c1z uploads; only the latest is kept.
	Uploads      int    `json:"uploads"`
	UploadBytes  int    `json:"upload_bytes,omitempty"`
	UploadSHA256 string `json:"upload_sha256,omitempty"`
	// OtherAssets counts accepted uploads that were not c1z files (debug logs).
	OtherAssets int `json:"other_assets,omitempty"`

	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	LastHeartbeatAt *time.Time `json:"last_heartbeat_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`

	Spec TaskSpec `json:"spec"`
}

type task struct {
	id       string
	spec     TaskSpec
	status   TaskStatus
	attempts int
	requeues int

	errMsg       string
	errCode      string
	nonRetryable bool
	response     json.RawMessage

	hostID     string
	clientID   string
	heartbeats int

	createdAt     time.Time
	startedAt     time.Time
	lastHeartbeat time.Time
	finishedAt    time.Time
	leaseUntil    time.Time

	upload       []byte
	uploadSHA256 string
	uploads      int
	otherAssets  int
	otherAsset   []byte
	summary      *UploadSummary
}

func (t *task) view() TaskView {
	v := TaskView{
		ID: t.id, Type: t.spec.Type, Status: t.status, Error: t.errMsg, Attempts: t.attempts,
		ErrorCode: t.errCode, NonRetryable: t.nonRetryable, Response: t.response,
		Requeues: t.requeues, Heartbeats: t.heartbeats, HostID: t.hostID, ClientID: t.clientID,
		Uploads: t.uploads, UploadBytes: len(t.upload), UploadSHA256: t.uploadSHA256, OtherAssets: t.otherAssets,
		CreatedAt: t.createdAt, StartedAt: timePtr(t.startedAt), LastHeartbeatAt: timePtr(t.lastHeartbeat),
		FinishedAt: timePtr(t.finishedAt), Spec: t.spec,
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// EnqueueTask validates spec, queues it as pending and returns its id.
func (s *Server) EnqueueTask(spec TaskSpec) (string, error) {
	if _, err := buildTaskProto("x", spec); err != nil {
		return "", err
	}
	id, err := newTaskID()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.tasks[id] = &task{id: id, spec: spec, status: StatusPending, createdAt: s.now()}
	s.order = append(s.order, id)
	s.changedLocked()
	s.mu.Unlock()
	s.save()
	s.logger.Info("task enqueued", "task_id", id, "type", spec.Type)
	return id, nil
}

// Task returns one task.
func (s *Server) Task(id string) (TaskView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reapLocked()
	t, ok := s.tasks[id]
	if !ok {
		return TaskView{}, false
	}
	return t.view(), true
}

// Tasks lists all tasks, oldest first.
func (s *Server) Tasks() []TaskView {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reapLocked()
	out := make([]TaskView, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.tasks[id].view())
	}
	return out
}

// WaitTask blocks until the task has finished (succeeded or failed) or ctx ends.
// On ctx's end it returns the task's current view along with ctx's error.
func (s *Server) WaitTask(ctx context.Context, id string) (TaskView, error) {
	for {
		s.mu.Lock()
		s.reapLocked()
		t, ok := s.tasks[id]
		if !ok {
			s.mu.Unlock()
			return TaskView{}, fmt.Errorf("%w: task %q", ErrNotFound, id)
		}
		v := t.view()
		ch := s.changed
		s.mu.Unlock()
		if v.Status.Finished() {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-ch:
		}
	}
}

// Upload returns the c1z the connector uploaded for a task.
func (s *Server) Upload(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	if !ok || t.upload == nil {
		return nil, false
	}
	return slices.Clone(t.upload), true
}

// reapLocked re-queues running tasks whose lease (last hand-out or heartbeat
// plus the heartbeat timeout) has run out. s.mu must be held.
func (s *Server) reapLocked() {
	now := s.now()
	changed := false
	for _, id := range s.order {
		t := s.tasks[id]
		if t.status == StatusRunning && now.After(t.leaseUntil) {
			t.status = StatusPending
			t.requeues++
			changed = true
			s.logger.Warn("task re-queued: heartbeats stopped", "task_id", t.id, "attempts", t.attempts)
		}
	}
	if changed {
		s.changedLocked()
	}
}

// claimTasks hands out up to n pending tasks, oldest first, skipping known ids.
func (s *Server) claimTasks(clientID, hostID string, n int, known []string) ([]*v1.Task, error) {
	s.mu.Lock()
	s.reapLocked()
	now := s.now()
	var out []*v1.Task
	for _, id := range s.order {
		if len(out) >= n {
			break
		}
		t := s.tasks[id]
		if t.status != StatusPending || slices.Contains(known, id) {
			continue
		}
		pb, err := buildTaskProto(t.id, t.spec)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		pb.SetStatus(v1.Task_STATUS_RUNNING)
		t.status = StatusRunning
		t.attempts++
		t.hostID = hostID
		t.clientID = clientID
		t.startedAt = now
		t.leaseUntil = now.Add(s.opts.heartbeatTimeout)
		out = append(out, pb)
		s.logger.Info("task handed out", "task_id", t.id, "type", t.spec.Type, "attempt", t.attempts, "host_id", hostID)
	}
	if len(out) > 0 {
		s.changedLocked()
	}
	s.mu.Unlock()
	if len(out) > 0 {
		s.save()
	}
	return out, nil
}

// buildTaskProto validates spec and builds the task the SDK will receive.
func buildTaskProto(id string, spec TaskSpec) (*v1.Task, error) {
	b := v1.Task_builder{Id: id, Status: v1.Task_STATUS_PENDING}
	switch spec.Type {
	case TaskFullSync:
		b.SyncFull = v1.Task_SyncFullTask_builder{SkipEntitlementsAndGrants: spec.SkipEntitlementsAndGrants}.Build()
	case TaskCreateAccount:
		if spec.Login == "" && spec.Email == "" {
			return nil, fmt.Errorf("%w: create_account needs a login or an email", ErrInvalidRequest)
		}
		profile := map[string]any{}
		for k, v := range spec.Profile {
			profile[k] = v
		}
		for k, v := range map[string]string{"login": spec.Login, "email": spec.Email, "display_name": spec.DisplayName} {
			if v != "" {
				profile[k] = v
			}
		}
		ps, err := structpb.NewStruct(profile)
		if err != nil {
			return nil, fmt.Errorf("%w: create_account profile: %v", ErrInvalidRequest, err)
		}
		ai := v2.AccountInfo_builder{Login: spec.Login, Profile: ps}
		if spec.Email != "" {
			ai.Emails = []*v2.AccountInfo_Email{v2.AccountInfo_Email_builder{Address: spec.Email, IsPrimary: true}.Build()}
		}
		b.CreateAccount = v1.Task_CreateAccountTask_builder{
			AccountInfo:       ai.Build(),
			CredentialOptions: v2.CredentialOptions_builder{NoPassword: &v2.CredentialOptions_NoPassword{}}.Build(),
			ResourceTypeId:    spec.ResourceTypeID,
		}.Build()
	case TaskDeleteResource:
		if spec.ResourceType == "" || spec.ResourceID == "" {
			return nil, fmt.Errorf("%w: delete_resource needs resource_type and resource_id", ErrInvalidRequest)
		}
		d := v1.Task_DeleteResourceTask_builder{ResourceId: resourceID(spec.ResourceType, spec.ResourceID)}
		if spec.ParentResourceType != "" || spec.ParentResourceID != "" {
			if spec.ParentResourceType == "" || spec.ParentResourceID == "" {
				return nil, fmt.Errorf("%w: parent_resource_type and parent_resource_id go together", ErrInvalidRequest)
			}
			d.ParentResourceId = resourceID(spec.ParentResourceType, spec.ParentResourceID)
		}
		b.DeleteResource = d.Build()
	case TaskGrant, TaskRevoke:
		var missing []string
		for name, v := range map[string]string{
			"entitlement_id": spec.EntitlementID, "entitlement_resource_type": spec.EntitlementResourceType,
			"entitlement_resource_id": spec.EntitlementResourceID, "principal_type": spec.PrincipalType,
			"principal_id": spec.PrincipalID,
		} {
			if v == "" {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return nil, fmt.Errorf("%w: %s needs %s", ErrInvalidRequest, spec.Type, strings.Join(missing, ", "))
		}
		ent := v2.Entitlement_builder{
			Id:       spec.EntitlementID,
			Resource: v2.Resource_builder{Id: resourceID(spec.EntitlementResourceType, spec.EntitlementResourceID)}.Build(),
		}.Build()
		principal := v2.Resource_builder{Id: resourceID(spec.PrincipalType, spec.PrincipalID)}.Build()
		if spec.Type == TaskGrant {
			b.Grant = v1.Task_GrantTask_builder{Entitlement: ent, Principal: principal}.Build()
			break
		}
		grantID := spec.GrantID
		if grantID == "" {
			grantID = spec.EntitlementID + ":" + spec.PrincipalType + ":" + spec.PrincipalID
		}
		b.Revoke = v1.Task_RevokeTask_builder{
			Grant: v2.Grant_builder{Id: grantID, Entitlement: ent, Principal: principal}.Build(),
		}.Build()
	case "":
		return nil, fmt.Errorf("%w: task type is required", ErrInvalidRequest)
	default:
		return nil, fmt.Errorf("%w: unknown task type %q (want full_sync, create_account, delete_resource, grant or revoke)",
			ErrInvalidRequest, spec.Type)
	}
	return b.Build(), nil
}

func resourceID(typ, id string) *v2.ResourceId {
	return v2.ResourceId_builder{ResourceType: typ, Resource: id}.Build()
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newTaskID returns 27 base62 characters, the shape BatonService's validation
// rules demand of task ids (`^[a-zA-Z0-9]{27}$`).
func newTaskID() (string, error) {
	var sb strings.Builder
	max := big.NewInt(int64(len(idAlphabet)))
	for range 27 {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("c1-simulator: task id: %w", err)
		}
		sb.WriteByte(idAlphabet[n.Int64()])
	}
	return sb.String(), nil
}
