package conductorone

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"github.com/conductorone/baton-sdk/pkg/ugrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// testCA signs every in-process server's certificate. baton-sdk's service
// client trusts only the system roots, and Go reads SSL_CERT_FILE once per
// process, so the CA must exist and SSL_CERT_FILE must point at it before any
// test dials. That is the one piece of package-level test state.
var testCA *CertAuthority

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ca, err := NewCertAuthority()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "c1sim-test-ca-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Setenv("SSL_CERT_FILE", caFile); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A stable host id, so tests can compare it.
	if err := os.Setenv("BATON_HOST_ID", "test-host"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testCA = ca
	return m.Run()
}

// testClock is real time plus an offset tests can push forward, so the SDK's
// assertions (stamped with the real time) stay valid while expiries and
// heartbeat timeouts can be crossed on demand.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

type harness struct {
	srv   *Server
	addr  string
	clock *testClock
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// newHarness starts a Server on 127.0.0.1:0 and points BATON_C1_API_HOST at it.
func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	clock := &testClock{}
	base := []Option{
		WithCertAuthority(testCA, "127.0.0.1", "localhost"),
		WithClock(clock.Now),
		WithLogger(testLogger(t)),
		WithTempDir(t.TempDir()),
	}
	srv, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-serveErr; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := l.Addr().String()
	t.Setenv("BATON_C1_API_HOST", addr)
	return &harness{srv: srv, addr: addr, clock: clock}
}

func (h *harness) mint(t *testing.T, name string) Credentials {
	t.Helper()
	creds, err := h.srv.MintCredentials(name)
	if err != nil {
		t.Fatalf("MintCredentials: %v", err)
	}
	return creds
}

// sdkBatonClient dials the simulator exactly the way baton-sdk's service client
// does (system roots, TLS 1.2+, the SDK's own C1 credential provider for the
// bearer token), and returns the generated BatonService client.
func (h *harness) sdkBatonClient(t *testing.T, creds Credentials) v1.BatonServiceClient {
	t.Helper()
	c, _ := h.sdkBatonClientRecording(t, creds)
	return c
}

// sdkBatonClientRecording is sdkBatonClient that also remembers the last
// authorization header the SDK's credential provider produced.
func (h *harness) sdkBatonClientRecording(t *testing.T, creds Credentials) (v1.BatonServiceClient, *recordingCreds) {
	t.Helper()
	credProvider, _, _, err := ugrpc.NewC1CredentialProvider(context.Background(), creds.ClientID, creds.ClientSecret)
	if err != nil {
		t.Fatalf("NewC1CredentialProvider: %v", err)
	}
	rec := &recordingCreds{PerRPCCredentials: credProvider}
	conn, err := grpc.NewClient(h.addr,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})),
		grpc.WithPerRPCCredentials(rec),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return v1.NewBatonServiceClient(conn), rec
}

type recordingCreds struct {
	credentials.PerRPCCredentials
	mu   sync.Mutex
	last string
}

func (r *recordingCreds) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	md, err := r.PerRPCCredentials.GetRequestMetadata(ctx, uri...)
	if err == nil {
		r.mu.Lock()
		r.last = md["authorization"]
		r.mu.Unlock()
	}
	return md, err
}

func (r *recordingCreds) lastAuthorization() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// staticBearer sends a fixed bearer token (for tests about stolen or stale tokens).
type staticBearer string

func (s staticBearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(s)}, nil
}

func (staticBearer) RequireTransportSecurity() bool { return true }

func (h *harness) bearerBatonClient(t *testing.T, token string) v1.BatonServiceClient {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}))}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(staticBearer(token)))
	}
	conn, err := grpc.NewClient(h.addr, opts...)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return v1.NewBatonServiceClient(conn)
}

// httpsClient trusts the system roots (so the test CA through SSL_CERT_FILE).
func httpsClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustEnqueue(t *testing.T, s *Server, spec TaskSpec) string {
	t.Helper()
	id, err := s.EnqueueTask(spec)
	if err != nil {
		t.Fatalf("EnqueueTask(%+v): %v", spec, err)
	}
	return id
}

func mustTask(t *testing.T, s *Server, id string) TaskView {
	t.Helper()
	v, ok := s.Task(id)
	if !ok {
		t.Fatalf("Task(%s): not found", id)
	}
	return v
}
