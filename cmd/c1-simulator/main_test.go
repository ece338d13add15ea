package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	c1sim "github.com/conductorone/baton-fullstory/simulator/conductorone"
	sdkcrypto "github.com/conductorone/baton-sdk/pkg/crypto"
	"github.com/google/go-cmp/cmp"
)

func envMap(m map[string]string) lookupEnvFunc {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// syncBuffer is a goroutine-safe bytes.Buffer.
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

func TestParseServeFlagsAndEnv(t *testing.T) {
	env := envMap(map[string]string{
		"C1_SIM_LISTEN":            "0.0.0.0:9443",
		"C1_SIM_ADMIN_LISTEN":      "0.0.0.0:9091",
		"C1_SIM_TLS_SELF_SIGNED":   "true",
		"C1_SIM_TLS_HOSTNAME":      "c1-simulator, localhost",
		"C1_SIM_SYNC_INTERVAL":     "5m",
		"C1_SIM_ADMIN_TOKEN":       "from-env",
		"C1_SIM_HEARTBEAT_TIMEOUT": "90s",
	})
	got, err := parseServe([]string{"--admin-token", "from-flag", "--ca-out", "/tmp/ca.pem"}, env, io.Discard)
	if err != nil {
		t.Fatalf("parseServe: %v", err)
	}
	want := serveConfig{
		Listen: "0.0.0.0:9443", AdminListen: "0.0.0.0:9091", AdminToken: "from-flag",
		TLSSelfSigned: true, TLSHostnames: []string{"c1-simulator", "localhost"}, CAOut: "/tmp/ca.pem",
		CredentialsName: "baton", SyncInterval: 5 * time.Minute, TokenTTL: c1sim.DefaultTokenTTL,
		HeartbeatInterval: c1sim.DefaultHeartbeatInterval, HeartbeatTimeout: 90 * time.Second,
		PollInterval: c1sim.DefaultPollInterval, LogLevel: "info",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}

	got, err = parseServe([]string{"--tls-self-signed", "--tls-hostname", "a", "--tls-hostname", "b"}, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, got.TLSHostnames); diff != "" {
		t.Errorf("repeated --tls-hostname (-want +got):\n%s", diff)
	}
	got, err = parseServe([]string{"--tls-self-signed"}, envMap(nil), io.Discard)
	if err != nil || !cmp.Equal(got.TLSHostnames, []string{"localhost", "127.0.0.1"}) || got.Listen != "127.0.0.1:8443" || got.AdminListen != "127.0.0.1:8091" {
		t.Errorf("defaults: %+v, %v", got, err)
	}
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "TLS is required"},
		{[]string{"--tls-self-signed", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, "exclude each other"},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--ca-out", "ca.pem"}, "--ca-out needs --tls-self-signed"},
		{[]string{"--tls-self-signed", "--log-level", "loud"}, "--log-level"},
		{[]string{"--tls-self-signed", "--sync-interval", "often"}, "invalid value"},
		{[]string{"--tls-self-signed", "extra"}, "unexpected arguments"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), tc.args, envMap(nil), io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run(%q): exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--tls-self-signed"}, envMap(map[string]string{"C1_SIM_TOKEN_TTL": "soon"}), io.Discard, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "C1_SIM_TOKEN_TTL") {
		t.Errorf("bad env value: exit %d, stderr %q", code, stderr.String())
	}
	if code := run(context.Background(), []string{"-h"}, envMap(nil), io.Discard, io.Discard); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
}

var readyRE = regexp.MustCompile(`c1-simulator listening on https://(\S+) \(admin http://(\S+)\)`)

func TestRunServesUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	caOut := filepath.Join(dir, "ca.pem")
	credsOut := filepath.Join(dir, "creds.env")
	stateFile := filepath.Join(dir, "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--tls-self-signed",
			"--ca-out", caOut, "--credentials-out", credsOut, "--credentials-name", "demo", "--state-file", stateFile},
			envMap(map[string]string{"C1_SIM_ADMIN_TOKEN": "adm"}), &stdout, &stderr)
	}()

	var m []string
	deadline := time.Now().Add(30 * time.Second)
	for m = readyRE.FindStringSubmatch(stdout.String()); m == nil; m = readyRE.FindStringSubmatch(stdout.String()) {
		select {
		case code := <-done:
			t.Fatalf("run exited %d before ready; stderr:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready line; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	apiAddr, adminAddr := m[1], m[2]

	// Credentials file: env lines, owner-only, parseable by baton-sdk, tenant host = listen address.
	raw, err := os.ReadFile(credsOut)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(credsOut); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", fi.Mode().Perm())
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 2 || lines[0] != "BATON_CLIENT_ID=demo@"+apiAddr+"/pcc" || !strings.HasPrefix(lines[1], "BATON_CLIENT_SECRET=secret-token:conductorone.com:v1:") {
		t.Fatalf("credentials file:\n%s", raw)
	}
	if _, err := sdkcrypto.ParseClientSecret([]byte(strings.TrimPrefix(lines[1], "BATON_CLIENT_SECRET=")), false); err != nil {
		t.Errorf("SDK cannot parse the written secret: %v", err)
	}
	if strings.Contains(stderr.String(), strings.TrimPrefix(lines[1], "BATON_CLIENT_SECRET=")) {
		t.Errorf("the client secret was logged")
	}

	// The CA written to --ca-out verifies the TLS port (hostname 127.0.0.1).
	caPEM, err := os.ReadFile(caOut)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("--ca-out is not PEM: %q", caPEM)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + apiAddr + c1sim.TokenPath)
	if err != nil {
		t.Fatalf("GET token endpoint over TLS with the CA: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint: %d, want 405", resp.StatusCode)
	}

	// The admin API is up and wants its token.
	for token, want := range map[string]int{"": http.StatusUnauthorized, "adm": http.StatusOK} {
		req, _ := http.NewRequest("GET", "http://"+adminAddr+"/admin/tasks", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /admin/tasks with token %q: %d, want %d", token, resp.StatusCode, want)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run exited %d after cancel; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
	state, err := os.ReadFile(stateFile)
	if err != nil || !strings.Contains(string(state), "demo@"+apiAddr+"/pcc") {
		t.Errorf("state file after shutdown: %v\n%s", err, state)
	}
}

func TestCredentialsSubcommand(t *testing.T) {
	srv, err := c1sim.New(c1sim.WithAdminToken("adm"), c1sim.WithTenantHost("tenant.example"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	admin := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(admin.Close)

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"credentials", "--name", "ci"},
		envMap(map[string]string{"C1_SIM_ADMIN_URL": admin.URL, "C1_SIM_ADMIN_TOKEN": "adm"}), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("credentials: exit %d, stderr %s", code, stderr.String())
	}
	if !regexp.MustCompile(`^BATON_CLIENT_ID=ci@tenant\.example/pcc\nBATON_CLIENT_SECRET=secret-token:conductorone\.com:v1:[A-Za-z0-9_-]+\n$`).MatchString(stdout.String()) {
		t.Errorf("credentials output:\n%s", stdout.String())
	}
	if diff := cmp.Diff([]string{"ci@tenant.example/pcc"}, clientIDs(srv)); diff != "" {
		t.Errorf("registered clients (-want +got):\n%s", diff)
	}

	stderr.Reset()
	code = run(context.Background(), []string{"credentials", "--admin-url", admin.URL}, envMap(nil), io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "401") {
		t.Errorf("credentials without the admin token: exit %d, stderr %q", code, stderr.String())
	}

	// Offline, into a state file, as JSON to a file.
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	out := filepath.Join(dir, "creds.json")
	code = run(context.Background(), []string{"credentials", "--state-file", state, "--tenant-host", "offline.example",
		"--name", "off", "--json", "--out", out}, envMap(nil), io.Discard, &stderr)
	if code != 0 {
		t.Fatalf("offline credentials: exit %d, stderr %s", code, stderr.String())
	}
	var creds c1sim.Credentials
	raw, _ := os.ReadFile(out)
	if err := json.Unmarshal(raw, &creds); err != nil || creds.ClientID != "off@offline.example/pcc" {
		t.Errorf("offline credentials file: %s (%v)", raw, err)
	}
	reloaded, err := c1sim.New(c1sim.WithStateFile(state))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reloaded.Close() })
	if diff := cmp.Diff([]string{"off@offline.example/pcc"}, clientIDs(reloaded)); diff != "" {
		t.Errorf("clients in the state file (-want +got):\n%s", diff)
	}
}

func clientIDs(s *c1sim.Server) []string {
	var out []string
	for _, c := range s.Clients() {
		out = append(out, c.ClientID)
	}
	return out
}

func TestTenantHostFor(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8443": "127.0.0.1:8443",
		"0.0.0.0:8443":   "localhost:8443",
		"[::]:8443":      "localhost:8443",
	} {
		if got := tenantHostFor(fakeAddr(addr)); got != want {
			t.Errorf("tenantHostFor(%s) = %s, want %s", addr, got, want)
		}
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// The real binary shuts down cleanly on SIGTERM.
func TestBinaryStopsOnSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "c1-simulator")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--tls-self-signed")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !readyRE.MatchString(line) {
		t.Fatalf("ready line %q, %v; stderr %s", line, err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; stderr %s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("stderr lacks the shutdown log:\n%s", stderr.String())
	}
}

func TestSummarizeSubcommand(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"summarize"}, envMap(nil), &stdout, &stderr); code != 2 {
		t.Errorf("summarize without a file: exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"summarize", filepath.Join(t.TempDir(), "missing.c1z")}, envMap(nil), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no such file") {
		t.Errorf("summarize of a missing file: exit %d, stderr %q", code, stderr.String())
	}

	var out bytes.Buffer
	writeSummary(&out, "sync.c1z", c1sim.UploadSummary{
		Counts: map[string]int{"user": 3},
		Users: []c1sim.SummaryUser{
			{ID: "a", DisplayName: "Ann", Emails: []c1sim.SummaryEmail{{Address: "ann@x.io", Primary: true}}, Status: "RESOURCE_STATUS_ENABLED"},
			{ID: "b", DisplayName: "Bob", Status: "RESOURCE_STATUS_DISABLED"},
			{ID: "c", DisplayName: "Cid", Status: "RESOURCE_STATUS_ENABLED"},
		},
	}, 2)
	want := "sync.c1z: 3 user (2 enabled, 1 disabled)\n" +
		"  a                        Ann                              ann@x.io                             STATUS_ENABLED\n" +
		"  b                        Bob                                                                   STATUS_DISABLED\n" +
		"  ... and 1 more\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}
