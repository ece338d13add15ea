// Command baton-compose-init bridges the ConductorOne simulator and the
// connector in docker-compose.yml, where no image has a shell: it waits for
// the files the simulators write into the shared volume, then turns the
// simulator's credentials env file (BATON_CLIENT_ID=..., BATON_CLIENT_SECRET=...)
// into a baton config file (client-id: ..., client-secret: ...) that the
// connector reads through BATON_CONFIG_PATH, and exits.
//
//	baton-compose-init --env-file /data/c1-credentials.env --config-out /data/baton.yaml \
//	  --wait /data/c1-ca.pem --wait /data/fullstory-ca.pem
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

type fileList []string

func (l *fileList) String() string     { return strings.Join(*l, ",") }
func (l *fileList) Set(v string) error { *l = append(*l, v); return nil }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("baton-compose-init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "credentials env file to convert (KEY=VALUE lines, BATON_ prefix)")
	configOut := fs.String("config-out", "", "baton config YAML to write (mode 0600)")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the files")
	var wait fileList
	fs.Var(&wait, "wait", "also wait for this file to exist and be non-empty (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *envFile == "" || *configOut == "" {
		fmt.Fprintln(stderr, "baton-compose-init: --env-file and --config-out are required")
		return 2
	}
	if err := waitFor(append([]string{*envFile}, wait...), *timeout); err != nil {
		fmt.Fprintf(stderr, "baton-compose-init: %v\n", err)
		return 1
	}
	env, err := os.ReadFile(*envFile)
	if err != nil {
		fmt.Fprintf(stderr, "baton-compose-init: %v\n", err)
		return 1
	}
	conf, err := configFromEnv(env)
	if err != nil {
		fmt.Fprintf(stderr, "baton-compose-init: %s: %v\n", *envFile, err)
		return 1
	}
	if err := writeAtomic(*configOut, conf); err != nil {
		fmt.Fprintf(stderr, "baton-compose-init: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "baton-compose-init: wrote %s\n", *configOut)
	return 0
}

// waitFor polls until every file exists and is non-empty.
func waitFor(paths []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var missing []string
		for _, p := range paths {
			if st, err := os.Stat(p); err != nil || st.Size() == 0 {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s", timeout, strings.Join(missing, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// configFromEnv turns BATON_CLIENT_ID=x lines into `client-id: "x"` YAML,
// the keys baton-sdk's config file uses (its flag names). Values are written
// as JSON strings, which YAML reads verbatim.
func configFromEnv(env []byte) ([]byte, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(env))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "BATON_") || len(k) == len("BATON_") {
			return nil, fmt.Errorf("line %d: want BATON_NAME=value", n)
		}
		kv[strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "BATON_"), "_", "-"))] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if kv["client-id"] == "" || kv["client-secret"] == "" {
		return nil, errors.New("want BATON_CLIENT_ID and BATON_CLIENT_SECRET")
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strconv.Quote(kv[k]))
	}
	return b.Bytes(), nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".baton-compose-init-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
