package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

func TestConfigFromEnvIsBatonYAML(t *testing.T) {
	secret := `secret-token:conductorone.com:v1:eyJrdHkiOiJPS1AiLCJjcnYiOiJFZDI1NTE5In0="quoted"`
	env := []byte("BATON_CLIENT_ID=baton@localhost:8443/pcc\n\n# comment\nBATON_CLIENT_SECRET=" + secret + "\n")
	got, err := configFromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := yaml.Unmarshal(got, &m); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, got)
	}
	want := map[string]string{"client-id": "baton@localhost:8443/pcc", "client-secret": secret}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestConfigFromEnvRejects(t *testing.T) {
	for _, env := range []string{
		"",
		"BATON_CLIENT_ID=x\n",
		"CLIENT_ID=x\nBATON_CLIENT_SECRET=y\n",
		"BATON_CLIENT_ID x\n",
	} {
		if _, err := configFromEnv([]byte(env)); err == nil {
			t.Errorf("configFromEnv(%q): got no error", env)
		}
	}
}

func TestRunWaitsThenWrites(t *testing.T) {
	dir := t.TempDir()
	envFile, ca, out := filepath.Join(dir, "c1.env"), filepath.Join(dir, "ca.pem"), filepath.Join(dir, "baton.yaml")
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = os.WriteFile(ca, []byte("pem"), 0o644)
		_ = os.WriteFile(envFile, []byte("BATON_CLIENT_ID=a\nBATON_CLIENT_SECRET=b\n"), 0o600)
	}()
	var stderr bytes.Buffer
	if code := run([]string{"--env-file", envFile, "--config-out", out, "--wait", ca, "--timeout", "10s"}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "client-id: \"a\"\nclient-secret: \"b\"\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}

	var stderr2 bytes.Buffer
	if code := run([]string{"--env-file", filepath.Join(dir, "never"), "--config-out", out, "--timeout", "300ms"}, &stderr2); code != 1 {
		t.Errorf("missing file: exit %d, want 1 (%s)", code, stderr2.String())
	}
}
