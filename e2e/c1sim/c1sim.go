// Package c1sim runs the ConductorOne simulator image as a testcontainers
// container, in the style of a testcontainers-go module, with a client of its
// admin API (credentials, tasks, uploads).
package c1sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/conductorone/baton-fullstory/e2e/harness"
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
	admin    harness.AdminClient
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
	return harness.Multi{
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
	if err := harness.ApplyOptions[Option](&settings, opts); err != nil {
		return nil, err
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
		c = &Container{Container: ctr, settings: settings}
		c.admin = harness.AdminClient{
			Name: "c1sim", BaseURL: c.AdminURL, Token: settings.adminToken,
			HTTP: &http.Client{Timeout: 2 * time.Minute}, // long enough for ?wait=30s
		}
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
	u, err := c.PortEndpoint(ctx, nat.Port(AdminPort), "http")
	if err != nil {
		return "", fmt.Errorf("c1sim: admin URL: %w", err)
	}
	return u, nil
}
