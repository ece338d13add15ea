package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	c1sim "github.com/conductorone/baton-fullstory/simulator/conductorone"
)

const (
	defaultListen      = "127.0.0.1:8443"
	defaultAdminListen = "127.0.0.1:8091"
)

// serveConfig is everything the serve command reads from flags and env.
type serveConfig struct {
	Listen            string
	AdminListen       string
	AdminToken        string
	TLSSelfSigned     bool
	TLSHostnames      []string
	TLSCert           string
	TLSKey            string
	CAOut             string
	CredentialsOut    string
	CredentialsName   string
	TenantHost        string
	SyncInterval      time.Duration
	StateFile         string
	TokenTTL          time.Duration
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
	PollInterval      time.Duration
	LogLevel          string
}

func run(ctx context.Context, args []string, lookup lookupEnvFunc, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "credentials" {
		return runCredentials(ctx, args[1:], lookup, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "summarize" {
		return runSummarize(ctx, args[1:], stdout, stderr)
	}
	cfg, err := parseServe(args, lookup, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "c1-simulator: %v\n", err)
		return 2
	}
	if err := serve(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "c1-simulator: %v\n", err)
		return 1
	}
	return 0
}

func parseServe(args []string, lookup lookupEnvFunc, stderr io.Writer) (serveConfig, error) {
	var cfg serveConfig
	hostnames := &stringList{vals: append([]string(nil), c1sim.DefaultTLSHostnames...)}
	fs := flag.NewFlagSet("c1-simulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: c1-simulator [flags]\n       c1-simulator credentials [flags]\n       c1-simulator summarize [--json] FILE.c1z\n\n"+
			"Every flag may also be set as %s<FLAG> (dashes become underscores; lists comma-separated).\n\n", envPrefix)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Listen, "listen", defaultListen, "TLS address of the token endpoint and BatonService gRPC")
	fs.StringVar(&cfg.AdminListen, "admin-listen", defaultAdminListen, "plain HTTP address of the admin API")
	fs.StringVar(&cfg.AdminToken, "admin-token", "", "bearer token the admin API requires (none when empty)")
	fs.BoolVar(&cfg.TLSSelfSigned, "tls-self-signed", false, "generate a CA and a server certificate for --tls-hostname")
	fs.Var(hostnames, "tls-hostname", "DNS name or IP the self-signed certificate covers (repeatable)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM server certificate (instead of --tls-self-signed)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM server key for --tls-cert")
	fs.StringVar(&cfg.CAOut, "ca-out", "", "write the self-signed CA certificate here (give it to the connector as SSL_CERT_FILE)")
	fs.StringVar(&cfg.CredentialsOut, "credentials-out", "", "mint a client at start and write BATON_CLIENT_ID/BATON_CLIENT_SECRET env lines here (mode 0600)")
	fs.StringVar(&cfg.CredentialsName, "credentials-name", "baton", "client name for --credentials-out")
	fs.StringVar(&cfg.TenantHost, "tenant-host", "", "host in minted client IDs (<name>@<host>/pcc); default: the --listen address")
	fs.DurationVar(&cfg.SyncInterval, "sync-interval", 0, "enqueue a full sync at start and then this often (0: never)")
	fs.StringVar(&cfg.StateFile, "state-file", "", "persist clients, tasks and uploads in this JSON file")
	fs.DurationVar(&cfg.TokenTTL, "token-ttl", c1sim.DefaultTokenTTL, "lifetime of issued bearer tokens")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", c1sim.DefaultHeartbeatInterval, "heartbeat interval asked of the connector")
	fs.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", c1sim.DefaultHeartbeatTimeout, "re-queue a running task after this long without a heartbeat")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", c1sim.DefaultPollInterval, "next_poll returned when no task is waiting")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	if err := parseWithEnv(fs, args, lookup); err != nil {
		return serveConfig{}, err
	}
	if fs.NArg() > 0 {
		return serveConfig{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.TLSHostnames = hostnames.vals

	switch {
	case cfg.TLSSelfSigned && (cfg.TLSCert != "" || cfg.TLSKey != ""):
		return serveConfig{}, errors.New("--tls-self-signed and --tls-cert/--tls-key exclude each other")
	case !cfg.TLSSelfSigned && (cfg.TLSCert == "" || cfg.TLSKey == ""):
		return serveConfig{}, errors.New("TLS is required (baton-sdk dials with TLS): pass --tls-self-signed, or --tls-cert and --tls-key")
	case cfg.CAOut != "" && !cfg.TLSSelfSigned:
		return serveConfig{}, errors.New("--ca-out needs --tls-self-signed")
	}
	if _, err := parseLogLevel(cfg.LogLevel); err != nil {
		return serveConfig{}, err
	}
	return cfg, nil
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// tenantHostFor turns a listen address into a host a connector can dial.
func tenantHostFor(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return c1sim.DefaultTenantHost
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func serve(ctx context.Context, cfg serveConfig, stdout, stderr io.Writer) error {
	level, _ := parseLogLevel(cfg.LogLevel)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	apiL, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	defer apiL.Close()
	adminL, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		return fmt.Errorf("admin listen %s: %w", cfg.AdminListen, err)
	}
	defer adminL.Close()

	tenant := cfg.TenantHost
	if tenant == "" {
		tenant = tenantHostFor(apiL.Addr())
	}
	opts := []c1sim.Option{
		c1sim.WithLogger(logger),
		c1sim.WithTenantHost(tenant),
		c1sim.WithTokenTTL(cfg.TokenTTL),
		c1sim.WithHeartbeatInterval(cfg.HeartbeatInterval),
		c1sim.WithHeartbeatTimeout(cfg.HeartbeatTimeout),
		c1sim.WithPollInterval(cfg.PollInterval),
		c1sim.WithSyncInterval(cfg.SyncInterval),
		c1sim.WithAdminToken(cfg.AdminToken),
	}
	if cfg.StateFile != "" {
		opts = append(opts, c1sim.WithStateFile(cfg.StateFile))
	}
	if cfg.TLSSelfSigned {
		opts = append(opts, c1sim.WithSelfSignedTLS(cfg.TLSHostnames...))
	} else {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load --tls-cert/--tls-key: %w", err)
		}
		opts = append(opts, c1sim.WithTLSCertificate(cert, nil))
	}
	srv, err := c1sim.New(opts...)
	if err != nil {
		return err
	}
	defer srv.Close()

	if cfg.CAOut != "" {
		if err := os.WriteFile(cfg.CAOut, srv.CACertPEM(), 0o644); err != nil {
			return fmt.Errorf("write --ca-out: %w", err)
		}
	}
	if cfg.CredentialsOut != "" {
		creds, err := srv.MintCredentials(cfg.CredentialsName)
		if errors.Is(err, c1sim.ErrConflict) {
			// A persisted client by that name exists, but its secret is gone: use a fresh name.
			creds, err = srv.MintCredentials("")
		}
		if err != nil {
			return err
		}
		if err := writeSecretFile(cfg.CredentialsOut, []byte(creds.EnvLines())); err != nil {
			return fmt.Errorf("write --credentials-out: %w", err)
		}
	}

	adminSrv := &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errs := make(chan error, 2)
	go func() { errs <- srv.Serve(apiL) }()
	go func() {
		err := adminSrv.Serve(adminL)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errs <- err
	}()
	fmt.Fprintf(stdout, "c1-simulator listening on https://%s (admin http://%s)\n", apiL.Addr(), adminL.Addr())

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case runErr = <-errs:
		if runErr == nil {
			runErr = errors.New("server stopped unexpectedly")
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	runErr = errors.Join(runErr, adminSrv.Shutdown(shutCtx), srv.Close())
	return runErr
}

// writeSecretFile writes data readable by the owner only, also when path exists.
func writeSecretFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func runCredentials(ctx context.Context, args []string, lookup lookupEnvFunc, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("c1-simulator credentials", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: c1-simulator credentials [flags]\n\n"+
			"Mints a client on a running simulator (through its admin API) or, with --state-file,\n"+
			"in a state file no running simulator is using. Prints BATON_CLIENT_ID/BATON_CLIENT_SECRET.\n\n")
		fs.PrintDefaults()
	}
	adminURL := fs.String("admin-url", "http://"+defaultAdminListen, "admin API of the running simulator")
	adminToken := fs.String("admin-token", "", "admin API bearer token")
	name := fs.String("name", "", "client name (random when empty)")
	out := fs.String("out", "", "write the env lines to this file (mode 0600) instead of stdout")
	asJSON := fs.Bool("json", false, `print {"client_id","client_secret"} instead of env lines`)
	stateFile := fs.String("state-file", "", "mint offline into this state file instead of calling the admin API")
	tenantHost := fs.String("tenant-host", c1sim.DefaultTenantHost, "with --state-file: host in the client ID")
	if err := parseWithEnv(fs, args, lookup); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "c1-simulator credentials: %v\n", err)
		return 2
	}

	var creds c1sim.Credentials
	var err error
	if *stateFile != "" {
		creds, err = mintOffline(*stateFile, *tenantHost, *name)
	} else {
		creds, err = mintRemote(ctx, *adminURL, *adminToken, *name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "c1-simulator credentials: %v\n", err)
		return 1
	}
	payload := []byte(creds.EnvLines())
	if *asJSON {
		payload, _ = json.Marshal(creds)
		payload = append(payload, '\n')
	}
	if *out != "" {
		err = writeSecretFile(*out, payload)
	} else {
		_, err = stdout.Write(payload)
	}
	if err != nil {
		fmt.Fprintf(stderr, "c1-simulator credentials: %v\n", err)
		return 1
	}
	return 0
}

func mintOffline(stateFile, tenantHost, name string) (c1sim.Credentials, error) {
	srv, err := c1sim.New(c1sim.WithStateFile(stateFile), c1sim.WithTenantHost(tenantHost))
	if err != nil {
		return c1sim.Credentials{}, err
	}
	creds, err := srv.MintCredentials(name)
	return creds, errors.Join(err, srv.Close())
}

func mintRemote(ctx context.Context, adminURL, adminToken, name string) (c1sim.Credentials, error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(adminURL, "/")+"/admin/credentials", bytes.NewReader(body))
	if err != nil {
		return c1sim.Credentials{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if adminToken != "" {
		req.Header.Set("Authorization", "Bearer "+adminToken)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return c1sim.Credentials{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return c1sim.Credentials{}, err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(raw, &e)
		return c1sim.Credentials{}, fmt.Errorf("POST /admin/credentials: %s: %s", resp.Status, e.Error)
	}
	var creds c1sim.Credentials
	if err := json.Unmarshal(raw, &creds); err != nil || creds.ClientID == "" || creds.ClientSecret == "" {
		return c1sim.Credentials{}, fmt.Errorf("POST /admin/credentials: malformed answer")
	}
	return creds, nil
}
