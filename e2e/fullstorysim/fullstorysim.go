// Package fullstorysim runs the Fullstory simulator image as a testcontainers
// container, in the style of a testcontainers-go module: Run, options, typed
// accessors and a small client of the simulator's admin API.
package fullstorysim

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/conductorone/baton-fullstory/e2e/harness"
)

const (
	// DefaultImage is what scripts/docker-images.sh builds.
	DefaultImage = "baton-fullstory/fullstory-simulator:dev"
	// Port is the API (and /_simulator admin) port inside the container.
	Port = "8089/tcp"

	certPath = "/etc/fullstory-simulator/tls.crt"
	keyPath  = "/etc/fullstory-simulator/tls.key"
)

// Container is a running Fullstory simulator.
type Container struct {
	testcontainers.Container
	settings options
	admin    harness.AdminClient
}

type apiKey struct{ key, role string }

type options struct {
	alias          string
	apiKeys        []apiKey
	users          *int
	anonymousUsers *int
	seed           *int64
	pageSize       int
	deleteDelay    time.Duration
	faults         Faults
	adminToken     string
	caPEM          []byte
	certPEM        []byte
	keyPEM         []byte
	args           []string

	scimTokens      []string
	teammates       *int
	scimMaxPageSize int
}

// Option configures the simulator. It is also a testcontainers.ContainerCustomizer
// (a no-op one) so it can be passed to Run beside testcontainers' own options.
type Option func(*options) error

// Customize implements testcontainers.ContainerCustomizer.
func (Option) Customize(*testcontainers.GenericContainerRequest) error { return nil }

// WithNetwork attaches the simulator to nw under alias; InternalURL uses it.
func WithNetwork(nw *testcontainers.DockerNetwork, alias string) testcontainers.ContainerCustomizer {
	return harness.Multi{
		Option(func(o *options) error {
			if alias == "" {
				return errors.New("fullstorysim: empty network alias")
			}
			o.alias = alias
			return nil
		}),
		network.WithNetwork([]string{alias}, nw),
	}
}

// WithAPIKey accepts key with role ("admin", "architect", "standard"). Repeatable.
func WithAPIKey(key, role string) Option {
	return func(o *options) error {
		if key == "" || strings.ContainsAny(key, ":,") {
			return fmt.Errorf("fullstorysim: bad api key %q", key)
		}
		o.apiKeys = append(o.apiKeys, apiKey{key, role})
		return nil
	}
}

// WithUsers seeds n identified and m anonymous users from seed.
func WithUsers(n, m int, seed int64) Option {
	return func(o *options) error {
		o.users, o.anonymousUsers, o.seed = &n, &m, &seed
		return nil
	}
}

// WithPageSize sets the list page size.
func WithPageSize(n int) Option {
	return func(o *options) error { o.pageSize = n; return nil }
}

// WithDeleteDelay sets how long a deleted user lists with is_being_deleted.
func WithDeleteDelay(d time.Duration) Option {
	return func(o *options) error { o.deleteDelay = d; return nil }
}

// WithFaults switches faults on from the start.
func WithFaults(f Faults) Option {
	return func(o *options) error { o.faults = f; return nil }
}

// WithAdminToken protects /_simulator with a bearer token.
func WithAdminToken(tok string) Option {
	return func(o *options) error { o.adminToken = tok; return nil }
}

// WithTLS serves HTTPS with the given certificate and key (PEM), issued by the
// CA caPEM, which HTTPClient trusts.
func WithTLS(caPEM, certPEM, keyPEM []byte) Option {
	return func(o *options) error {
		if len(caPEM) == 0 || len(certPEM) == 0 || len(keyPEM) == 0 {
			return errors.New("fullstorysim: WithTLS needs a CA, a certificate and a key")
		}
		o.caPEM, o.certPEM, o.keyPEM = caPEM, certPEM, keyPEM
		return nil
	}
}

// WithArgs appends raw flags.
func WithArgs(args ...string) Option {
	return func(o *options) error { o.args = append(o.args, args...); return nil }
}

// Run starts the simulator image and waits until its health route answers.
func Run(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (*Container, error) {
	var settings options
	if err := harness.ApplyOptions[Option](&settings, opts); err != nil {
		return nil, err
	}

	scheme := "http"
	if settings.certPEM != nil {
		scheme = "https"
	}
	waitFor := wait.ForHTTP("/_simulator/healthz").WithPort(Port).
		WithTLS(scheme == "https").WithAllowInsecure(true).
		WithStartupTimeout(60 * time.Second)

	moduleOpts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts("127.0.0.1::" + Port),
		testcontainers.WithCmd(settings.flags()...),
		testcontainers.WithWaitStrategy(waitFor),
	}
	if settings.certPEM != nil {
		moduleOpts = append(moduleOpts, testcontainers.WithFiles(
			testcontainers.ContainerFile{Reader: bytes.NewReader(settings.certPEM), ContainerFilePath: certPath, FileMode: 0o644},
			testcontainers.ContainerFile{Reader: bytes.NewReader(settings.keyPEM), ContainerFilePath: keyPath, FileMode: 0o644},
		))
	}
	moduleOpts = append(moduleOpts, opts...)

	ctr, err := testcontainers.Run(ctx, img, moduleOpts...)
	var c *Container
	if ctr != nil {
		c = &Container{Container: ctr, settings: settings}
		c.admin = harness.AdminClient{
			Name: "fullstorysim", BaseURL: c.BaseURL, Token: settings.adminToken,
			HTTP: newClient(settings.caPEM),
		}
	}
	if err != nil {
		return c, fmt.Errorf("fullstorysim: run %s: %w", img, err)
	}
	return c, nil
}

func (o options) flags() []string {
	var args []string
	for _, k := range o.apiKeys {
		args = append(args, "--api-key", k.key+":"+k.role)
	}
	if o.users != nil {
		args = append(args, "--users", strconv.Itoa(*o.users), "--anonymous-users", strconv.Itoa(*o.anonymousUsers),
			"--seed", strconv.FormatInt(*o.seed, 10))
	}
	if o.pageSize > 0 {
		args = append(args, "--page-size", strconv.Itoa(o.pageSize))
	}
	if o.deleteDelay > 0 {
		args = append(args, "--delete-delay", o.deleteDelay.String())
	}
	if o.faults.LatencyMS > 0 {
		args = append(args, "--latency", (time.Duration(o.faults.LatencyMS) * time.Millisecond).String())
	}
	if o.faults.RateLimitRPS > 0 {
		args = append(args, "--rate-limit-rps", strconv.Itoa(o.faults.RateLimitRPS))
	}
	if o.faults.ErrorRate > 0 {
		args = append(args, "--error-rate", strconv.FormatFloat(o.faults.ErrorRate, 'f', -1, 64))
	}
	if o.faults.DropRate > 0 {
		args = append(args, "--drop-rate", strconv.FormatFloat(o.faults.DropRate, 'f', -1, 64))
	}
	if o.adminToken != "" {
		args = append(args, "--admin-token", o.adminToken)
	}
	if o.certPEM != nil {
		args = append(args, "--tls-cert", certPath, "--tls-key", keyPath)
	}
	for _, tok := range o.scimTokens {
		args = append(args, "--scim-token", tok)
	}
	if o.teammates != nil {
		args = append(args, "--teammates", strconv.Itoa(*o.teammates))
	}
	if o.scimMaxPageSize > 0 {
		args = append(args, "--scim-max-page-size", strconv.Itoa(o.scimMaxPageSize))
	}
	return append(args, o.args...)
}

func (c *Container) scheme() string {
	if c.settings.certPEM != nil {
		return "https"
	}
	return "http"
}

// BaseURL is the simulator's URL as this host reaches it (a loopback port).
func (c *Container) BaseURL(ctx context.Context) (string, error) {
	u, err := c.PortEndpoint(ctx, nat.Port(Port), c.scheme())
	if err != nil {
		return "", fmt.Errorf("fullstorysim: base URL: %w", err)
	}
	return u, nil
}

// InternalURL is the simulator's URL as other containers on the network reach
// it (the network alias), e.g. the connector's BATON_BASE_URL.
func (c *Container) InternalURL() string {
	return fmt.Sprintf("%s://%s:%s", c.scheme(), c.settings.alias, nat.Port(Port).Port())
}

// HTTPClient trusts the simulator's CA when it serves TLS.
func (c *Container) HTTPClient() *http.Client { return c.admin.HTTP }

func newClient(caPEM []byte) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
