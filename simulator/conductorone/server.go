// Package conductorone is a fake of the part of a ConductorOne tenant that a
// baton connector talks to in service mode: the OAuth token endpoint that
// exchanges a client assertion for a bearer token, the gRPC BatonService
// (Hello, GetTask(s), Heartbeat, FinishTask, UploadAsset) on the same TLS
// port, a task queue, an upload store, and an admin HTTP API to drive it all.
//
// It is driven by baton-sdk's own, unmodified service-mode client. What that
// client does (baton-sdk v0.26.0, pkg/ugrpc/c1_credential_provider.go and
// pkg/tasks/c1api/service_client.go):
//
//   - The client ID is `<name>@<host>/pcc`; the secret is
//     `secret-token:conductorone.com:v1:<base64url(private Ed25519 JWK)>`.
//   - It POSTs a form (grant_type=client_credentials, client_id,
//     client_assertion_type=...:jwt-bearer, client_assertion) to
//     https://<BATON_C1_API_HOST or host>/auth/v1/token. The assertion is an
//     EdDSA JWS with iss = sub = client ID, aud = the client ID's host without
//     any port, iat = now, nbf = now-2m, exp = now+2m, no jti, and a random
//     nonce in the protected header (the replay key here). It expects
//     {"access_token","token_type","expires_in"} and refreshes 10s before expiry.
//   - It dials gRPC with TLS against the system roots (SSL_CERT_FILE reaches
//     them) and sends `authorization: Bearer <token>` on every call. No DPoP in
//     service mode (baton-sdk uses DPoP only for its lambda/session paths).
//   - GetTask (or GetTasks with BATON_GET_TASKS=true) polls; only full syncs
//     heartbeat; an upload is metadata, 512 KiB chunks, then EOF with the sha256.
package conductorone

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"google.golang.org/grpc"
)

// Errors returned by the library; the admin API maps them to HTTP statuses.
var (
	ErrInvalidRequest = errors.New("invalid request")
	ErrNotFound       = errors.New("not found")
	ErrConflict       = errors.New("conflict")
)

// Defaults for the tunable timings.
const (
	DefaultTokenTTL          = 15 * time.Minute
	DefaultClockSkew         = 30 * time.Second
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultHeartbeatTimeout  = 60 * time.Second
	DefaultPollInterval      = 2 * time.Second
	DefaultMaxUploadSize     = 512 << 20
	DefaultTenantHost        = "localhost"

	// maxAssertionLifetime bounds how far in the future a client assertion may
	// expire (the SDK uses two minutes), which also bounds the replay cache.
	maxAssertionLifetime = 10 * time.Minute
	maxHellos            = 100
)

// Option configures a Server.
type Option func(*options) error

type options struct {
	tenantHost        string
	tlsCert           *tls.Certificate
	caPEM             []byte
	ca                *CertAuthority
	tlsHostnames      []string
	clock             func() time.Time
	tokenTTL          time.Duration
	clockSkew         time.Duration
	heartbeatInterval time.Duration
	heartbeatTimeout  time.Duration
	pollInterval      time.Duration
	syncInterval      time.Duration
	stateFile         string
	adminToken        string
	logger            *slog.Logger
	maxUploadSize     int64
	tempDir           string
}

// WithTenantHost sets the host minted client IDs carry (`<name>@<host>/pcc`).
// The SDK derives the client assertion's audience from it (without the port),
// and, unless BATON_C1_API_HOST overrides it, also dials it. Default "localhost".
func WithTenantHost(host string) Option {
	return func(o *options) error {
		if host == "" || strings.ContainsAny(host, "@/ ") {
			return fmt.Errorf("%w: tenant host %q", ErrInvalidRequest, host)
		}
		o.tenantHost = host
		return nil
	}
}

// WithSelfSignedTLS generates a CA and a server certificate for hostnames
// (DefaultTLSHostnames when none). This is also what happens without any TLS option.
func WithSelfSignedTLS(hostnames ...string) Option {
	return func(o *options) error {
		o.tlsHostnames = append([]string(nil), hostnames...)
		o.ca, o.tlsCert, o.caPEM = nil, nil, nil
		return nil
	}
}

// WithCertAuthority issues the server certificate for hostnames from an existing CA.
func WithCertAuthority(ca *CertAuthority, hostnames ...string) Option {
	return func(o *options) error {
		if ca == nil {
			return fmt.Errorf("%w: nil certificate authority", ErrInvalidRequest)
		}
		o.ca = ca
		o.tlsHostnames = append([]string(nil), hostnames...)
		o.tlsCert, o.caPEM = nil, nil
		return nil
	}
}

// WithTLSCertificate serves cert; caPEM (may be nil) is what CACertPEM returns.
func WithTLSCertificate(cert tls.Certificate, caPEM []byte) Option {
	return func(o *options) error {
		if len(cert.Certificate) == 0 {
			return fmt.Errorf("%w: empty TLS certificate", ErrInvalidRequest)
		}
		o.tlsCert = &cert
		o.caPEM = append([]byte(nil), caPEM...)
		o.ca = nil
		return nil
	}
}

// WithClock replaces time.Now, for deterministic tests of expiry and re-queueing.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidRequest)
		}
		o.clock = now
		return nil
	}
}

// WithTokenTTL sets the lifetime of issued bearer tokens.
func WithTokenTTL(d time.Duration) Option {
	return positiveDuration("token TTL", d, func(o *options) { o.tokenTTL = d })
}

// WithClockSkew sets the leeway applied to assertion exp/nbf/iat checks.
func WithClockSkew(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: negative clock skew", ErrInvalidRequest)
		}
		o.clockSkew = d
		return nil
	}
}

// WithHeartbeatInterval sets the next_heartbeat the simulator asks for (the SDK clamps it to 1s..5m).
func WithHeartbeatInterval(d time.Duration) Option {
	return positiveDuration("heartbeat interval", d, func(o *options) { o.heartbeatInterval = d })
}

// WithHeartbeatTimeout sets how long a handed-out task may go without a
// heartbeat before it is re-queued.
func WithHeartbeatTimeout(d time.Duration) Option {
	return positiveDuration("heartbeat timeout", d, func(o *options) { o.heartbeatTimeout = d })
}

// WithPollInterval sets the next_poll returned when no task is waiting.
func WithPollInterval(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: negative poll interval", ErrInvalidRequest)
		}
		o.pollInterval = d
		return nil
	}
}

// WithSyncInterval enqueues a full sync at start and then every d (unless one
// is already pending or running), as ConductorOne schedules them. 0 disables.
func WithSyncInterval(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: negative sync interval", ErrInvalidRequest)
		}
		o.syncInterval = d
		return nil
	}
}

// WithStateFile loads state from path (when it exists) and writes it back
// atomically after every change and on Close.
func WithStateFile(path string) Option {
	return func(o *options) error { o.stateFile = path; return nil }
}

// WithAdminToken requires `Authorization: Bearer <tok>` on the admin API (healthz aside).
func WithAdminToken(tok string) Option {
	return func(o *options) error { o.adminToken = tok; return nil }
}

// WithLogger sets the logger (default: discard). Secrets and tokens are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidRequest)
		}
		o.logger = l
		return nil
	}
}

// WithMaxUploadSize caps one uploaded asset.
func WithMaxUploadSize(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("%w: max upload size must be positive", ErrInvalidRequest)
		}
		o.maxUploadSize = n
		return nil
	}
}

// WithTempDir sets where uploaded c1z files are unpacked to be summarised.
func WithTempDir(dir string) Option {
	return func(o *options) error { o.tempDir = dir; return nil }
}

func positiveDuration(name string, d time.Duration, set func(*options)) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: %s must be positive", ErrInvalidRequest, name)
		}
		set(o)
		return nil
	}
}

// Server is the fake ConductorOne API. Create it with New, serve the TLS API
// with Serve and the admin API with AdminHandler, and Close it when done.
type Server struct {
	opts      options
	logger    *slog.Logger
	tlsConfig *tls.Config
	caPEM     []byte

	grpcServer *grpc.Server
	httpServer *http.Server

	mu             sync.Mutex
	clients        map[string]*client
	tokens         map[string]tokenEntry // sha256(token) hex -> entry
	seenAssertions map[string]time.Time  // replay key -> when it may be forgotten
	tasks          map[string]*task
	order          []string
	hellos         []HelloRecord
	changed        chan struct{}
	version        uint64

	persistMu      sync.Mutex
	persistVersion uint64

	closeOnce sync.Once
	closeErr  error
	stop      chan struct{}
	wg        sync.WaitGroup
}

// New builds a Server. Without a TLS option it generates a self-signed CA and a
// certificate for DefaultTLSHostnames.
func New(opts ...Option) (*Server, error) {
	o := options{
		tenantHost:        DefaultTenantHost,
		clock:             time.Now,
		tokenTTL:          DefaultTokenTTL,
		clockSkew:         DefaultClockSkew,
		heartbeatInterval: DefaultHeartbeatInterval,
		heartbeatTimeout:  DefaultHeartbeatTimeout,
		pollInterval:      DefaultPollInterval,
		maxUploadSize:     DefaultMaxUploadSize,
		logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}

	s := &Server{
		opts:           o,
		logger:         o.logger,
		clients:        map[string]*client{},
		tokens:         map[string]tokenEntry{},
		seenAssertions: map[string]time.Time{},
		tasks:          map[string]*task{},
		changed:        make(chan struct{}),
		stop:           make(chan struct{}),
	}

	cert := o.tlsCert
	s.caPEM = o.caPEM
	if cert == nil {
		ca := o.ca
		if ca == nil {
			var err error
			if ca, err = NewCertAuthority(); err != nil {
				return nil, err
			}
		}
		c, err := ca.IssueServerCertificate(o.tlsHostnames...)
		if err != nil {
			return nil, err
		}
		cert = &c
		s.caPEM = ca.CertPEM()
	}
	s.tlsConfig = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}

	if o.stateFile != "" {
		if err := s.loadState(o.stateFile); err != nil {
			return nil, err
		}
	}

	s.grpcServer = grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.unaryAuth),
		grpc.ChainStreamInterceptor(s.streamAuth),
		grpc.MaxRecvMsgSize(4<<20),
	)
	v1.RegisterBatonServiceServer(s.grpcServer, &batonService{s: s})

	mux := http.NewServeMux()
	mux.HandleFunc("/auth/v1/token", s.handleToken)
	s.httpServer = &http.Server{
		Handler:           s.apiHandler(mux),
		TLSConfig:         s.tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}

	if o.syncInterval > 0 {
		s.wg.Add(1)
		go s.scheduleSyncs(o.syncInterval)
	}
	return s, nil
}

// apiHandler sends gRPC (HTTP/2 with an application/grpc content type) to the
// gRPC server and everything else to the token mux.
func (s *Server) apiHandler(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			s.grpcServer.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Serve serves the token endpoint and BatonService over TLS (HTTP/2 and
// HTTP/1.1) on l until Close. It returns nil after Close.
func (s *Server) Serve(l net.Listener) error {
	err := s.httpServer.ServeTLS(l, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// CACertPEM returns the PEM of the CA that signed the serving certificate
// (empty when a certificate was supplied without one).
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.caPEM...) }

// TLSConfig returns a copy of the server's TLS configuration.
func (s *Server) TLSConfig() *tls.Config { return s.tlsConfig.Clone() }

// Close stops serving, stops the scheduler and writes the state file.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.httpServer.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, s.httpServer.Close())
		}
		s.grpcServer.Stop()
		s.wg.Wait()
		if s.opts.stateFile != "" {
			err = errors.Join(err, s.persist())
		}
		s.closeErr = err
	})
	return s.closeErr
}

func (s *Server) now() time.Time { return s.opts.clock() }

// changedLocked wakes long-pollers and marks the state dirty. s.mu must be held.
func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
	s.version++
}

func (s *Server) scheduleSyncs(every time.Duration) {
	defer s.wg.Done()
	s.enqueueScheduledSync()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.enqueueScheduledSync()
		}
	}
}

func (s *Server) enqueueScheduledSync() {
	s.mu.Lock()
	s.reapLocked()
	for _, id := range s.order {
		t := s.tasks[id]
		if t.spec.Type == TaskFullSync && (t.status == StatusPending || t.status == StatusRunning) {
			s.mu.Unlock()
			return
		}
	}
	s.mu.Unlock()
	id, err := s.EnqueueTask(TaskSpec{Type: TaskFullSync})
	if err != nil {
		s.logger.Error("scheduled full sync", "error", err)
		return
	}
	s.logger.Info("scheduled full sync", "task_id", id)
}
