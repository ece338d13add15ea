package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"net"
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

	"github.com/cockroachdb/pebble/v2"
	c1sim "github.com/conductorone/baton-fullstory/simulator/conductorone"
	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	formatv3 "github.com/conductorone/baton-sdk/pkg/dotc1z/format/v3"
)

// secretKey is an admin API key that must never leave the connector except
// in the Authorization header to Fullstory.
const secretKey = "fs-secret-admin-key-Q7x9W2mZ4k"

// bearerRE finds a bearer token written out anywhere.
var bearerRE = regexp.MustCompile(`(?i)bearer[ :="]+[A-Za-z0-9_\-.]{20,}`)

// secretsIn names each secret (and each encoding of it) found in data.
func secretsIn(data []byte, secrets map[string]string) []string {
	var found []string
	for name, s := range secrets {
		if s == "" {
			continue
		}
		for enc, v := range map[string]string{
			"":                s,
			" (base64)":       base64.StdEncoding.EncodeToString([]byte(s)),
			" (base64url)":    base64.RawURLEncoding.EncodeToString([]byte(s)),
			" (JSON-escaped)": strings.Trim(mustJSON(s), `"`),
		} {
			if bytes.Contains(data, []byte(v)) {
				found = append(found, name+enc)
			}
		}
	}
	return found
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// checkNoSecrets fails the test when data holds a secret or a bearer token.
func checkNoSecrets(t *testing.T, where string, data []byte, secrets map[string]string) {
	t.Helper()
	if found := secretsIn(data, secrets); len(found) > 0 {
		t.Errorf("%s contains the %s", where, strings.Join(found, ", "))
	}
	if m := bearerRE.Find(data); m != nil {
		t.Errorf("%s contains a bearer token: %.30s...", where, m)
	}
}

// c1zPlaintext decodes a c1z to the bytes its storage engine keeps: the
// SQLite database of a v1 file, or every payload file of a v3 (Pebble)
// envelope.
func c1zPlaintext(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open c1z: %v", err)
	}
	defer f.Close()
	format, err := dotc1z.ReadHeaderFormat(f)
	if err != nil {
		t.Fatalf("c1z header: %v", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	switch format {
	case dotc1z.C1ZFormatV1:
		dec, err := dotc1z.NewC1ZFileDecoder(f)
		if err != nil {
			t.Fatalf("decode c1z: %v", err)
		}
		defer dec.Close()
		b, err := io.ReadAll(dec)
		if err != nil {
			t.Fatalf("decode c1z: %v", err)
		}
		return b
	case dotc1z.C1ZFormatV3:
		// The payload is a Pebble database whose blocks are compressed:
		// read every key and value through Pebble itself, plus the raw
		// files (the manifest and options are plain).
		dir := t.TempDir()
		if _, _, err := formatv3.ExtractEnvelopePayload(f, dir); err != nil {
			t.Fatalf("extract c1z payload: %v", err)
		}
		all, err := os.ReadFile(path) // the envelope's manifest is plain protobuf
		if err != nil {
			t.Fatal(err)
		}
		var dbDirs []string
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasPrefix(d.Name(), "OPTIONS-") {
				dbDirs = append(dbDirs, filepath.Dir(p))
			}
			b, err := os.ReadFile(p)
			all = append(all, b...)
			return err
		})
		if err != nil {
			t.Fatalf("read c1z payload: %v", err)
		}
		if len(dbDirs) == 0 {
			t.Fatalf("the c1z payload holds no Pebble database")
		}
		for _, d := range dbDirs {
			all = append(all, pebbleDump(t, d)...)
		}
		return all
	default:
		t.Fatalf("c1z format %v", format)
		return nil
	}
}

// pebbleDump returns every key and value of the Pebble database in dir.
func pebbleDump(t *testing.T, dir string) []byte {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: quietPebble{t}})
	if err != nil {
		t.Fatalf("open the c1z's Pebble database: %v", err)
	}
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatalf("iterate the c1z's Pebble database: %v", err)
	}
	var all []byte
	for it.First(); it.Valid(); it.Next() {
		all = append(all, it.Key()...)
		all = append(all, it.Value()...)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("iterate the c1z's Pebble database: %v", err)
	}
	return all
}

// quietPebble drops Pebble's chatter about replaying the (empty) WAL.
type quietPebble struct{ t *testing.T }

func (quietPebble) Infof(string, ...any)           {}
func (q quietPebble) Errorf(f string, args ...any) { q.t.Logf("pebble: "+f, args...) }
func (q quietPebble) Fatalf(f string, args ...any) { q.t.Fatalf("pebble: "+f, args...) }

// checkC1Z decodes a c1z and checks it for secrets. The decode must show
// data we know is there (a user's email), or the check would prove nothing.
func checkC1Z(t *testing.T, path string, known string, secrets map[string]string) {
	t.Helper()
	plain := c1zPlaintext(t, path)
	if !bytes.Contains(plain, []byte(known)) {
		t.Fatalf("the decoded c1z (%d bytes) does not show %q: cannot check it for secrets", len(plain), known)
	}
	checkNoSecrets(t, "the c1z", plain, secrets)
}

func TestSecretsStayOutOfLogsHelpAndC1Z(t *testing.T) {
	t.Parallel()
	sim, err := fssim.New(fssim.WithAPIKey(secretKey, fssim.RoleAdmin), fssim.WithSeed(13),
		fssim.WithUsers(150), fssim.WithAnonymousUsers(20), fssim.WithPageSize(40))
	if err != nil {
		t.Fatal(err)
	}
	// After failAfter list requests, every request fails (for the failing sync).
	var mu sync.Mutex
	failAfter, lists := -1, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lists++
		fail := failAfter >= 0 && lists > failAfter
		mu.Unlock()
		if fail {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"code":"server_error","message":"injected"}`))
			return
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		_ = sim.Close()
	})
	var known string
	for _, u := range sim.Users() {
		if u.UID != "" && u.Email != "" {
			known = u.Email
			break
		}
	}
	secrets := map[string]string{"API key": secretKey}

	t.Run("sync with the key as a flag, debug, sqlite", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "sync.c1z")
		res := runBounded(t, 2*time.Minute, "--api-key", secretKey, "--base-url", srv.URL, "--log-level", "debug",
			"--storage-engine", "sqlite", "-f", out)
		if res.err != nil {
			t.Fatalf("sync: %v\n%s", res.err, tail(res.out, 30))
		}
		if !strings.Contains(res.out, `"level":"debug"`) {
			t.Fatalf("no debug lines in the output: the check would prove little")
		}
		checkNoSecrets(t, "the output", []byte(res.out), secrets)
		checkC1Z(t, out, known, secrets)
	})

	t.Run("sync with the key in the environment, debug, default engine", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "sync.c1z")
		res := runBoundedEnv(t, 2*time.Minute, []string{"BATON_API_KEY=" + secretKey, "BATON_LOG_LEVEL=debug", "BATON_BASE_URL=" + srv.URL},
			"-f", out)
		if res.err != nil {
			t.Fatalf("sync: %v\n%s", res.err, tail(res.out, 30))
		}
		checkNoSecrets(t, "the output", []byte(res.out), secrets)
		checkC1Z(t, out, known, secrets)
	})

	t.Run("failing sync, debug", func(t *testing.T) {
		mu.Lock()
		failAfter, lists = 2, 0 // two pages (the first through Validate), then 500s
		mu.Unlock()
		defer func() {
			mu.Lock()
			failAfter = -1
			mu.Unlock()
		}()
		out := filepath.Join(t.TempDir(), "sync.c1z")
		res := runBounded(t, 2*time.Minute, "--api-key", secretKey, "--base-url", srv.URL, "--log-level", "debug",
			"--storage-engine", "sqlite", "-f", out)
		if !failedAfterStart(res.err, res.out) || !strings.Contains(res.out, "Fullstory answered 500") {
			t.Fatalf("sync against 500s: exit %v, want a failure naming the 500\n%s", res.err, tail(res.out, 30))
		}
		checkNoSecrets(t, "the output", []byte(res.out), secrets)
		if _, err := os.Stat(out); err == nil {
			checkC1Z(t, out, "", secrets) // the partial c1z left for resumption
		}
	})

	t.Run("rejected key, debug", func(t *testing.T) {
		rejected := "fs-rejected-key-Zr8PqL3vN5"
		res := runBounded(t, 2*time.Minute, "--api-key", rejected, "--base-url", srv.URL, "--log-level", "debug",
			"-f", filepath.Join(t.TempDir(), "sync.c1z"))
		if !failedAfterStart(res.err, res.out) || !strings.Contains(res.out, "Fullstory rejected the API key") {
			t.Fatalf("rejected key: exit %v\n%s", res.err, tail(res.out, 30))
		}
		checkNoSecrets(t, "the output", []byte(res.out), map[string]string{"rejected API key": rejected, "API key": secretKey})
	})

	t.Run("SCIM sync and a rejected SCIM token, debug", func(t *testing.T) {
		const secretSCIM = "scim-secret-token-Vb6Hn1Tq8e"
		scimSim, err := fssim.New(fssim.WithSCIMToken(secretSCIM), fssim.WithSeed(15), fssim.WithTeammates(45))
		if err != nil {
			t.Fatal(err)
		}
		scimSrv := httptest.NewServer(scimSim.Handler())
		t.Cleanup(func() {
			scimSrv.Close()
			_ = scimSim.Close()
		})
		knownTeammate := scimSim.Teammates()[0].UserName
		scimSecrets := map[string]string{"SCIM token": secretSCIM}
		out := filepath.Join(t.TempDir(), "sync.c1z")
		res := runBounded(t, 2*time.Minute, "--scim-base-url", scimSrv.URL+"/scim/v2", "--scim-token", secretSCIM,
			"--log-level", "debug", "--storage-engine", "sqlite", "-f", out)
		if res.err != nil {
			t.Fatalf("SCIM sync: %v\n%s", res.err, tail(res.out, 30))
		}
		checkNoSecrets(t, "the output", []byte(res.out), scimSecrets)
		checkC1Z(t, out, knownTeammate, scimSecrets)

		rejected := "scim-rejected-token-Lm2Kx7Wd"
		res = runBounded(t, 2*time.Minute, "--scim-base-url", scimSrv.URL+"/scim/v2", "--scim-token", rejected,
			"--log-level", "debug", "-f", filepath.Join(t.TempDir(), "sync.c1z"))
		if !failedAfterStart(res.err, res.out) || !strings.Contains(res.out, "Fullstory rejected the SCIM token") {
			t.Fatalf("rejected SCIM token: exit %v\n%s", res.err, tail(res.out, 30))
		}
		checkNoSecrets(t, "the output", []byte(res.out), map[string]string{"rejected SCIM token": rejected, "SCIM token": secretSCIM})
	})

	clientSecret := "secret-token:conductorone.com:v1:" + base64.RawURLEncoding.EncodeToString([]byte(`{"kty":"OKP","crv":"Ed25519","d":"c2VjcmV0LWQtdmFsdWUtZm9yLXRlc3Rz","x":"eA"}`))
	for _, args := range [][]string{{"--help"}, {"--api-key", secretKey, "--help"}, {"config"}, {"capabilities"}, {"--version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			res := runBoundedEnv(t, time.Minute, []string{"BATON_API_KEY=" + secretKey, "BATON_CLIENT_ID=x@localhost/pcc",
				"BATON_CLIENT_SECRET=" + clientSecret, "BATON_BASE_URL=" + srv.URL, "BATON_SCIM_TOKEN=scim-env-token-Pq4Rs8Tu"}, args...)
			if res.err != nil {
				t.Fatalf("%v: %v\n%s", args, res.err, tail(res.out, 20))
			}
			if args[len(args)-1] == "--help" && !strings.Contains(res.out, "--api-key") {
				t.Fatalf("help does not list --api-key:\n%s", res.out)
			}
			checkNoSecrets(t, "the output", []byte(res.out), map[string]string{"API key": secretKey, "client secret": clientSecret,
				"SCIM token": "scim-env-token-Pq4Rs8Tu"})
		})
	}
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

// jwkPrivateD returns the private key ("d") inside a ConductorOne client secret.
func jwkPrivateD(t *testing.T, secret string) string {
	t.Helper()
	i := strings.LastIndex(secret, ":")
	raw, err := base64.RawURLEncoding.DecodeString(secret[i+1:])
	if err != nil {
		t.Fatalf("client secret: %v", err)
	}
	var jwk struct {
		D string `json:"d"`
	}
	if err := json.Unmarshal(raw, &jwk); err != nil || jwk.D == "" {
		t.Fatalf("client secret JWK: %v", err)
	}
	return jwk.D
}

// TestServiceModeSecretsStayOutOfLogsUploadsAndState runs one service-mode
// sync at debug level and checks the connector's output, the uploaded c1z,
// the C1 simulator's log and its state file for the client secret (and the
// private key inside it), the API key and bearer tokens. (The servicemode
// package checks the connector's output in its own scenarios; this adds the
// upload, the simulator's side and the bearer tokens.)
func TestServiceModeSecretsStayOutOfLogsUploadsAndState(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, fssim.WithSeed(14), fssim.WithUsers(30), fssim.WithPageSize(10))
	_ = sim
	var known string
	for _, u := range sim.Users() {
		if u.UID != "" && u.Email != "" {
			known = u.Email
			break
		}
	}
	// startSim accepts simKey; service mode uses it as its API key.
	c1Log := &logBuffer{}
	state := filepath.Join(t.TempDir(), "c1-state.json")
	c1, err := c1sim.New(c1sim.WithSelfSignedTLS("127.0.0.1", "localhost"), c1sim.WithStateFile(state),
		c1sim.WithPollInterval(200*time.Millisecond), c1sim.WithHeartbeatInterval(time.Second),
		c1sim.WithLogger(slog.New(slog.NewTextHandler(c1Log, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		c1sim.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- c1.Serve(l) }()
	t.Cleanup(func() {
		_ = c1.Close()
		<-serveErr
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, c1.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := c1.MintCredentials("secrets")
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"client secret":             creds.ClientSecret,
		"client secret private key": jwkPrivateD(t, creds.ClientSecret),
		"API key":                   simKey,
	}

	dir := t.TempDir()
	cmd := exec.Command(binary, "--log-level", "debug")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "TMPDIR=" + dir, "PATH=/usr/bin:/bin",
		"BATON_CLIENT_ID=" + creds.ClientID, "BATON_CLIENT_SECRET=" + creds.ClientSecret,
		"BATON_C1_API_HOST=" + l.Addr().String(), "SSL_CERT_FILE=" + caFile, "BATON_HOST_ID=secrets-test",
		"BATON_API_KEY=" + simKey, "BATON_BASE_URL=" + base}
	out := &logBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})

	id, err := c1.EnqueueTask(c1sim.TaskSpec{Type: c1sim.TaskFullSync})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := c1.WaitTask(ctx, id)
	if err != nil || v.Status != c1sim.StatusSucceeded || v.Uploads != 1 {
		t.Fatalf("service-mode sync: %+v, %v\n%s", v, err, tail(string(out.Bytes()), 30))
	}
	upload, ok := c1.Upload(id)
	if !ok {
		t.Fatal("no upload")
	}
	c1zPath := filepath.Join(t.TempDir(), "upload.c1z")
	if err := os.WriteFile(c1zPath, upload, 0o600); err != nil {
		t.Fatal(err)
	}
	checkC1Z(t, c1zPath, known, secrets)

	// Stop the connector so its output is complete, and the simulator so
	// its state file is written.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
		done <- nil
	case <-time.After(15 * time.Second):
		t.Errorf("the connector did not stop on SIGTERM")
	}
	if err := c1.Close(); err != nil {
		t.Errorf("c1 simulator Close: %v", err)
	}
	connectorOut := out.Bytes()
	if !bytes.Contains(connectorOut, []byte(`"level":"debug"`)) {
		t.Fatalf("no debug lines in the connector's output: the check would prove little")
	}
	checkNoSecrets(t, "the connector's output", connectorOut, secrets)
	checkNoSecrets(t, "the C1 simulator's log", c1Log.Bytes(), secrets)
	stateBytes, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	checkNoSecrets(t, "the C1 simulator's state file", stateBytes, secrets)
}

// credentialCheck names a function of a simulator that decides whether a
// presented credential is right, and the calls that make the decision safe.
type credentialCheck struct {
	dir, fn string
	// want: any of these calls, in fn or in the package's functions it
	// calls (three levels deep), e.g. "subtle.ConstantTimeCompare".
	want []string
	why  string
}

// TestSimulatorsCompareCredentialsInConstantTime reads the simulators'
// source: every place that checks an API key, a bearer token or an admin
// token must compare in constant time (crypto/subtle), or look the token up
// only by its SHA-256 (which tells a caller timing it nothing about a
// stored token). A timing test would be flaky; the source is not.
func TestSimulatorsCompareCredentialsInConstantTime(t *testing.T) {
	constantTime := []string{"subtle.ConstantTimeCompare", "hmac.Equal"}
	for _, c := range []credentialCheck{
		{"../../simulator/fullstory", "keyRole", constantTime, "v2 API keys (Authorization: Basic)"},
		{"../../simulator/fullstory", "scimTokenOK", constantTime, "SCIM bearer tokens"},
		{"../../simulator/fullstory", "adminAuth", constantTime, "the /_simulator admin token"},
		{"../../simulator/conductorone", "requireAdmin", constantTime, "the admin API token"},
		{"../../simulator/conductorone", "authenticate", append([]string{"sha256.Sum256"}, constantTime...), "bearer tokens on BatonService"},
	} {
		t.Run(filepath.Base(c.dir)+"."+c.fn, func(t *testing.T) {
			funcs := packageFuncs(t, c.dir)
			if _, ok := funcs[c.fn]; !ok {
				t.Fatalf("%s has no function %s any more: update this test to the function that checks %s", c.dir, c.fn, c.why)
			}
			if !reaches(funcs, c.fn, c.want, 3, map[string]bool{}) {
				t.Errorf("%s.%s checks %s without any of %v: compare in constant time (see scimTokenOK: "+
					"keep sha256 digests of the accepted credentials and subtle.ConstantTimeCompare each against the digest of the presented one)",
					filepath.Base(c.dir), c.fn, c.why, c.want)
			}
		})
	}
}

// packageFuncs parses a package's non-test files: functions and methods by name.
func packageFuncs(t *testing.T, dir string) map[string]*ast.FuncDecl {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]*ast.FuncDecl{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				funcs[fd.Name.Name] = fd
			}
		}
	}
	return funcs
}

// reaches reports whether fn, or a package function it calls (depth levels
// deep), calls one of want ("pkg.Func").
func reaches(funcs map[string]*ast.FuncDecl, fn string, want []string, depth int, seen map[string]bool) bool {
	fd, ok := funcs[fn]
	if !ok || seen[fn] || fd.Body == nil {
		return false
	}
	seen[fn] = true
	found := false
	var callees []string
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || found {
			return !found
		}
		switch f := call.Fun.(type) {
		case *ast.SelectorExpr:
			if x, ok := f.X.(*ast.Ident); ok {
				for _, w := range want {
					if x.Name+"."+f.Sel.Name == w {
						found = true
					}
				}
			}
			callees = append(callees, f.Sel.Name) // s.method(...)
		case *ast.Ident:
			callees = append(callees, f.Name)
		}
		return true
	})
	if found {
		return true
	}
	if depth == 0 {
		return false
	}
	for _, c := range callees {
		if reaches(funcs, c, want, depth-1, seen) {
			return true
		}
	}
	return false
}
