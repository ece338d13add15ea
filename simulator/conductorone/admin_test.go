package conductorone

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	sdkcrypto "github.com/conductorone/baton-sdk/pkg/crypto"
	"github.com/google/go-cmp/cmp"
)

type adminClient struct {
	t     *testing.T
	base  string
	token string
}

func newAdmin(t *testing.T, h *harness, token string) *adminClient {
	t.Helper()
	ts := httptest.NewServer(h.srv.AdminHandler())
	t.Cleanup(ts.Close)
	return &adminClient{t: t, base: ts.URL, token: token}
}

func (a *adminClient) do(method, path, body string) (int, []byte, http.Header) {
	a.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

func (a *adminClient) json(method, path, body string, wantStatus int, out any) {
	a.t.Helper()
	code, b, _ := a.do(method, path, body)
	if code != wantStatus {
		a.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, code, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

func TestAdminAPI(t *testing.T) {
	h := newHarness(t, WithTenantHost("tenant.example:8443"))
	admin := newAdmin(t, h, "")

	var health map[string]string
	admin.json("GET", "/admin/healthz", "", http.StatusOK, &health)
	if health["status"] != "ok" {
		t.Errorf("healthz: %v", health)
	}

	// Credentials: minted, usable by the SDK, listed without secrets.
	var creds Credentials
	admin.json("POST", "/admin/credentials", `{"name":"svc"}`, http.StatusCreated, &creds)
	if creds.ClientID != "svc@tenant.example:8443/pcc" {
		t.Errorf("client_id %q", creds.ClientID)
	}
	if _, err := sdkcrypto.ParseClientSecret([]byte(creds.ClientSecret), false); err != nil {
		t.Errorf("SDK cannot parse the minted secret: %v", err)
	}
	var anon Credentials
	admin.json("POST", "/admin/credentials", "", http.StatusCreated, &anon)
	code, body, _ := admin.do("GET", "/admin/credentials", "")
	if code != http.StatusOK || strings.Contains(string(body), "secret") || !strings.Contains(string(body), anon.ClientID) {
		t.Errorf("GET /admin/credentials: %d %s", code, body)
	}
	admin.json("POST", "/admin/credentials", `{"name":"svc"}`, http.StatusConflict, nil)
	admin.json("POST", "/admin/credentials", `{"name":"a b"}`, http.StatusBadRequest, nil)

	// Tasks: validated, listed, shown.
	var created struct{ ID string }
	admin.json("POST", "/admin/tasks", `{"type":"full_sync"}`, http.StatusCreated, &created)
	syncID := created.ID
	admin.json("POST", "/admin/tasks", `{"type":"create_account","login":"ann","email":"ann@example.com","display_name":"Ann"}`, http.StatusCreated, &created)
	createID := created.ID
	for _, bad := range []string{
		`{"type":"teleport"}`,
		`{}`,
		`{"type":"delete_resource","resource_type":"user"}`,
		`{"type":"grant","entitlement_id":"e"}`,
		`{"type":"create_account"}`,
		`{"type":"full_sync","bogus":1}`,
		`not json`,
	} {
		code, body, _ := admin.do("POST", "/admin/tasks", bad)
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"error"`) {
			t.Errorf("POST /admin/tasks %s: %d %s, want 400 with an error", bad, code, body)
		}
	}

	var list []TaskView
	admin.json("GET", "/admin/tasks", "", http.StatusOK, &list)
	want := []TaskView{
		{ID: syncID, Type: TaskFullSync, Status: StatusPending, Spec: TaskSpec{Type: TaskFullSync}},
		{ID: createID, Type: TaskCreateAccount, Status: StatusPending,
			Spec: TaskSpec{Type: TaskCreateAccount, Login: "ann", Email: "ann@example.com", DisplayName: "Ann"}},
	}
	if diff := cmp.Diff(want, list, ignoreTimes); diff != "" {
		t.Errorf("GET /admin/tasks (-want +got):\n%s", diff)
	}
	// The brief's minimal shape is always present.
	code, body, _ = admin.do("GET", "/admin/tasks/"+syncID, "")
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil || code != http.StatusOK {
		t.Fatalf("GET task: %d %s", code, body)
	}
	for _, k := range []string{"id", "type", "status", "error", "attempts"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("task JSON lacks %q: %s", k, body)
		}
	}
	admin.json("GET", "/admin/tasks/nope", "", http.StatusNotFound, nil)
	admin.json("GET", "/admin/tasks/"+syncID+"/upload", "", http.StatusNotFound, nil)
	admin.json("GET", "/admin/tasks/"+syncID+"/upload/summary", "", http.StatusNotFound, nil)
	admin.json("GET", "/admin/tasks/"+syncID+"?wait=bogus", "", http.StatusBadRequest, nil)

	// Long poll: returns when the wait ends with the task still pending...
	start := time.Now()
	var v TaskView
	admin.json("GET", "/admin/tasks/"+syncID+"?wait=200ms", "", http.StatusOK, &v)
	if v.Status != StatusPending || time.Since(start) < 200*time.Millisecond {
		t.Errorf("wait=200ms: status %s after %s", v.Status, time.Since(start))
	}

	// ... or as soon as the task finishes.
	fc := newFakeConnector(fakeUser{ID: "u1", Login: "zed", Email: "zed@example.com", Name: "Zed"})
	cc := serveConnector(t, fc)
	tm := newSDKTaskManager(t, creds)
	ctx := testContext(t)
	go func() {
		time.Sleep(100 * time.Millisecond)
		task, _, err := tm.Next(ctx)
		if err == nil && task != nil {
			err = tm.Process(ctx, task, cc)
		}
		if err != nil {
			t.Errorf("SDK run: %v", err)
		}
	}()
	admin.json("GET", "/admin/tasks/"+syncID+"?wait=30s", "", http.StatusOK, &v)
	if v.Status != StatusSucceeded || v.Uploads != 1 {
		t.Fatalf("long-polled task: %+v", v)
	}

	code, c1z, hdr := admin.do("GET", "/admin/tasks/"+syncID+"/upload", "")
	stored, _ := h.srv.Upload(syncID)
	if code != http.StatusOK || !bytes.Equal(c1z, stored) || hdr.Get("Content-Type") != "application/octet-stream" || !isC1Z(c1z) {
		t.Errorf("GET upload: %d, %d bytes (stored %d), %s", code, len(c1z), len(stored), hdr.Get("Content-Type"))
	}
	var sum map[string]any
	admin.json("GET", "/admin/tasks/"+syncID+"/upload/summary", "", http.StatusOK, &sum)
	wantSum := map[string]any{
		"counts":   map[string]any{"user": float64(1)},
		"user_ids": []any{"u1"},
		"users": []any{map[string]any{"id": "u1", "display_name": "Zed", "login": "zed",
			"emails": []any{map[string]any{"address": "zed@example.com", "primary": true}}, "status": "RESOURCE_STATUS_ENABLED"}},
	}
	if diff := cmp.Diff(wantSum, sum); diff != "" {
		t.Errorf("summary JSON (-want +got):\n%s", diff)
	}

	var hellos []HelloRecord
	admin.json("GET", "/admin/hellos", "", http.StatusOK, &hellos)
	if len(hellos) != 0 {
		t.Errorf("hellos before any Hello: %+v", hellos)
	}
	admin.json("GET", "/admin/nothing", "", http.StatusNotFound, nil)
}

func TestAdminToken(t *testing.T) {
	h := newHarness(t, WithAdminToken("s3cret"))
	for _, tc := range []struct {
		token string
		path  string
		want  int
	}{
		{"", "/admin/tasks", http.StatusUnauthorized},
		{"wrong", "/admin/tasks", http.StatusUnauthorized},
		{"s3cret", "/admin/tasks", http.StatusOK},
		{"", "/admin/healthz", http.StatusOK},
	} {
		code, body, _ := newAdmin(t, h, tc.token).do("GET", tc.path, "")
		if code != tc.want {
			t.Errorf("GET %s with token %q: %d %s, want %d", tc.path, tc.token, code, body, tc.want)
		}
	}
	code, _, _ := newAdmin(t, h, "").do("POST", "/admin/credentials", "")
	if code != http.StatusUnauthorized {
		t.Errorf("minting without the admin token: %d", code)
	}
}

func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	h := newHarness(t, WithStateFile(path))
	creds := h.mint(t, "svc")
	c, rec := h.sdkBatonClientRecording(t, creds)
	ctx := testContext(t)
	done := mustEnqueue(t, h.srv, TaskSpec{Type: TaskFullSync})
	if _, err := c.GetTask(ctx, v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build()); err != nil {
		t.Fatal(err)
	}
	data := fakeC1Z(t, 5000)
	if err := sendUpload(t, c, chunked(done, data)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FinishTask(ctx, v1.BatonServiceFinishTaskRequest_builder{HostId: "h1", TaskId: done,
		Success: &v1.BatonServiceFinishTaskRequest_Success{}}.Build()); err != nil {
		t.Fatal(err)
	}
	pending := mustEnqueue(t, h.srv, TaskSpec{Type: TaskDeleteResource, ResourceType: "user", ResourceID: "u9"})
	before := h.srv.Tasks()

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	if strings.Contains(string(raw), creds.ClientSecret[len(secretPrefix):]) {
		t.Errorf("state file contains the client secret")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v, %v", fi.Mode(), err)
	}

	// A second simulator over the same file has the same clients, tasks and upload.
	h2 := newHarness(t, WithStateFile(path))
	if diff := cmp.Diff(before, h2.srv.Tasks()); diff != "" {
		t.Errorf("tasks after reload (-want +got):\n%s", diff)
	}
	if got, _ := h2.srv.Upload(done); !bytes.Equal(got, data) {
		t.Errorf("upload lost in reload")
	}
	// The bearer token the first process issued still works in the second,
	// and so do the credentials (only the public key was kept).
	oldToken := strings.TrimPrefix(rec.lastAuthorization(), "Bearer ")
	hb, err := h2.bearerBatonClient(t, oldToken).Heartbeat(ctx, v1.BatonServiceHeartbeatRequest_builder{HostId: "h1", TaskId: done}.Build())
	if err != nil || !hb.GetCancelled() {
		t.Errorf("old bearer token after reload: cancelled=%v, %v", hb.GetCancelled(), err)
	}
	resp, err := h2.sdkBatonClient(t, creds).GetTask(ctx, v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build())
	if err != nil || resp.GetTask().GetId() != pending {
		t.Errorf("GetTask after reload: %v, %v", resp.GetTask(), err)
	}

	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(WithStateFile(path)); err == nil {
		t.Errorf("New with a corrupt state file: nil error")
	}
}
