// Package connector runs the baton-fullstory image as a testcontainers
// container in service mode, in the style of a testcontainers-go module. Its
// environment has the shape the Kubernetes Deployment gives it (deploy/k8s/):
// the Secret's keys plus the Deployment's plain values; and it runs under the
// Deployment's securityContext: read-only root filesystem with a tmpfs at /tmp
// (the emptyDir), every capability dropped, no privilege escalation, uid 65532.
package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/conductorone/baton-fullstory/e2e/harness"
)

const (
	// DefaultImage is what scripts/docker-images.sh builds (the tag the
	// Kubernetes manifest names, with :dev).
	DefaultImage = "ghcr.io/conductorone/baton-fullstory:dev"
	// HealthPort is baton-sdk's health-check server.
	HealthPort = "8081/tcp"
	// CAPath is where WithCACerts mounts the trusted CAs (read-only, as a
	// Secret or ConfigMap volume would be); SSL_CERT_FILE names it.
	CAPath = "/etc/baton-fullstory/ca.pem"
)

// Container is a running connector.
type Container struct {
	testcontainers.Container
	settings options
	caDir    string
}

// Terminate removes the container and the host copy of its CA bundle.
func (c *Container) Terminate(ctx context.Context, opts ...testcontainers.TerminateOption) error {
	err := c.Container.Terminate(ctx, opts...)
	if c.caDir != "" {
		err = errors.Join(err, os.RemoveAll(c.caDir))
	}
	return err
}

type options struct {
	env   map[string]string
	cas   [][]byte
	alias string
}

// Option configures the connector; it is a no-op testcontainers.ContainerCustomizer.
type Option func(*options) error

// Customize implements testcontainers.ContainerCustomizer.
func (Option) Customize(*testcontainers.GenericContainerRequest) error { return nil }

// WithNetwork attaches the connector to nw under alias.
func WithNetwork(nw *testcontainers.DockerNetwork, alias string) testcontainers.ContainerCustomizer {
	return harness.Multi{
		Option(func(o *options) error { o.alias = alias; return nil }),
		network.WithNetwork([]string{alias}, nw),
	}
}

// WithEnv adds environment variables (later calls win), e.g. the Secret's
// BATON_CLIENT_ID, BATON_CLIENT_SECRET and BATON_API_KEY, or in SCIM mode
// BATON_SCIM_BASE_URL and BATON_SCIM_TOKEN instead of BATON_API_KEY.
func WithEnv(env map[string]string) Option {
	return func(o *options) error {
		if o.env == nil {
			o.env = map[string]string{}
		}
		maps.Copy(o.env, env)
		return nil
	}
}

// WithCACerts mounts the PEM CAs, concatenated, read-only at CAPath and points
// SSL_CERT_FILE at it: the CAs of the C1 simulator and of the Fullstory
// simulator, as a private PKI would be mounted in production. (A file cannot be
// copied into a container whose root filesystem is read-only.)
func WithCACerts(pems ...[]byte) Option {
	return func(o *options) error {
		for _, p := range pems {
			if len(bytes.TrimSpace(p)) == 0 {
				return errors.New("connector: empty CA certificate")
			}
		}
		o.cas = append(o.cas, pems...)
		return nil
	}
}

// Run starts the connector and waits until its health server reports ready.
// The health server is switched on and bound to all interfaces, as in the
// Kubernetes manifest, so the wait uses the same route the readiness probe does.
func Run(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (*Container, error) {
	settings := options{env: map[string]string{}}
	if err := harness.ApplyOptions[Option](&settings, opts); err != nil {
		return nil, err
	}
	env := map[string]string{
		"BATON_HEALTH_CHECK":              "true",
		"BATON_HEALTH_CHECK_BIND_ADDRESS": "0.0.0.0",
		"BATON_HEALTH_CHECK_PORT":         nat.Port(HealthPort).Port(),
	}
	maps.Copy(env, settings.env)

	var caDir string
	var mounts []mount.Mount
	if len(settings.cas) > 0 {
		var err error
		if caDir, err = writeCABundle(settings.cas); err != nil {
			return nil, err
		}
		env["SSL_CERT_FILE"] = CAPath
		mounts = append(mounts, mount.Mount{
			Type: mount.TypeBind, Source: filepath.Join(caDir, "ca.pem"), Target: CAPath, ReadOnly: true,
		})
	}

	moduleOpts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts("127.0.0.1::" + HealthPort),
		testcontainers.WithWaitStrategy(
			wait.ForHTTP("/ready").WithPort(HealthPort).WithStartupTimeout(90 * time.Second),
		),
		testcontainers.WithEnv(env),
		// The Deployment's securityContext and emptyDir, in Docker terms.
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.ReadonlyRootfs = true
			hc.Tmpfs = map[string]string{"/tmp": ""}
			hc.CapDrop = []string{"ALL"}
			hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges:true")
			hc.Mounts = append(hc.Mounts, mounts...)
		}),
		testcontainers.WithConfigModifier(func(cfg *container.Config) {
			cfg.User = "65532:65532"
		}),
	}
	moduleOpts = append(moduleOpts, opts...)

	ctr, err := testcontainers.Run(ctx, img, moduleOpts...)
	var c *Container
	if ctr != nil {
		c = &Container{Container: ctr, settings: settings, caDir: caDir}
	} else if caDir != "" {
		_ = os.RemoveAll(caDir)
	}
	if err != nil {
		return c, fmt.Errorf("connector: run %s: %w", img, err)
	}
	return c, nil
}

// writeCABundle writes the concatenated CAs to a host file the container's
// uid can read.
func writeCABundle(cas [][]byte) (string, error) {
	dir, err := os.MkdirTemp("", "baton-fullstory-e2e-ca-")
	if err != nil {
		return "", fmt.Errorf("connector: CA bundle: %w", err)
	}
	err = errors.Join(
		os.Chmod(dir, 0o755),
		os.WriteFile(filepath.Join(dir, "ca.pem"), bytes.Join(cas, []byte("\n")), 0o644),
	)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("connector: CA bundle: %w", err)
	}
	return dir, nil
}

// HealthURL is the health server's URL as this host reaches it.
func (c *Container) HealthURL(ctx context.Context) (string, error) {
	u, err := c.PortEndpoint(ctx, nat.Port(HealthPort), "http")
	if err != nil {
		return "", fmt.Errorf("connector: health URL: %w", err)
	}
	return u, nil
}

// Kill sends SIGKILL, as the OOM killer or a node failure would: no graceful
// shutdown, no final heartbeat.
func (c *Container) Kill(ctx context.Context) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("connector: docker client: %w", err)
	}
	defer cli.Close()
	if err := cli.ContainerKill(ctx, c.GetContainerID(), "KILL"); err != nil {
		return fmt.Errorf("connector: kill: %w", err)
	}
	// Wait until the engine reports it stopped.
	waitC, errC := cli.ContainerWait(ctx, c.GetContainerID(), container.WaitConditionNotRunning)
	select {
	case <-waitC:
		return nil
	case err := <-errC:
		return fmt.Errorf("connector: wait for kill: %w", err)
	}
}
