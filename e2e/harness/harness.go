// Package harness is the shared setup of the end-to-end tests: testcontainers'
// environment, a loud check that a Docker engine answers, a private network per
// test, a throwaway PKI for the simulators' TLS, and a reader of uploaded c1z
// files.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
)

// Defaults applied by Setup when the variable is unset. No image can be pulled
// here (so no reaper), and tests reach containers only through ports published
// on the loopback.
var envDefaults = []struct{ key, value string }{
	{"TESTCONTAINERS_RYUK_DISABLED", "true"},
	{"TESTCONTAINERS_HOST_OVERRIDE", "localhost"},
}

// Setup prepares testcontainers' environment and checks that a Docker engine
// answers. Call it from TestMain before anything else touches testcontainers
// (which reads its configuration once). It returns an error, never skips: the
// end-to-end tier exists to run.
func Setup(ctx context.Context) error {
	for _, kv := range envDefaults {
		if _, ok := os.LookupEnv(kv.key); !ok {
			if err := os.Setenv(kv.key, kv.value); err != nil {
				return fmt.Errorf("harness: set %s: %w", kv.key, err)
			}
		}
	}
	return CheckDocker(ctx)
}

// CheckDocker fails with a message that says what to do when no Docker engine
// answers. It asks the engine DOCKER_HOST names (default: the local socket)
// first, then testcontainers' own discovery (which panics when it finds none).
func CheckDocker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := pingEnv(ctx)
	if err != nil {
		if tcErr := pingTestcontainers(ctx); tcErr == nil {
			return nil
		}
		return fmt.Errorf("harness: no Docker engine answers (%w); "+
			"start one (as root on Debian: scripts/docker-engine.sh), then run 'make images' and 'make e2e'", err)
	}
	return nil
}

func pingEnv(ctx context.Context) error {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = cli.Ping(ctx)
	return err
}

func pingTestcontainers(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("testcontainers: %v", r)
		}
	}()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = cli.Ping(ctx)
	return err
}

// CheckImages fails when one of the images is not present locally: nothing can
// be pulled, so say how to build them.
func CheckImages(ctx context.Context, images ...string) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("harness: docker client: %w", err)
	}
	defer cli.Close()
	var missing []error
	for _, img := range images {
		if _, err := cli.ImageInspect(ctx, img); err != nil {
			missing = append(missing, fmt.Errorf("image %s: %w", img, err))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("harness: images missing, run 'make images' (scripts/docker-images.sh): %w", errors.Join(missing...))
	}
	return nil
}

// Network creates a private bridge network for one test and removes it when
// the test ends (after the containers, which are cleaned up later-registered
// first).
func Network(t testing.TB) *testcontainers.DockerNetwork {
	t.Helper()
	nw, err := network.New(context.Background())
	testcontainers.CleanupNetwork(t, nw)
	if err != nil {
		t.Fatalf("harness: create network: %v", err)
	}
	return nw
}

// Loopback publishes a container port on 127.0.0.1 only, on a random host port
// ("127.0.0.1::8089/tcp"), so nothing but this machine reaches it.
func Loopback(port string) string {
	return "127.0.0.1::" + port
}
