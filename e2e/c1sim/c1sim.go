// Package c1sim runs the ConductorOne simulator image as a testcontainers
// container, in the style of a testcontainers-go module, with a client of its
// admin API (credentials, tasks, uploads).
package c1sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	// DefaultImage is what scripts/docker-images.sh builds.
	DefaultImage = "baton-fullstory/c1-simulator:dev"
	// APIPort serves the token endpoint and gRPC BatonService over TLS.
	APIPort = "8443/tcp"
	// AdminPort serves the plain-HTTP admin API.
	AdminPort = "8091/tcp"

	caPath = "/tmp/c1-simulator-ca.pem"
)

// Container is a running ConductorOne simulator.
type Container struct {
	testcontainers.Container
	settings options
	caPEM    []byte
	client   *http.Client
}

type options struct {
	alias        string
	adminToken   string
	syncInterval time.Duration
	args         []string
}

// Option configures the simulator; it is a no-op testcontainers.ContainerCustomizer.
type Option func(*options) error

// Customize implements testcontainers.ContainerCustomizer.
func (Option) Customize(*testcontainers.GenericContainerRequest) error { return nil }

// WithNetwork attaches the simulator to nw under alias. Its TLS certificate is
// issued for alias (and localhost), so the connector reaches it as alias:8443.
func WithNetwork(nw *testcontainers.DockerNetwork, alias string) testcontainers.ContainerCustomizer {
	return multi{
		Option(func(o *options) error {
			if alias == "" {
				return errors.New("c1sim: empty network alias")
			}
			o.alias = alias
			return nil
		}),
		network.WithNetwork([]string{alias}, nw),
	}
}

// WithAdminToken protects the admin API with a bearer token.
func WithAdminToken(tok string) Option {
	return func(o *options) error { o.adminToken = tok; return nil }
}

// WithSyncInterval enqueues a full sync every d, as ConductorOne schedules one.
func WithSyncInterval(d time.Duration) Option {
	return func(o *options) error { o.syncInterval = d; return nil }
}

// WithArgs appends raw flags.
func WithArgs(args ...string) Option {
	return func(o *options) error { o.args = append(o.args, args...); return nil }
}

// Run starts the simulator image, waits for its admin health route and reads
// the CA it generated.
func Run(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (*Container, error) {
	var settings options
	for _, opt := range flatten(opts) {
		if o, ok := opt.(Option); ok {
			if err := o(&settings); err != nil {
				return nil, err
			}
		}
	}
	if settings.alias == "" {
		return nil, errors.New("c1sim: WithNetwork is required (the TLS certificate names the network alias)")
	}

	args := []string{
		"--tls-self-signed", "--ca-out", caPath,
		"--tls-hostname", settings.alias, "--tls-hostname", "localhost", "--tls-hostname", "127.0.0.1",
	}
	if settings.adminToken != "" {
		args = append(args, "--admin-token", settings.adminToken)
	}
	if settings.syncInterval > 0 {
		args = append(args, "--sync-interval", settings.syncInterval.String())
	}
	args = append(args, settings.args...)

	moduleOpts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts("127.0.0.1::"+APIPort, "127.0.0.1::"+AdminPort),
		testcontainers.WithCmd(args...),
		testcontainers.WithWaitStrategy(
			wait.ForHTTP("/admin/healthz").WithPort(AdminPort).WithStartupTimeout(60*time.Second),
			wait.ForHTTP("/").WithPort(APIPort).WithTLS(true).WithAllowInsecure(true).
				WithStatusCodeMatcher(func(int) bool { return true }).WithStartupTimeout(60*time.Second),
		),
	}
	moduleOpts = append(moduleOpts, opts...)

	ctr, err := testcontainers.Run(ctx, img, moduleOpts...)
	var c *Container
	if ctr != nil {
		c = &Container{Container: ctr, settings: settings, client: &http.Client{Timeout: 2 * time.Minute}}
	}
	if err != nil {
		return c, fmt.Errorf("c1sim: run %s: %w", img, err)
	}
	rc, err := ctr.CopyFileFromContainer(ctx, caPath)
	if err != nil {
		return c, fmt.Errorf("c1sim: read CA %s: %w", caPath, err)
	}
	defer rc.Close()
	if c.caPEM, err = io.ReadAll(rc); err != nil {
		return c, fmt.Errorf("c1sim: read CA %s: %w", caPath, err)
	}
	return c, nil
}

// CACertPEM is the CA that signed the simulator's TLS certificate: the
// connector gets it through SSL_CERT_FILE.
func (c *Container) CACertPEM() []byte { return c.caPEM }

// APIHost is the value of the connector's BATON_C1_API_HOST on the network.
func (c *Container) APIHost() string {
	return c.settings.alias + ":" + nat.Port(APIPort).Port()
}

// AdminURL is the admin API's URL as this host reaches it.
func (c *Container) AdminURL(ctx context.Context) (string, error) {
	host, err := c.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("c1sim: host: %w", err)
	}
	port, err := c.MappedPort(ctx, nat.Port(AdminPort))
	if err != nil {
		return "", fmt.Errorf("c1sim: mapped port: %w", err)
	}
	return fmt.Sprintf("http://%s:%s", host, port.Port()), nil
}

type multi []testcontainers.ContainerCustomizer

func (m multi) Customize(req *testcontainers.GenericContainerRequest) error {
	for _, c := range m {
		if err := c.Customize(req); err != nil {
			return err
		}
	}
	return nil
}

func flatten(opts []testcontainers.ContainerCustomizer) []testcontainers.ContainerCustomizer {
	var out []testcontainers.ContainerCustomizer
	for _, o := range opts {
		if m, ok := o.(multi); ok {
			out = append(out, flatten(m)...)
			continue
		}
		out = append(out, o)
	}
	return out
}

// do sends one admin request; out is a JSON target, or *[]byte for raw bytes.
func (c *Container) do(ctx context.Context, method, path string, in, out any) error {
	base, err := c.AdminURL(ctx)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("c1sim: encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return fmt.Errorf("c1sim: %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.settings.adminToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.settings.adminToken)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("c1sim: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("c1sim: read %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("c1sim: %s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	switch out := out.(type) {
	case nil:
	case *[]byte:
		*out = b
	default:
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("c1sim: decode %s %s: %w", method, path, err)
		}
	}
	return nil
}
