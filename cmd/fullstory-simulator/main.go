// Command fullstory-simulator serves a fake of Fullstory's v2 Users API
// and of its SCIM 2.0 teammates API under /scim/v2 (see package
// simulator/fullstory) for connector development, contract tests and
// end-to-end tests.
//
// Every flag can also be set through FULLSTORY_SIM_<FLAG> (upper case,
// dashes as underscores); a flag on the command line wins over the
// environment. Repeatable flags take a comma-separated list from the
// environment, e.g. FULLSTORY_SIM_API_KEY=key1,key2:standard or
// FULLSTORY_SIM_SCIM_TOKEN=tok1,tok2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
)

const envPrefix = "FULLSTORY_SIM_"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "fullstory-simulator: %v\n", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// usageError marks a bad flag or environment value.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Is(t error) bool {
	return t == errUsage
}

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run serves until ctx is done, then shuts down gracefully and flushes the
// state file.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, lookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	sim, err := fssim.New(append(cfg.options(), fssim.WithLogger(logger))...)
	if err != nil {
		return err
	}
	defer func() {
		if err := sim.Close(); err != nil {
			logger.Error("flushing state", "error", err)
		}
	}()
	if sim.OpenMode() {
		logger.Warn("no --api-key given: any API key is accepted with the admin role")
	}
	if sim.SCIMOpenMode() {
		logger.Warn("no --scim-token given: any bearer token is accepted on /scim/v2")
	}

	srv := &http.Server{
		Handler:           sim.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(stderr, "fullstory-simulator: http: ", 0),
	}
	scheme := "http"
	switch {
	case cfg.TLSSelfSigned:
		m, err := fssim.SelfSignedTLS(cfg.TLSHostnames, time.Now(), 365*24*time.Hour)
		if err != nil {
			return err
		}
		if cfg.CAOut != "" {
			if err := writeFileAtomic(cfg.CAOut, m.CACertPEM, 0o644); err != nil {
				return fmt.Errorf("--ca-out: %w", err)
			}
			logger.Info("CA certificate written", "path", cfg.CAOut, "hosts", strings.Join(cfg.TLSHostnames, ","))
		} else {
			logger.Warn("--tls-self-signed without --ca-out: clients cannot verify the certificate")
		}
		srv.TLSConfig = m.TLSConfig()
		scheme = "https"
	case cfg.TLSCert != "":
		m, err := loadKeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return err
		}
		srv.TLSConfig = m
		scheme = "https"
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	fmt.Fprintf(stdout, "fullstory-simulator listening on %s://%s\n", scheme, ln.Addr())

	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("graceful shutdown incomplete", "error", err)
	}
	<-errc // Serve returns http.ErrServerClosed
	return nil
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
