//go:build e2e

package e2e_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"

	"github.com/conductorone/baton-fullstory/e2e/c1sim"
	"github.com/conductorone/baton-fullstory/e2e/connector"
	"github.com/conductorone/baton-fullstory/e2e/fullstorysim"
)

// TestImagesAreMinimal checks what the Dockerfile promises of every image: a
// non-root user, the program as entrypoint, a CA bundle, a writable sticky
// /tmp, and no shell.
func TestImagesAreMinimal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	for img, entrypoint := range map[string]string{
		connector.DefaultImage:             "/usr/local/bin/baton-fullstory",
		fullstorysim.DefaultImage:          "/usr/local/bin/fullstory-simulator",
		c1sim.DefaultImage:                 "/usr/local/bin/c1-simulator",
		"baton-fullstory/compose-init:dev": "/usr/local/bin/baton-compose-init",
	} {
		t.Run(img, func(t *testing.T) {
			inspect, err := cli.ImageInspect(ctx, img)
			if err != nil {
				t.Fatal(err)
			}
			type config struct {
				User       string
				Entrypoint []string
				Layers     int
			}
			got := config{inspect.Config.User, inspect.Config.Entrypoint, len(inspect.RootFS.Layers)}
			// FROM scratch: the root filesystem, /data, and the binary.
			want := config{"65532:65532", []string{entrypoint}, 3}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("image config (-want +got):\n%s", diff)
			}

			created, err := cli.ContainerCreate(ctx, &container.Config{Image: img}, nil, nil, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			defer cli.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true})

			mode := func(path string) string {
				st, err := cli.ContainerStatPath(ctx, created.ID, path)
				if err != nil {
					return "missing"
				}
				return (st.Mode & (fs.ModePerm | fs.ModeSticky | fs.ModeDir)).String()
			}
			gotModes := map[string]string{}
			for _, p := range []string{"/tmp", "/data", "/etc/ssl/certs/ca-certificates.crt", "/etc/passwd", entrypoint, "/bin/sh", "/bin/busybox"} {
				gotModes[p] = mode(p)
			}
			wantModes := map[string]string{
				"/tmp":                               "dtrwxrwxrwx",
				"/data":                              "drwxr-xr-x",
				"/etc/ssl/certs/ca-certificates.crt": "-rw-r--r--",
				"/etc/passwd":                        "-rw-r--r--",
				entrypoint:                           "-rwxr-xr-x",
				"/bin/sh":                            "missing",
				"/bin/busybox":                       "missing",
			}
			if diff := cmp.Diff(wantModes, gotModes); diff != "" {
				t.Errorf("image files (-want +got):\n%s", diff)
			}
		})
	}
}
