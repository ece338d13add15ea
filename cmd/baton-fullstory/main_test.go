package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	c1sim "github.com/conductorone/baton-fullstory/simulator/conductorone"
	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const simKey = "oneshot-test-key-6f1d"

// binary is baton-fullstory built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "baton-fullstory-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "baton-fullstory")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startSim runs a Fullstory simulator on loopback.
func startSim(t *testing.T, opts ...fssim.Option) (*fssim.Server, string) {
	t.Helper()
	opts = append([]fssim.Option{fssim.WithAPIKey(simKey, fssim.RoleAdmin), fssim.WithAPIKey("standard-key", fssim.RoleStandard)}, opts...)
	sim, err := fssim.New(opts...)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = sim.Close()
	})
	return sim, srv.URL
}

// run runs the connector with args, in a clean environment, and returns its
// combined output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"HOME=" + cmd.Dir, "PATH=/usr/bin:/bin", "TMPDIR=" + cmd.Dir}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// failedAfterStart reports whether a one-shot run failed once its connector
// service was up. baton-sdk v0.26.0 can exit 0 there: closing the runner
// kills the connector service, and the goroutine watching that process calls
// os.Exit(0) (internal/connector/connector.go), racing the error's exit code
// in LogExit. The SDK's "error running connector" line is logged before that
// race, so the tests accept it as the failure signal, next to a missing c1z.
func failedAfterStart(err error, logs string) bool {
	return err != nil || strings.Contains(logs, `"msg":"error running connector"`)
}

// syncedUser is what a sync must carry over for each Fullstory user.
type syncedUser struct {
	ID, Name, Login, Email, Status string
}

func fromSimulator(users []fssim.User) []syncedUser {
	var out []syncedUser
	for _, u := range users {
		if u.UID == "" {
			continue // anonymous visitors are not accounts
		}
		name := u.DisplayName
		if name == "" {
			name = u.Email
		}
		if name == "" {
			name = u.UID
		}
		st := "RESOURCE_STATUS_ENABLED"
		if u.IsBeingDeleted {
			st = "RESOURCE_STATUS_DISABLED"
		}
		out = append(out, syncedUser{ID: u.ID, Name: name, Login: u.UID, Email: u.Email, Status: st})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func fromC1Z(t *testing.T, path string) []syncedUser {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read c1z: %v", err)
	}
	sum, err := c1sim.SummarizeC1Z(context.Background(), data, t.TempDir())
	if err != nil {
		t.Fatalf("decode c1z: %v", err)
	}
	var out []syncedUser
	for _, u := range sum.Users {
		email := ""
		for _, e := range u.Emails {
			if e.Primary {
				email = e.Address
			}
		}
		out = append(out, syncedUser{ID: u.ID, Name: u.DisplayName, Login: u.Login, Email: email, Status: u.Status})
	}
	return out
}

func TestOneShotSyncEqualsSimulatorIdentifiedUsers(t *testing.T) {
	sim, base := startSim(t, fssim.WithSeed(7), fssim.WithUsers(250), fssim.WithAnonymousUsers(60), fssim.WithPageSize(40))
	// One user mid-deletion must sync as disabled.
	var deleting fssim.User
	for _, u := range sim.Users() {
		if u.UID != "" {
			deleting = u
			break
		}
	}
	deleting.IsBeingDeleted = true
	if _, err := sim.PutUser(deleting); err != nil {
		t.Fatalf("PutUser: %v", err)
	}

	out := filepath.Join(t.TempDir(), "sync.c1z")
	if logs, err := run(t, "--api-key", simKey, "--base-url", base, "-f", out); err != nil {
		t.Fatalf("sync failed: %v\n%s", err, logs)
	}
	want := fromSimulator(sim.Users())
	if len(want) != 250 {
		t.Fatalf("simulator has %d identified users, want 250", len(want))
	}
	if diff := cmp.Diff(want, fromC1Z(t, out)); diff != "" {
		t.Errorf("synced users differ from the simulator's identified users (-want +got):\n%s", diff)
	}

	// One list request per page, identified users only, and nothing else.
	var lists, others int
	for _, r := range sim.Requests() {
		if r.Method == "GET" && r.Path == "/v2/users" {
			lists++
			if !strings.Contains(r.Query, "is_identified=true") {
				t.Errorf("list request without is_identified=true: %q", r.Query)
			}
		} else {
			others++
		}
	}
	// ceil(250/40) = 7 pages, each asked once: Validate's request is the
	// sync's first page.
	if lists != 7 || others != 0 {
		t.Errorf("got %d list and %d other requests, want 7 and 0", lists, others)
	}
}

func TestOneShotProvisioningCreatesAndDeletes(t *testing.T) {
	sim, base := startSim(t, fssim.WithSeed(3), fssim.WithUsers(5), fssim.WithDeleteDelay(time.Hour))
	before := sim.Users()

	logs, err := run(t, "--api-key", simKey, "--base-url", base, "-f", filepath.Join(t.TempDir(), "x.c1z"), "--provisioning",
		"--create-account-login", "new-hire-42", "--create-account-email", "new.hire@example.com",
		"--create-account-profile", `{"display_name":"New Hire"}`)
	if err != nil {
		t.Fatalf("create account: %v\n%s", err, logs)
	}
	after := sim.Users()
	var created fssim.User
	for _, u := range after {
		if u.UID == "new-hire-42" {
			created = u
		}
	}
	if created.ID == "" {
		t.Fatalf("no user with uid new-hire-42 after create; logs:\n%s", logs)
	}
	want := append(append([]fssim.User(nil), before...), fssim.User{ID: created.ID, UID: "new-hire-42", Email: "new.hire@example.com", DisplayName: "New Hire", AppURL: created.AppURL})
	sortUsers := cmpopts.SortSlices(func(a, b fssim.User) bool { return a.ID < b.ID })
	if diff := cmp.Diff(want, after, sortUsers, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("simulator state after create (-want +got):\n%s", diff)
	}

	// Creating the same person again changes nothing.
	if logs, err := run(t, "--api-key", simKey, "--base-url", base, "-f", filepath.Join(t.TempDir(), "x.c1z"), "--provisioning",
		"--create-account-login", "new-hire-42", "--create-account-email", "new.hire@example.com",
		"--create-account-profile", `{"display_name":"New Hire"}`); err != nil {
		t.Fatalf("repeated create: %v\n%s", err, logs)
	}
	if diff := cmp.Diff(after, sim.Users(), sortUsers, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("repeated create changed the simulator (-want +got):\n%s", diff)
	}

	if logs, err := run(t, "--api-key", simKey, "--base-url", base, "-f", filepath.Join(t.TempDir(), "x.c1z"), "--provisioning",
		"--delete-resource", created.ID, "--delete-resource-type", "user"); err != nil {
		t.Fatalf("delete: %v\n%s", err, logs)
	}
	for i := range after {
		if after[i].ID == created.ID {
			after[i].IsBeingDeleted = true
		}
	}
	if diff := cmp.Diff(after, sim.Users(), sortUsers, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("simulator state after delete (-want +got):\n%s", diff)
	}

	// A following sync shows the change: the user is disabled while Fullstory deletes it.
	out := filepath.Join(t.TempDir(), "sync.c1z")
	if logs, err := run(t, "--api-key", simKey, "--base-url", base, "-f", out); err != nil {
		t.Fatalf("sync: %v\n%s", err, logs)
	}
	if diff := cmp.Diff(fromSimulator(sim.Users()), fromC1Z(t, out)); diff != "" {
		t.Errorf("sync after delete (-want +got):\n%s", diff)
	}
}

func TestBadSettingsFailBeforeAnyRequest(t *testing.T) {
	sim, base := startSim(t, fssim.WithUsers(1))
	for _, tt := range []struct {
		name     string
		args     []string
		wantPart string
	}{
		{"missing key", []string{"--base-url", base}, "no Fullstory credentials are given; configure exactly one source"},
		{"base URL without a scheme", []string{"--api-key", simKey, "--base-url", "127.0.0.1:1"}, "is not a URL"},
		{"base URL with another scheme", []string{"--api-key", simKey, "--base-url", "ftp://files.example.com"}, "must start with https://"},
		{"plain http off loopback", []string{"--api-key", simKey, "--base-url", "http://fullstory.internal"}, "--insecure-http"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "x.c1z")
			logs, err := run(t, append(tt.args, "-f", out)...)
			if err == nil {
				t.Fatalf("exit 0, want failure; logs:\n%s", logs)
			}
			if !strings.Contains(logs, tt.wantPart) {
				t.Errorf("output does not name the problem %q:\n%s", tt.wantPart, logs)
			}
			if strings.Contains(logs, simKey) {
				t.Errorf("output contains the API key:\n%s", logs)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a c1z was written despite the error")
			}
		})
	}
	if n := len(sim.Requests()); n != 0 {
		t.Errorf("simulator saw %d requests, want 0", n)
	}
}

func TestWrongKeyFailsWithAClearMessageAndNoC1Z(t *testing.T) {
	_, base := startSim(t, fssim.WithUsers(3))
	for key, wantPart := range map[string]string{
		"standard-key":        "it needs Admin or Architect permission",
		"not-a-key-7a7a7a7a7": "Fullstory rejected the API key",
	} {
		out := filepath.Join(t.TempDir(), "x.c1z")
		logs, err := run(t, "--api-key", key, "--base-url", base, "-f", out, "--log-level", "debug")
		if !failedAfterStart(err, logs) || !strings.Contains(logs, wantPart) {
			t.Errorf("key %s: err %v, want a failure containing %q:\n%s", key, err, wantPart, logs)
		}
		if strings.Contains(logs, key) {
			t.Errorf("output contains the key %q", key)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("key %s: a c1z was written despite the error", key)
		}
	}
}

func TestCapabilitiesFileIsCurrent(t *testing.T) {
	got, err := exec.Command(binary, "capabilities").Output()
	if err != nil {
		t.Fatalf("capabilities: %v", err)
	}
	want, err := os.ReadFile("../../baton_capabilities.json")
	if err != nil {
		t.Fatalf("read baton_capabilities.json: %v", err)
	}
	if diff := cmp.Diff(strings.TrimSpace(string(want)), strings.TrimSpace(string(got))); diff != "" {
		t.Errorf("baton_capabilities.json is stale; run `make capabilities` (-file +binary):\n%s", diff)
	}
}
