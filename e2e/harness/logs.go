package harness

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// DumpLogsOnFailure logs the last lines of a container's output when the test
// has failed. Register it after testcontainers.CleanupContainer so it runs
// before the container is removed.
func DumpLogsOnFailure(t testing.TB, name string, ctr testcontainers.Container) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() || ctr == nil {
			return
		}
		t.Logf("---- %s logs (last 60 lines) ----\n%s", name, Tail(ctr, 60))
	})
}

// Tail returns the last n lines of a container's logs (stdout and stderr).
func Tail(ctr testcontainers.Container, n int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return "(logs: " + err.Error() + ")"
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return "(logs: " + err.Error() + ")"
	}
	lines := strings.Split(string(bytes.TrimRight(b, "\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
