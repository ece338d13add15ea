//go:build consumer || provider

package contracts

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"testing"

	pactlog "github.com/pact-foundation/pact-go/v2/log"
)

// pactDir is where consumer tests write the pact file and where the
// provider verification reads it. scripts/pact.sh points the consumer at a
// temporary directory and compares or copies the result.
var pactDir = flag.String("pact-dir", committedPactDir, "directory of the pact files (written by consumer tests, read by provider verification)")

func TestMain(m *testing.M) {
	flag.Parse()
	if raceEnabled {
		// pact-go's cgo bindings crash under the race detector.
		fmt.Fprintln(os.Stderr, "contracts: Pact tests must not run with -race; run them through scripts/pact.sh")
		os.Exit(2)
	}
	if os.Getenv("PACT_DO_NOT_TRACK") == "" {
		// libpact_ffi otherwise reports usage to a remote service; tests
		// talk only to localhost. (cgo makes os.Setenv reach the C side.)
		if err := os.Setenv("PACT_DO_NOT_TRACK", "true"); err != nil {
			fmt.Fprintln(os.Stderr, "contracts:", err)
			os.Exit(2)
		}
	}
	if os.Getenv("PACT_LOG_LEVEL") == "" && os.Getenv("LOG_LEVEL") == "" {
		// pact-go logs every step at INFO; keep failures readable.
		if err := pactlog.SetLogLevel("WARN"); err != nil {
			fmt.Fprintln(os.Stderr, "contracts:", err)
			os.Exit(2)
		}
	}
	// pact-go initialises the FFI's logger for every mock server and logs
	// the FFI's refusal to do it twice as an error; that line is noise.
	log.SetOutput(dropLines{next: log.Writer(), noise: []byte("can't set logger")})
	os.Exit(m.Run())
}

// dropLines forwards log lines except those containing noise.
type dropLines struct {
	next  io.Writer
	noise []byte
}

func (d dropLines) Write(p []byte) (int, error) {
	if bytes.Contains(p, d.noise) {
		return len(p), nil
	}
	return d.next.Write(p)
}

// TestPactFFIVersion checks the linked libpact_ffi is the one
// scripts/install-pact-ffi.sh pins, which is inside the range pact-go
// v2.4.2 supports (>= 0.4.0, < 1.0.0; its installer ships 0.4.28).
func TestPactFFIVersion(t *testing.T) {
	if got, want := ffiVersion(), "0.4.28"; got != want {
		t.Fatalf("libpact_ffi reports version %q, want %q (run scripts/install-pact-ffi.sh)", got, want)
	}
}
