package servicemode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	c1sim "github.com/conductorone/baton-fullstory/simulator/conductorone"
	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/types/known/structpb"
)

const apiKey = "servicemode-admin-key-5c2e"

// connectorBin is baton-fullstory, built once by TestMain.
var connectorBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "servicemode-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	connectorBin = filepath.Join(dir, "baton-fullstory")
	build := exec.Command("go", "build", "-o", connectorBin, "github.com/conductorone/baton-fullstory/cmd/baton-fullstory")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build baton-fullstory: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// syncBuffer collects a child's output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// world is both simulators, in process, on loopback.
type world struct {
	fs     *fssim.Server
	fsURL  string
	c1     *c1sim.Server
	c1Addr string
	caFile string
	creds  c1sim.Credentials
}

func newWorld(t *testing.T, fsOpts ...fssim.Option) *world {
	t.Helper()
	fs, err := fssim.New(append([]fssim.Option{fssim.WithAPIKey(apiKey, fssim.RoleAdmin)}, fsOpts...)...)
	if err != nil {
		t.Fatalf("fullstory simulator: %v", err)
	}
	fsHTTP := httptest.NewServer(fs.Handler())
	t.Cleanup(func() {
		fsHTTP.Close()
		_ = fs.Close()
	})

	c1, err := c1sim.New(
		c1sim.WithSelfSignedTLS("127.0.0.1", "localhost"),
		c1sim.WithHeartbeatInterval(time.Second),
		c1sim.WithHeartbeatTimeout(4*time.Second),
		c1sim.WithPollInterval(200*time.Millisecond),
		c1sim.WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, nil))),
		c1sim.WithTempDir(t.TempDir()),
	)
	if err != nil {
		t.Fatalf("c1 simulator: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- c1.Serve(l) }()
	t.Cleanup(func() {
		if err := c1.Close(); err != nil {
			t.Errorf("c1 simulator Close: %v", err)
		}
		if err := <-serveErr; err != nil {
			t.Errorf("c1 simulator Serve: %v", err)
		}
	})

	caFile := filepath.Join(t.TempDir(), "c1-ca.pem")
	if err := os.WriteFile(caFile, c1.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := c1.MintCredentials("fullstory")
	if err != nil {
		t.Fatal(err)
	}
	return &world{fs: fs, fsURL: fsHTTP.URL, c1: c1, c1Addr: l.Addr().String(), caFile: caFile, creds: creds}
}

type connectorProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
	err  error
}

// startConnector runs baton-fullstory in service mode, in its own process group
// (it re-executes itself as a connector subprocess) so the whole tree can be killed.
func (w *world) startConnector(t *testing.T, creds c1sim.Credentials, env ...string) *connectorProc {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(connectorBin, "--log-level", "debug")
	cmd.Dir = dir
	cmd.Env = []string{
		"HOME=" + dir, "TMPDIR=" + dir, "PATH=/usr/bin:/bin",
		"BATON_CLIENT_ID=" + creds.ClientID,
		"BATON_CLIENT_SECRET=" + creds.ClientSecret,
		"BATON_C1_API_HOST=" + w.c1Addr,
		"SSL_CERT_FILE=" + w.caFile,
		"BATON_HOST_ID=servicemode-test",
		"BATON_API_KEY=" + apiKey,
		"BATON_BASE_URL=" + w.fsURL,
		"BATON_PROVISIONING=true",
	}
	cmd.Env = append(cmd.Env, env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start baton-fullstory: %v", err)
	}
	p := &connectorProc{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		p.stop(t)
		logs := out.String()
		for what, secret := range map[string]string{"client secret": creds.ClientSecret, "API key": apiKey} {
			if strings.Contains(logs, secret) {
				t.Errorf("connector output contains the %s", what)
			}
		}
		if t.Failed() {
			t.Logf("baton-fullstory output:\n%s", logs)
		}
	})
	return p
}

func (p *connectorProc) exited() bool {
	select {
	case err := <-p.done:
		p.err = err
		p.done <- err
		return true
	default:
		return false
	}
}

func (p *connectorProc) signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// kill ends the connector and its subprocess without any chance to clean up.
func (p *connectorProc) kill(t *testing.T) {
	t.Helper()
	p.signal(syscall.SIGKILL)
	select {
	case <-p.done:
		p.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("connector did not die on SIGKILL")
	}
}

// stop asks politely, then insists.
func (p *connectorProc) stop(t *testing.T) {
	if p.exited() {
		return
	}
	p.signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(15 * time.Second):
		t.Errorf("connector did not stop within 15s of SIGTERM")
		p.signal(syscall.SIGKILL)
	}
}

func waitFor(t *testing.T, p *connectorProc, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if p != nil && p.exited() {
			t.Fatalf("connector exited (%v) while waiting for %s", p.err, what)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *world) waitTask(t *testing.T, id string) c1sim.TaskView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	v, err := w.c1.WaitTask(ctx, id)
	if err != nil {
		t.Fatalf("task %s did not finish: %v (last seen %+v)", id, err, v)
	}
	return v
}

func (w *world) enqueue(t *testing.T, spec c1sim.TaskSpec) string {
	t.Helper()
	id, err := w.c1.EnqueueTask(spec)
	if err != nil {
		t.Fatalf("EnqueueTask(%+v): %v", spec, err)
	}
	return id
}

// jsonValue renders v as the connector sees it after Fullstory's JSON and
// baton's structpb: plain JSON types, numbers as float64.
func jsonValue(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s.AsMap()
}

// expectedUsers is what a sync must upload for the Fullstory simulator's
// users: identified users only, mapped as baton-fullstory documents.
func expectedUsers(t *testing.T, users []fssim.User) []c1sim.SummaryUser {
	t.Helper()
	out := []c1sim.SummaryUser{}
	for _, u := range users {
		if u.UID == "" {
			continue
		}
		su := c1sim.SummaryUser{ID: u.ID, Login: u.UID, Status: "RESOURCE_STATUS_ENABLED"}
		for _, name := range []string{u.DisplayName, u.Email, u.UID, u.ID} {
			if name != "" {
				su.DisplayName = name
				break
			}
		}
		if u.IsBeingDeleted {
			su.Status = "RESOURCE_STATUS_DISABLED"
		}
		profile := map[string]any{"id": u.ID, "uid": u.UID}
		if u.Email != "" {
			su.Emails = []c1sim.SummaryEmail{{Address: u.Email, Primary: true}}
		}
		if len(u.Properties) > 0 {
			// The connector keeps properties as one compact JSON object.
			props, err := json.Marshal(u.Properties)
			if err != nil {
				t.Fatal(err)
			}
			profile["properties"] = string(props)
		}
		su.Profile = jsonValue(t, profile)
		out = append(out, su)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (w *world) checkUpload(t *testing.T, taskID string) {
	t.Helper()
	sum, err := w.c1.UploadSummary(context.Background(), taskID)
	if err != nil {
		t.Fatalf("UploadSummary(%s): %v", taskID, err)
	}
	want := expectedUsers(t, w.fs.Users())
	if diff := cmp.Diff(want, sum.Users, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("uploaded c1z users differ from the Fullstory simulator's identified users (-want +got):\n%s", diff)
	}
	ids := make([]string, 0, len(want))
	for _, u := range want {
		ids = append(ids, u.ID)
	}
	if diff := cmp.Diff(c1sim.UploadSummary{Counts: map[string]int{"user": len(want)}, UserIDs: ids}, sum,
		cmpopts.IgnoreFields(c1sim.UploadSummary{}, "Users")); diff != "" {
		t.Errorf("upload summary (-want +got):\n%s", diff)
	}
}

var sortUsers = cmpopts.SortSlices(func(a, b fssim.User) bool { return a.ID < b.ID })

func TestServiceModeSyncAndProvisioning(t *testing.T) {
	w := newWorld(t, fssim.WithSeed(11), fssim.WithUsers(45), fssim.WithAnonymousUsers(12), fssim.WithPageSize(20),
		fssim.WithDeleteDelay(time.Hour))
	p := w.startConnector(t, w.creds)

	// Startup Hello: the connector introduces itself with its capabilities.
	waitFor(t, p, 90*time.Second, "the connector's Hello", func() bool { return len(w.c1.Hellos()) > 0 })
	hello := w.c1.Hellos()[0]
	if hello.ClientID != w.creds.ClientID || hello.HostID != "servicemode-test" {
		t.Errorf("hello from %q on %q", hello.ClientID, hello.HostID)
	}
	for _, capability := range []string{"CAPABILITY_SYNC", "CAPABILITY_ACCOUNT_PROVISIONING", "CAPABILITY_RESOURCE_DELETE"} {
		if !strings.Contains(string(hello.Capabilities), capability) {
			t.Errorf("hello capabilities lack %s: %s", capability, hello.Capabilities)
		}
	}

	// Full sync: the uploaded c1z holds exactly the identified users.
	syncID := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskFullSync})
	v := w.waitTask(t, syncID)
	if v.Status != c1sim.StatusSucceeded || v.Attempts != 1 || v.Uploads != 1 || v.Heartbeats < 1 {
		t.Fatalf("full sync task: %+v", v)
	}
	w.checkUpload(t, syncID)

	// Create account: a new Fullstory user, nothing else touched.
	before := w.fs.Users()
	createID := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskCreateAccount,
		Login: "svc-hire-1", Email: "svc.hire@example.com", DisplayName: "Service Hire"})
	v = w.waitTask(t, createID)
	if v.Status != c1sim.StatusSucceeded {
		t.Fatalf("create_account task: %+v", v)
	}
	after := w.fs.Users()
	var created fssim.User
	for _, u := range after {
		if u.UID == "svc-hire-1" {
			created = u
		}
	}
	if created.ID == "" {
		t.Fatalf("no Fullstory user with uid svc-hire-1 after create_account")
	}
	want := append(append([]fssim.User(nil), before...), fssim.User{ID: created.ID, UID: "svc-hire-1",
		Email: "svc.hire@example.com", DisplayName: "Service Hire", AppURL: created.AppURL})
	if diff := cmp.Diff(want, after, sortUsers, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Fullstory state after create_account (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(v.Response), created.ID) {
		t.Errorf("create_account response does not name the new user %s: %s", created.ID, v.Response)
	}

	// A create_account that cannot succeed fails with the reason; Fullstory is untouched.
	badID := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskCreateAccount, Login: "svc-hire-2", Email: "not-an-email"})
	v = w.waitTask(t, badID)
	if v.Status != c1sim.StatusFailed || v.ErrorCode != "InvalidArgument" || !strings.Contains(v.Error, "email address") {
		t.Errorf("invalid create_account task: %+v", v)
	}
	if diff := cmp.Diff(after, w.fs.Users(), sortUsers, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Fullstory changed after a refused create_account (-want +got):\n%s", diff)
	}

	// Delete resource: Fullstory starts deleting the user.
	deleteID := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskDeleteResource, ResourceType: "user", ResourceID: created.ID})
	if v := w.waitTask(t, deleteID); v.Status != c1sim.StatusSucceeded {
		t.Fatalf("delete_resource task: %+v", v)
	}
	for i := range after {
		if after[i].ID == created.ID {
			after[i].IsBeingDeleted = true
		}
	}
	if diff := cmp.Diff(after, w.fs.Users(), sortUsers, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Fullstory state after delete_resource (-want +got):\n%s", diff)
	}

	// The next sync carries both changes; its c1z is stored under its own task.
	sync2 := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskFullSync})
	if v := w.waitTask(t, sync2); v.Status != c1sim.StatusSucceeded || v.Uploads != 1 {
		t.Fatalf("second full sync: %+v", v)
	}
	w.checkUpload(t, sync2)
	if v := w.c1.Tasks()[0]; v.ID != syncID || v.Uploads != 1 {
		t.Errorf("first sync's upload changed: %+v", v)
	}
}

// TestServiceModeSyncWithTheDeploymentsEngine runs a sync as deploy/k8s
// configures it: with the SQLite storage engine, whose memory stays flat
// with the org's size (bench/README.md).
func TestServiceModeSyncWithTheDeploymentsEngine(t *testing.T) {
	w := newWorld(t, fssim.WithSeed(12), fssim.WithUsers(35), fssim.WithAnonymousUsers(5), fssim.WithPageSize(10))
	w.startConnector(t, w.creds, "BATON_STORAGE_ENGINE=sqlite")

	syncID := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskFullSync})
	if v := w.waitTask(t, syncID); v.Status != c1sim.StatusSucceeded || v.Uploads != 1 {
		t.Fatalf("full sync task: %+v", v)
	}
	w.checkUpload(t, syncID)
	c1z, ok := w.c1.Upload(syncID)
	if !ok || !bytes.HasPrefix(c1z, []byte("C1ZF\x00")) {
		t.Errorf("upload is not a SQLite (v1) c1z: starts %q", c1z[:min(len(c1z), 5)])
	}
}

func TestServiceModeKilledConnectorTaskIsRequeued(t *testing.T) {
	w := newWorld(t, fssim.WithSeed(5), fssim.WithUsers(30), fssim.WithPageSize(5))
	first := w.startConnector(t, w.creds)
	waitFor(t, first, 90*time.Second, "the connector's Hello", func() bool { return len(w.c1.Hellos()) > 0 })

	// Slow Fullstory down so the sync is surely in flight when the connector dies.
	w.fs.SetFaults(fssim.Faults{Latency: 400 * time.Millisecond})
	w.fs.ClearRequests()
	id := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskFullSync})
	waitFor(t, first, 60*time.Second, "the sync to be listing users", func() bool {
		v, _ := w.c1.Task(id)
		if v.Status != c1sim.StatusRunning {
			return false
		}
		for _, r := range w.fs.Requests() {
			if r.Path == "/v2/users" {
				return true
			}
		}
		return false
	})
	first.kill(t)
	if v, _ := w.c1.Task(id); v.Status != c1sim.StatusRunning || v.Uploads != 0 {
		t.Fatalf("right after the kill: %+v", v)
	}

	// Heartbeats stop; after the timeout the task is pending again.
	waitFor(t, nil, 30*time.Second, "the task to be re-queued", func() bool {
		v, _ := w.c1.Task(id)
		return v.Status == c1sim.StatusPending
	})
	if v, _ := w.c1.Task(id); v.Attempts != 1 || v.Requeues != 1 || v.Uploads != 0 {
		t.Fatalf("re-queued task: %+v", v)
	}

	// A restarted connector picks it up and completes it, uploading once.
	w.fs.SetFaults(fssim.Faults{})
	w.startConnector(t, w.creds)
	v := w.waitTask(t, id)
	if v.Status != c1sim.StatusSucceeded || v.Attempts != 2 || v.Requeues != 1 || v.Uploads != 1 {
		t.Fatalf("task after restart: %+v", v)
	}
	w.checkUpload(t, id)
	if n := len(w.c1.Tasks()); n != 1 {
		t.Errorf("%d tasks, want the one", n)
	}
}

func TestServiceModeWrongSecretIsRefused(t *testing.T) {
	w := newWorld(t, fssim.WithUsers(3))
	other, err := w.c1.MintCredentials("other")
	if err != nil {
		t.Fatal(err)
	}
	// Our client ID with another client's secret.
	p := w.startConnector(t, c1sim.Credentials{ClientID: w.creds.ClientID, ClientSecret: other.ClientSecret})
	waitFor(t, nil, 90*time.Second, "the connector to give up", p.exited)
	if p.err == nil {
		t.Errorf("connector exited 0 with a wrong secret")
	}
	if !strings.Contains(p.out.String(), "401") {
		t.Errorf("connector output does not mention the 401 from the token endpoint")
	}
	if n := len(w.c1.Hellos()); n != 0 {
		t.Errorf("%d hellos got through", n)
	}
	if n := len(w.fs.Requests()); n != 0 {
		t.Errorf("Fullstory saw %d requests", n)
	}
}
