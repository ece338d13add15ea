//go:build e2e

package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/conductorone/baton-fullstory/e2e/c1sim"
)

// composeCommand is `docker compose` (the plugin) when it answers, else
// Debian's `docker-compose`.
func composeCommand(t *testing.T) []string {
	t.Helper()
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if exec.Command("docker-compose", "version").Run() == nil {
		return []string{"docker-compose"}
	}
	t.Fatal("neither `docker compose` nor `docker-compose` works: install one (Debian: apt-get install docker-compose; scripts/docker-engine.sh does)")
	return nil
}

// TestDockerComposeUp brings docker-compose.yml up as a developer would and
// checks that the sync the C1 simulator queues at start reaches it.
func TestDockerComposeUp(t *testing.T) {
	t.Parallel()
	base := composeCommand(t)
	project := fmt.Sprintf("bfe2e%d", time.Now().UnixNano()%1_000_000_000)
	compose := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		full := append(append(append([]string{}, base[1:]...), "-f", "../docker-compose.yml", "-p", project), args...)
		cmd := exec.CommandContext(ctx, base[0], full...)
		// Random loopback ports, so a developer's running stack is no obstacle.
		cmd.Env = append(os.Environ(),
			"FULLSTORY_PUBLISH=127.0.0.1:", "C1_API_PUBLISH=127.0.0.1:",
			"C1_ADMIN_PUBLISH=127.0.0.1:", "CONNECTOR_HEALTH_PUBLISH=127.0.0.1:")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return stdout.String(), fmt.Errorf("%s %s: %w\n%s", base[0], strings.Join(full, " "), err, stderr.String())
		}
		return stdout.String(), nil
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := compose("logs", "--no-color", "--tail", "40")
			t.Logf("---- compose logs ----\n%s", logs)
		}
		if _, err := compose("down", "--volumes", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Errorf("compose down: %v", err)
		}
	})

	if _, err := compose("up", "--detach"); err != nil {
		t.Fatal(err)
	}
	hostPort := func(service, port string) string {
		out, err := compose("port", service, port)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	admin := "http://" + hostPort("c1", "8091")
	health := "http://" + hostPort("baton-fullstory", "8081")

	// The C1 simulator queues a full sync at start (--sync-interval).
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var sync c1sim.Task
	for {
		var tasks []c1sim.Task
		if err := getJSON(ctx, admin+"/admin/tasks", &tasks); err != nil {
			t.Fatal(err)
		}
		for _, tk := range tasks {
			if tk.Type == "full_sync" && tk.Finished() {
				sync = tk
			}
		}
		if sync.ID != "" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no full sync finished within 3 minutes; tasks: %+v", tasks)
		case <-time.After(500 * time.Millisecond):
		}
	}
	requireStatus(t, sync, c1sim.StatusSucceeded)
	if sync.Uploads != 1 {
		t.Errorf("sync uploads: got %d, want 1", sync.Uploads)
	}
	var sum c1sim.UploadSummary
	if err := getJSON(ctx, admin+"/admin/tasks/"+sync.ID+"/upload/summary", &sum); err != nil {
		t.Fatal(err)
	}
	// docker-compose.yml starts the Fullstory simulator with --users=50
	// (identified) and --anonymous-users=5: the connector uploads the 50.
	if got := sum.Counts["user"]; got != 50 {
		t.Errorf("uploaded users: got %d, want 50", got)
	}

	resp, err := http.Get(health + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("connector /ready: got %d, want 200", resp.StatusCode)
	}
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}
