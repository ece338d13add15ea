package conductorone

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/connectorclient"
	"github.com/conductorone/baton-sdk/pkg/tasks/c1api"
	"github.com/conductorone/baton-sdk/pkg/types"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// fakeConnector is a tiny in-test connector (one "user" type with sync,
// account creation and deletion) served through baton-sdk's connectorbuilder,
// so the SDK's task handlers have something real to call.
type fakeConnector struct {
	mu    sync.Mutex
	users map[string]fakeUser
	next  int
}

type fakeUser struct{ ID, Login, Email, Name string }

var fakeUserType = v2.ResourceType_builder{
	Id: "user", DisplayName: "User",
	Traits:      []v2.ResourceType_Trait{v2.ResourceType_TRAIT_USER},
	Annotations: annotations.New(&v2.SkipEntitlementsAndGrants{}),
}.Build()

func newFakeConnector(users ...fakeUser) *fakeConnector {
	c := &fakeConnector{users: map[string]fakeUser{}}
	for _, u := range users {
		c.users[u.ID] = u
	}
	return c
}

func (c *fakeConnector) snapshot() []fakeUser {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []fakeUser
	for _, u := range c.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *fakeConnector) Metadata(context.Context) (*v2.ConnectorMetadata, error) {
	return v2.ConnectorMetadata_builder{DisplayName: "Fake", Description: "in-test connector"}.Build(), nil
}

func (c *fakeConnector) Validate(context.Context) (annotations.Annotations, error) { return nil, nil }

func (c *fakeConnector) ResourceSyncers(context.Context) []connectorbuilder.ResourceSyncerV2 {
	return []connectorbuilder.ResourceSyncerV2{&fakeUsers{c}}
}

type fakeUsers struct{ c *fakeConnector }

func (f *fakeUsers) ResourceType(context.Context) *v2.ResourceType { return fakeUserType }

func userResource(u fakeUser) (*v2.Resource, error) {
	return resource.NewUserResource(u.Name, fakeUserType, u.ID,
		[]resource.UserTraitOption{resource.WithEmail(u.Email, true), resource.WithUserLogin(u.Login)},
		resource.WithResourceStatus(v2.Status_RESOURCE_STATUS_ENABLED, ""))
}

func (f *fakeUsers) List(context.Context, *v2.ResourceId, resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	var out []*v2.Resource
	for _, u := range f.c.snapshot() {
		r, err := userResource(u)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, r)
	}
	return out, &resource.SyncOpResults{}, nil
}

func (f *fakeUsers) Entitlements(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

func (f *fakeUsers) Grants(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

func (f *fakeUsers) CreateAccount(_ context.Context, ai *v2.AccountInfo, _ *v2.LocalCredentialOptions) (
	connectorbuilder.CreateAccountResponse, []*v2.PlaintextData, annotations.Annotations, error) {
	f.c.mu.Lock()
	for _, u := range f.c.users {
		if u.Login == ai.GetLogin() {
			f.c.mu.Unlock()
			return nil, nil, nil, status.Errorf(codes.AlreadyExists, "login %s is taken", ai.GetLogin())
		}
	}
	f.c.next++
	u := fakeUser{ID: fmt.Sprintf("new-%d", f.c.next), Login: ai.GetLogin(),
		Name: ai.GetProfile().GetFields()["display_name"].GetStringValue()}
	for _, e := range ai.GetEmails() {
		if e.GetIsPrimary() {
			u.Email = e.GetAddress()
		}
	}
	f.c.users[u.ID] = u
	f.c.mu.Unlock()
	r, err := userResource(u)
	if err != nil {
		return nil, nil, nil, err
	}
	return v2.CreateAccountResponse_SuccessResult_builder{Resource: r, IsCreateAccountResult: true}.Build(), nil, nil, nil
}

func (f *fakeUsers) CreateAccountCapabilityDetails(context.Context) (*v2.CredentialDetailsAccountProvisioning, annotations.Annotations, error) {
	return v2.CredentialDetailsAccountProvisioning_builder{
		SupportedCredentialOptions: []v2.CapabilityDetailCredentialOption{v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD},
		PreferredCredentialOption:  v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD,
	}.Build(), nil, nil
}

func (f *fakeUsers) Delete(_ context.Context, id *v2.ResourceId, _ *v2.ResourceId) (annotations.Annotations, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if _, ok := f.c.users[id.GetResource()]; !ok {
		return nil, status.Errorf(codes.NotFound, "user %s not found", id.GetResource())
	}
	delete(f.c.users, id.GetResource())
	return nil, nil
}

// serveConnector serves the fake connector over gRPC on 127.0.0.1:0 the way
// baton-sdk's connector subprocess does, and returns the SDK's client for it.
func serveConnector(t *testing.T, fc *fakeConnector) types.ConnectorClient {
	t.Helper()
	ctx := context.Background()
	srv, err := connectorbuilder.NewConnector(ctx, fc)
	if err != nil {
		t.Fatalf("connectorbuilder.NewConnector: %v", err)
	}
	gs := grpc.NewServer()
	v2.RegisterConnectorServiceServer(gs, srv)
	v2.RegisterResourceTypesServiceServer(gs, srv)
	v2.RegisterResourcesServiceServer(gs, srv)
	v2.RegisterEntitlementsServiceServer(gs, srv)
	v2.RegisterGrantsServiceServer(gs, srv)
	v2.RegisterAssetServiceServer(gs, srv)
	v2.RegisterResourceGetterServiceServer(gs, srv)
	v2.RegisterGrantManagerServiceServer(gs, srv)
	v2.RegisterResourceManagerServiceServer(gs, srv)
	v2.RegisterResourceDeleterServiceServer(gs, srv)
	v2.RegisterAccountManagerServiceServer(gs, srv)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return connectorclient.NewConnectorClient(ctx, conn)
}

// newSDKTaskManager builds baton-sdk's own service-mode task manager, the
// exact code a connector runs with --client-id/--client-secret.
func newSDKTaskManager(t *testing.T, creds Credentials) c1api.BootstrappingTaskManager {
	t.Helper()
	tm, err := c1api.NewC1TaskManager(context.Background(), creds.ClientID, creds.ClientSecret, t.TempDir(),
		false, "", "", nil, nil, nil, 0, "", 1, false)
	if err != nil {
		t.Fatalf("c1api.NewC1TaskManager: %v", err)
	}
	return tm
}

// runNext asks the SDK's manager for the next task, checks it is want, and processes it.
func runNext(t *testing.T, ctx context.Context, tm c1api.BootstrappingTaskManager, cc types.ConnectorClient, want string) {
	t.Helper()
	task, _, err := tm.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if task.GetId() != want {
		t.Fatalf("Next handed out %q, want %q", task.GetId(), want)
	}
	if err := tm.Process(ctx, task, cc); err != nil {
		t.Fatalf("Process(%s): %v", want, err)
	}
}

func TestSDKServiceModeEndToEnd(t *testing.T) {
	h := newHarness(t, WithHeartbeatInterval(time.Second))
	creds := h.mint(t, "fake")
	fc := newFakeConnector(
		fakeUser{ID: "u1", Login: "ann", Email: "ann@example.com", Name: "Ann"},
		fakeUser{ID: "u2", Login: "bob", Email: "bob@example.com", Name: "Bob"},
		fakeUser{ID: "u3", Login: "cy", Email: "cy@example.com", Name: "Cy"},
	)
	cc := serveConnector(t, fc)
	tm := newSDKTaskManager(t, creds)
	ctx := testContext(t)

	// Startup Hello: metadata and capabilities are recorded.
	if err := tm.Bootstrap(ctx, cc); err != nil {
		t.Fatalf("Bootstrap (Hello): %v", err)
	}
	hellos := h.srv.Hellos()
	if len(hellos) != 1 || hellos[0].ClientID != creds.ClientID || hellos[0].HostID != "test-host" || hellos[0].DisplayName != "Fake" {
		t.Fatalf("hellos: %+v", hellos)
	}
	var caps struct {
		ResourceTypeCapabilities []struct {
			ResourceType struct{ ID string } `json:"resourceType"`
			Capabilities []string            `json:"capabilities"`
		} `json:"resourceTypeCapabilities"`
	}
	if err := json.Unmarshal(hellos[0].Capabilities, &caps); err != nil {
		t.Fatalf("capabilities %s: %v", hellos[0].Capabilities, err)
	}
	if len(caps.ResourceTypeCapabilities) != 1 || caps.ResourceTypeCapabilities[0].ResourceType.ID != "user" ||
		!strings.Contains(strings.Join(caps.ResourceTypeCapabilities[0].Capabilities, ","), "CAPABILITY_ACCOUNT_PROVISIONING") {
		t.Errorf("hello capabilities: %s", hellos[0].Capabilities)
	}

	// Nothing queued: the SDK is told when to poll again.
	task, next, err := tm.Next(ctx)
	if err != nil || task != nil || next != DefaultPollInterval {
		t.Fatalf("Next on an empty queue: task %v, next %s, err %v", task, next, err)
	}

	// Full sync: the SDK syncs, heartbeats, uploads its c1z and finishes.
	syncID := mustEnqueue(t, h.srv, TaskSpec{Type: TaskFullSync})
	runNext(t, ctx, tm, cc, syncID)
	v := mustTask(t, h.srv, syncID)
	if v.Status != StatusSucceeded || v.Attempts != 1 || v.Uploads != 1 || v.Heartbeats < 1 {
		t.Fatalf("full sync task: %+v", v)
	}
	sum, err := h.srv.UploadSummary(ctx, syncID)
	if err != nil {
		t.Fatalf("UploadSummary: %v", err)
	}
	want := UploadSummary{
		Counts:  map[string]int{"user": 3},
		UserIDs: []string{"u1", "u2", "u3"},
		Users: []SummaryUser{
			{ID: "u1", DisplayName: "Ann", Login: "ann", Emails: []SummaryEmail{{Address: "ann@example.com", Primary: true}}, Status: "RESOURCE_STATUS_ENABLED"},
			{ID: "u2", DisplayName: "Bob", Login: "bob", Emails: []SummaryEmail{{Address: "bob@example.com", Primary: true}}, Status: "RESOURCE_STATUS_ENABLED"},
			{ID: "u3", DisplayName: "Cy", Login: "cy", Emails: []SummaryEmail{{Address: "cy@example.com", Primary: true}}, Status: "RESOURCE_STATUS_ENABLED"},
		},
	}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("upload summary (-want +got):\n%s", diff)
	}

	// Create account: AccountInfo carries login, primary email and profile display_name.
	createID := mustEnqueue(t, h.srv, TaskSpec{Type: TaskCreateAccount, Login: "dee", Email: "dee@example.com", DisplayName: "Dee"})
	runNext(t, ctx, tm, cc, createID)
	if v := mustTask(t, h.srv, createID); v.Status != StatusSucceeded || !strings.Contains(string(v.Response), `"new-1"`) {
		t.Errorf("create_account task: %+v (response %s)", v, v.Response)
	}

	// Delete resource.
	deleteID := mustEnqueue(t, h.srv, TaskSpec{Type: TaskDeleteResource, ResourceType: "user", ResourceID: "u2"})
	runNext(t, ctx, tm, cc, deleteID)
	if v := mustTask(t, h.srv, deleteID); v.Status != StatusSucceeded {
		t.Errorf("delete_resource task: %+v", v)
	}
	wantUsers := []fakeUser{
		{ID: "new-1", Login: "dee", Email: "dee@example.com", Name: "Dee"},
		{ID: "u1", Login: "ann", Email: "ann@example.com", Name: "Ann"},
		{ID: "u3", Login: "cy", Email: "cy@example.com", Name: "Cy"},
	}
	if diff := cmp.Diff(wantUsers, fc.snapshot()); diff != "" {
		t.Errorf("connector users after provisioning (-want +got):\n%s", diff)
	}

	// Failures are recorded with the connector's status.
	dupID := mustEnqueue(t, h.srv, TaskSpec{Type: TaskCreateAccount, Login: "dee", Email: "dee2@example.com"})
	runNext(t, ctx, tm, cc, dupID)
	if v := mustTask(t, h.srv, dupID); v.Status != StatusFailed || v.ErrorCode != "AlreadyExists" || !v.NonRetryable ||
		!strings.Contains(v.Error, "login dee is taken") {
		t.Errorf("duplicate create_account task: %+v", v)
	}

	// Grant and revoke reach the connector well-formed (this one cannot provision them).
	for _, spec := range []TaskSpec{
		{Type: TaskGrant, EntitlementID: "user:u1:admin", EntitlementResourceType: "user", EntitlementResourceID: "u1", PrincipalType: "user", PrincipalID: "u3"},
		{Type: TaskRevoke, EntitlementID: "user:u1:admin", EntitlementResourceType: "user", EntitlementResourceID: "u1", PrincipalType: "user", PrincipalID: "u3"},
	} {
		id := mustEnqueue(t, h.srv, spec)
		runNext(t, ctx, tm, cc, id)
		v := mustTask(t, h.srv, id)
		if v.Status != StatusFailed || strings.Contains(v.Error, "malformed") {
			t.Errorf("%s task: %+v", spec.Type, v)
		}
	}
}

// A connector that dies mid-task stops heartbeating; the task is re-queued and
// completes on the next connector with exactly one upload.
func TestSDKCrashedTaskIsRequeued(t *testing.T) {
	h := newHarness(t, WithHeartbeatInterval(time.Second), WithHeartbeatTimeout(30*time.Second))
	creds := h.mint(t, "fake")
	fc := newFakeConnector(fakeUser{ID: "u1", Login: "ann", Email: "ann@example.com", Name: "Ann"})
	cc := serveConnector(t, fc)
	ctx := testContext(t)
	id := mustEnqueue(t, h.srv, TaskSpec{Type: TaskFullSync})

	crashed := newSDKTaskManager(t, creds)
	task, _, err := crashed.Next(ctx)
	if err != nil || task.GetId() != id {
		t.Fatalf("first Next: %v, %v", task, err)
	}
	// ... and this connector is never heard from again.

	restarted := newSDKTaskManager(t, creds)
	if task, _, err := restarted.Next(ctx); err != nil || task != nil {
		t.Fatalf("Next while the lease holds: %v, %v; want none", task, err)
	}
	h.clock.Advance(31 * time.Second)
	runNext(t, ctx, restarted, cc, id)

	v := mustTask(t, h.srv, id)
	if v.Status != StatusSucceeded || v.Attempts != 2 || v.Requeues != 1 || v.Uploads != 1 {
		t.Errorf("re-queued task: %+v", v)
	}
	sum, err := h.srv.UploadSummary(ctx, id)
	if err != nil || !cmp.Equal(sum.UserIDs, []string{"u1"}) {
		t.Errorf("summary: %+v, %v", sum, err)
	}
}

// With BATON_GET_TASKS=true the SDK fetches batches through GetTasks.
func TestSDKGetTasksPath(t *testing.T) {
	h := newHarness(t)
	t.Setenv("BATON_GET_TASKS", "true")
	creds := h.mint(t, "fake")
	fc := newFakeConnector(fakeUser{ID: "u1", Login: "ann", Email: "ann@example.com", Name: "Ann"})
	cc := serveConnector(t, fc)
	tm := newSDKTaskManager(t, creds)
	ctx := testContext(t)
	a := mustEnqueue(t, h.srv, TaskSpec{Type: TaskDeleteResource, ResourceType: "user", ResourceID: "u1"})
	b := mustEnqueue(t, h.srv, TaskSpec{Type: TaskCreateAccount, Login: "bo", Email: "bo@example.com", DisplayName: "Bo"})
	runNext(t, ctx, tm, cc, a)
	runNext(t, ctx, tm, cc, b)
	for _, id := range []string{a, b} {
		if v := mustTask(t, h.srv, id); v.Status != StatusSucceeded {
			t.Errorf("task %s: %+v", id, v)
		}
	}
	if diff := cmp.Diff([]fakeUser{{ID: "new-1", Login: "bo", Email: "bo@example.com", Name: "Bo"}}, fc.snapshot()); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}
