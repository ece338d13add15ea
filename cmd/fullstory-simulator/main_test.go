package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
)

func envFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func defaults() config {
	return config{
		Listen: "127.0.0.1:8089", Users: 50, AnonymousUsers: 10, Seed: 1, PageSize: 100,
		DeleteDelay: 2 * time.Second, TLSHostnames: []string{"localhost", "127.0.0.1", "::1"},
		RequestLogLimit: 10000, Teammates: 20, SCIMPageSize: 100, SCIMMaxPageSize: 100,
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want func(c *config)
	}{
		{"defaults", nil, nil, func(c *config) {}},
		{"flags", []string{
			"--listen", "0.0.0.0:9000", "--api-key", "k1", "--api-key", "k2:standard", "--api-key", "a:b:architect",
			"--users", "7", "--anonymous-users", "3", "--seed", "-4", "--page-size", "25", "--fixture", "f.json",
			"--state-file", "s.json", "--delete-delay", "0s", "--tls-self-signed", "--tls-hostname", "sim",
			"--tls-hostname", "10.0.0.2", "--ca-out", "ca.pem", "--latency", "20ms", "--rate-limit-rps", "9",
			"--error-rate", "0.05", "--drop-rate", "0.02", "--admin-token", "adm", "--request-log-limit", "5", "--verbose",
			"--scim-token", "s1", "--scim-token", "s:2", "--teammates", "9", "--scim-page-size", "10", "--scim-max-page-size", "25",
		}, nil, func(c *config) {
			*c = config{
				Listen:  "0.0.0.0:9000",
				APIKeys: []apiKey{{"k1", fssim.RoleAdmin}, {"k2", fssim.RoleStandard}, {"a:b", fssim.RoleArchitect}},
				Users:   7, AnonymousUsers: 3, Seed: -4, PageSize: 25, Fixture: "f.json", StateFile: "s.json",
				DeleteDelay: 0, TLSSelfSigned: true, TLSHostnames: []string{"sim", "10.0.0.2"}, CAOut: "ca.pem",
				Latency: 20 * time.Millisecond, RateLimitRPS: 9, ErrorRate: 0.05, DropRate: 0.02,
				AdminToken: "adm", RequestLogLimit: 5, Verbose: true,
				SCIMTokens: []string{"s1", "s:2"}, Teammates: 9, SCIMPageSize: 10, SCIMMaxPageSize: 25,
			}
		}},
		{"env", nil, map[string]string{
			"FULLSTORY_SIM_LISTEN": "127.0.0.1:0", "FULLSTORY_SIM_API_KEY": "e1,e2:architect",
			"FULLSTORY_SIM_USERS": "11", "FULLSTORY_SIM_ANONYMOUS_USERS": "0", "FULLSTORY_SIM_TLS_SELF_SIGNED": "true",
			"FULLSTORY_SIM_TLS_HOSTNAME": "fullstory-simulator,localhost", "FULLSTORY_SIM_ERROR_RATE": "0.5",
			"FULLSTORY_SIM_DELETE_DELAY": "1m", "FULLSTORY_SIM_ADMIN_TOKEN": "t",
			"FULLSTORY_SIM_SCIM_TOKEN": "st1,st2", "FULLSTORY_SIM_TEAMMATES": "0", "FULLSTORY_SIM_SCIM_MAX_PAGE_SIZE": "7",
		}, func(c *config) {
			c.Listen = "127.0.0.1:0"
			c.APIKeys = []apiKey{{"e1", fssim.RoleAdmin}, {"e2", fssim.RoleArchitect}}
			c.Users, c.AnonymousUsers = 11, 0
			c.TLSSelfSigned = true
			c.TLSHostnames = []string{"fullstory-simulator", "localhost"}
			c.ErrorRate = 0.5
			c.DeleteDelay = time.Minute
			c.AdminToken = "t"
			c.SCIMTokens = []string{"st1", "st2"}
			c.Teammates = 0
			c.SCIMMaxPageSize = 7
		}},
		{"flag beats env", []string{"--users", "2", "--api-key", "flag", "--scim-token", "flag-tok", "--teammates", "1"}, map[string]string{
			"FULLSTORY_SIM_USERS": "99", "FULLSTORY_SIM_API_KEY": "env", "FULLSTORY_SIM_SEED": "5",
			"FULLSTORY_SIM_SCIM_TOKEN": "env-tok", "FULLSTORY_SIM_TEAMMATES": "40", "FULLSTORY_SIM_SCIM_PAGE_SIZE": "3",
		}, func(c *config) {
			c.Users = 2
			c.APIKeys = []apiKey{{"flag", fssim.RoleAdmin}}
			c.Seed = 5
			c.SCIMTokens = []string{"flag-tok"}
			c.Teammates = 1
			c.SCIMPageSize = 3
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.args, envFrom(tc.env), io.Discard)
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			want := defaults()
			tc.want(&want)
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"--nope"}, nil, "flag provided but not defined"},
		{"positional", []string{"extra"}, nil, "unexpected arguments"},
		{"bad role", []string{"--api-key", "k:owner"}, nil, "unknown role"},
		{"empty key", []string{"--api-key", ":admin"}, nil, "empty API key"},
		{"bad listen", []string{"--listen", "8089"}, nil, "--listen"},
		{"negative users", []string{"--users", "-1"}, nil, "--users"},
		{"page size", []string{"--page-size", "0"}, nil, "--page-size"},
		{"page size big", []string{"--page-size", "1001"}, nil, "--page-size"},
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil, "--tls-key"},
		{"both tls modes", []string{"--tls-cert", "c", "--tls-key", "k", "--tls-self-signed"}, nil, "exclude"},
		{"ca-out alone", []string{"--ca-out", "ca.pem"}, nil, "--ca-out needs"},
		{"hostname alone", []string{"--tls-hostname", "x"}, nil, "--tls-hostname needs"},
		{"error rate", []string{"--error-rate", "1.5"}, nil, "--error-rate"},
		{"drop rate", []string{"--drop-rate", "-0.1"}, nil, "--drop-rate"},
		{"rates sum", []string{"--error-rate", "0.6", "--drop-rate", "0.6"}, nil, "at most 1"},
		{"latency", []string{"--latency", "-1s"}, nil, "--latency"},
		{"rps", []string{"--rate-limit-rps", "-2"}, nil, "--rate-limit-rps"},
		{"delete delay", []string{"--delete-delay", "-1s"}, nil, "--delete-delay"},
		{"bad env int", nil, map[string]string{"FULLSTORY_SIM_USERS": "many"}, "FULLSTORY_SIM_USERS"},
		{"bad env role", nil, map[string]string{"FULLSTORY_SIM_API_KEY": "a,b:root"}, "FULLSTORY_SIM_API_KEY"},
		{"bad env bool", nil, map[string]string{"FULLSTORY_SIM_TLS_SELF_SIGNED": "perhaps"}, "FULLSTORY_SIM_TLS_SELF_SIGNED"},
		{"empty scim token", []string{"--scim-token", " "}, nil, "--scim-token: empty token"},
		{"empty scim token in env", nil, map[string]string{"FULLSTORY_SIM_SCIM_TOKEN": "secret-key,"}, "FULLSTORY_SIM_SCIM_TOKEN: empty token"},
		{"negative teammates", []string{"--teammates", "-1"}, nil, "--teammates"},
		{"too many teammates", []string{"--teammates", "1000001"}, nil, "--teammates"},
		{"scim page size", []string{"--scim-page-size", "0"}, nil, "--scim-page-size"},
		{"scim max page size", []string{"--scim-max-page-size", "1001"}, nil, "--scim-max-page-size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(tc.args, envFrom(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !errors.Is(err, errUsage) {
				t.Errorf("error %v is not a usage error", err)
			}
			if strings.Contains(err.Error(), "secret-key") {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
	if _, err := parseConfig([]string{"--api-key", "secret-key:nope"}, envFrom(nil), io.Discard); err == nil || strings.Contains(err.Error(), "secret-key") {
		t.Errorf("bad role error %v must not contain the key", err)
	}
}

// startRun runs the binary's run in the background and returns the base URL
// it prints, a stop function and the channel of run's result.
func startRun(t *testing.T, args []string, env map[string]string) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, envFrom(env), pw, io.Discard)
		pw.CloseWithError(errors.New("run returned"))
		done <- err
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	t.Cleanup(cancel)
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("run ended without a listening line: %v", <-done)
		}
		const prefix = "fullstory-simulator listening on "
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("first line %q, want %q...", line, prefix)
		}
		return strings.TrimPrefix(line, prefix), cancel, done
	case <-time.After(30 * time.Second):
		t.Fatal("no listening line within 30s")
	}
	return "", cancel, done
}

func TestRunServesAndFlushesState(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	base, stop, done := startRun(t, []string{"--listen", "127.0.0.1:0", "--users", "5", "--anonymous-users", "1",
		"--state-file", state, "--admin-token", "adm", "--teammates", "6", "--scim-max-page-size", "4"},
		map[string]string{"FULLSTORY_SIM_API_KEY": "k1,k2:standard", "FULLSTORY_SIM_SCIM_TOKEN": "sc1,sc2"})
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base URL %q", base)
	}
	do := func(method, path, auth, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if s, b := do("GET", "/v2/users", "Basic k1", ""); s != 200 || !strings.Contains(b, `"total_records":"6"`) {
		t.Errorf("list: %d %.200s", s, b)
	}
	if s, _ := do("GET", "/v2/users", "Basic k2", ""); s != 403 {
		t.Errorf("standard key list: %d, want 403", s)
	}
	if s, _ := do("GET", "/v2/users", "Basic k3", ""); s != 401 {
		t.Errorf("unknown key: %d, want 401", s)
	}
	if s, b := do("POST", "/v2/users", "Basic k2", `{"uid":"flushed-on-sigterm"}`); s != 200 {
		t.Errorf("create: %d %s", s, b)
	}
	if s, _ := do("GET", "/_simulator/users", "", ""); s != 401 {
		t.Errorf("admin without token: %d, want 401", s)
	}
	if s, _ := do("GET", "/_simulator/healthz", "", ""); s != 200 {
		t.Errorf("healthz: %d", s)
	}
	// SCIM: the second token works, the page is capped, v2 keys do not open it.
	if s, b := do("GET", "/scim/v2/Users?count=10", "Bearer sc2", ""); s != 200 ||
		!strings.Contains(b, `"totalResults":6,"startIndex":1,"itemsPerPage":4`) {
		t.Errorf("SCIM list: %d %.300s", s, b)
	}
	if s, _ := do("GET", "/scim/v2/Users", "Bearer k1", ""); s != 401 {
		t.Errorf("SCIM with an API key: %d, want 401", s)
	}
	if s, b := do("POST", "/scim/v2/Users", "Bearer sc1", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"kept@example.com"}`); s != 201 {
		t.Errorf("SCIM create: %d %s", s, b)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var sf struct {
		Users []struct {
			UID string `json:"uid"`
		} `json:"users"`
		Teammates []fssim.Teammate `json:"teammates"`
	}
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatalf("state file: %v", err)
	}
	if n := len(sf.Users); n != 7 || sf.Users[6].UID != "flushed-on-sigterm" {
		t.Errorf("state file has %d users (last %+v), want 7 ending with the new one", n, sf.Users[len(sf.Users)-1])
	}
	if n := len(sf.Teammates); n != 7 || sf.Teammates[6].UserName != "kept@example.com" {
		t.Errorf("state file has %d teammates, want 7 ending with the new one", n)
	}
}

func TestRunSelfSignedTLS(t *testing.T) {
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	base, stop, done := startRun(t, []string{"--listen", "127.0.0.1:0", "--tls-self-signed", "--ca-out", caPath,
		"--tls-hostname", "127.0.0.1", "--users", "2", "--anonymous-users", "0", "--api-key", "k"}, nil)
	defer func() { stop(); <-done }()
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("base URL %q, want https", base)
	}
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file is not PEM")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	req, _ := http.NewRequest("GET", base+"/v2/users", nil)
	req.Header.Set("Authorization", "Basic k")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("HTTPS with the CA: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestRunTLSFiles(t *testing.T) {
	m, err := fssim.SelfSignedTLS([]string{"127.0.0.1"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, m.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, m.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop, done := startRun(t, []string{"--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key}, nil)
	defer func() { stop(); <-done }()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.CACertPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/_simulator/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz over HTTPS: %d", resp.StatusCode)
	}

	if err := run(context.Background(), []string{"--tls-cert", key, "--tls-key", cert}, envFrom(nil), io.Discard, io.Discard); err == nil {
		t.Error("swapped cert and key accepted")
	}
}

func TestRunStartupErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "state.json")
	if err := os.WriteFile(bad, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad flag", []string{"--users", "x"}, "invalid value"},
		{"corrupt state", []string{"--listen", "127.0.0.1:0", "--state-file", bad}, "state file"},
		{"missing fixture", []string{"--listen", "127.0.0.1:0", "--fixture", filepath.Join(dir, "none.json")}, "fixture"},
		{"unbindable", []string{"--listen", "256.0.0.1:0"}, "--listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), tc.args, envFrom(nil), &out, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run: %v, want an error containing %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q before failing", out.String())
			}
		})
	}
	if err := run(context.Background(), []string{"--help"}, envFrom(nil), io.Discard, io.Discard); err != nil {
		t.Errorf("--help: %v", err)
	}
}
