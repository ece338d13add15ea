package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The Deployment and the two variants of its Secret in deploy/k8s: one per
// source the connector can read (exactly one is configured). Both Secrets
// have the name the Deployment's envFrom references, so the Deployment is
// the same for either.
const (
	DeploymentFile = "baton-fullstory.yaml"
	// APIKeySecretFile configures the v2 users source (BATON_API_KEY).
	APIKeySecretFile = "baton-fullstory-secrets.yaml"
	// SCIMSecretFile configures the SCIM teammates source
	// (BATON_SCIM_BASE_URL, BATON_SCIM_TOKEN).
	SCIMSecretFile = "baton-fullstory-scim-secrets.yaml"
)

// ManifestEnv is the connector's environment as the Kubernetes manifests in
// dir (deploy/k8s) give it: the Deployment's plain values and the names of
// the Secret's keys (envFrom).
type ManifestEnv struct {
	Plain      map[string]string
	SecretKeys []string
}

// LoadManifestEnv reads the Deployment and the Secret in secretFile
// (APIKeySecretFile or SCIMSecretFile), and checks the Deployment's envFrom
// names that Secret.
func LoadManifestEnv(dir, secretFile string) (ManifestEnv, error) {
	var dep appsv1.Deployment
	if err := readYAML(filepath.Join(dir, DeploymentFile), &dep); err != nil {
		return ManifestEnv{}, err
	}
	var sec corev1.Secret
	if err := readYAML(filepath.Join(dir, secretFile), &sec); err != nil {
		return ManifestEnv{}, err
	}
	if n := len(dep.Spec.Template.Spec.Containers); n != 1 {
		return ManifestEnv{}, fmt.Errorf("harness: deployment has %d containers, want 1", n)
	}
	ctr := dep.Spec.Template.Spec.Containers[0]
	var refs []string
	for _, ef := range ctr.EnvFrom {
		if ef.SecretRef != nil {
			refs = append(refs, ef.SecretRef.Name)
		}
	}
	if len(refs) != 1 || refs[0] != sec.Name {
		return ManifestEnv{}, fmt.Errorf("harness: %s defines Secret %q but the Deployment's envFrom names %v", secretFile, sec.Name, refs)
	}
	env := ManifestEnv{Plain: map[string]string{}}
	for _, e := range ctr.Env {
		if e.ValueFrom == nil {
			env.Plain[e.Name] = e.Value
		}
	}
	for k := range sec.StringData {
		env.SecretKeys = append(env.SecretKeys, k)
	}
	for k := range sec.Data {
		env.SecretKeys = append(env.SecretKeys, k)
	}
	sort.Strings(env.SecretKeys)
	return env, nil
}

// With returns the container environment: the plain values, then the Secret's
// keys filled from secret (every key must be given, and nothing else), then
// extra (test-only additions such as BATON_BASE_URL and BATON_C1_API_HOST).
func (m ManifestEnv) With(secret, extra map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range m.Plain {
		out[k] = v
	}
	given := map[string]bool{}
	for _, k := range m.SecretKeys {
		v, ok := secret[k]
		if !ok {
			return nil, fmt.Errorf("harness: the Secret has %s but the test gives no value for it", k)
		}
		out[k], given[k] = v, true
	}
	for k := range secret {
		if !given[k] {
			return nil, fmt.Errorf("harness: the test gives %s but the Secret has no such key", k)
		}
	}
	for k, v := range extra {
		out[k] = v
	}
	return out, nil
}

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("harness: %s: %w", path, err)
	}
	return nil
}
