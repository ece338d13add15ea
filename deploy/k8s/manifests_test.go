// Tests of the Kubernetes manifests: every document decodes strictly into the
// Kubernetes API types, the hardening is there, and every environment variable
// they set is one the connector reads.
package k8s_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	cfg "github.com/conductorone/baton-fullstory/connector/config"
	"github.com/conductorone/baton-fullstory/connector/scim"
	"github.com/conductorone/baton-sdk/pkg/field"
)

const (
	// secretFile configures the API-key source (v2 users), scimSecretFile
	// the SCIM source (teammates). Both define the one Secret the
	// Deployment reads, so the Deployment is the same for either.
	secretFile     = "baton-fullstory-secrets.yaml"
	scimSecretFile = "baton-fullstory-scim-secrets.yaml"
	deploymentFile = "baton-fullstory.yaml"
	secretName     = "baton-fullstory-secrets"
	imageRepo      = "ghcr.io/conductorone/baton-fullstory"
	appLabel       = "baton-fullstory"
)

// sources are the connector's two sources, as the variables of their
// fields; a Secret must configure exactly one of them, whole.
var sources = map[string][]string{
	"api key": {envName(cfg.APIKeyField.FieldName)},
	"scim":    {envName(cfg.SCIMBaseURLField.FieldName), envName(cfg.SCIMTokenField.FieldName)},
}

// secretSource is the source each Secret file configures.
var secretSource = map[string]string{secretFile: "api key", scimSecretFile: "scim"}

// documents splits a YAML file into its non-empty documents.
func documents(t *testing.T, name string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// decodeStrict decodes a document into the Kubernetes type its kind names the
// way kubectl and the API server do: YAML to untyped JSON, then a
// case-sensitive decode refusing unknown and duplicate fields and wrongly
// typed values (a bare `true` where a string belongs).
func decodeStrict(t *testing.T, name string, doc []byte) any {
	t.Helper()
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var obj any
	switch meta.APIVersion + "/" + meta.Kind {
	case "v1/Secret":
		obj = &corev1.Secret{}
	case "apps/v1/Deployment":
		obj = &appsv1.Deployment{}
	default:
		t.Fatalf("%s: unexpected apiVersion %q kind %q", name, meta.APIVersion, meta.Kind)
	}
	if err := strictDecode(doc, obj); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return obj
}

func strictDecode(doc []byte, obj any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return fmt.Errorf("yaml: %w", err)
	}
	strictErrs, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return fmt.Errorf("decode into %T: %w", obj, err)
	}
	if len(strictErrs) > 0 {
		return fmt.Errorf("decode into %T: %w", obj, errors.Join(strictErrs...))
	}
	return nil
}

// manifests decodes every YAML file of this directory: one Secret in each
// secret file (by file name) and one Deployment.
func manifests(t *testing.T) (secrets map[string]*corev1.Secret, deployment *appsv1.Deployment) {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{secretFile, scimSecretFile, deploymentFile}
	sort.Strings(want)
	if !cmp.Equal(files, want) {
		t.Fatalf("manifest files: got %v, want %v", files, want)
	}
	secrets = map[string]*corev1.Secret{}
	var deployments []*appsv1.Deployment
	for _, f := range files {
		docs := documents(t, f)
		if len(docs) != 1 {
			t.Fatalf("%s: got %d documents, want 1", f, len(docs))
		}
		switch o := decodeStrict(t, f, docs[0]).(type) {
		case *corev1.Secret:
			if _, ok := secretSource[f]; !ok {
				t.Fatalf("%s: a Secret in a file that is not one of the secret files", f)
			}
			secrets[f] = o
		case *appsv1.Deployment:
			if f != deploymentFile {
				t.Fatalf("%s: a Deployment outside %s", f, deploymentFile)
			}
			deployments = append(deployments, o)
		}
	}
	if len(secrets) != len(secretSource) || len(deployments) != 1 {
		t.Fatalf("got %d secrets and %d deployments, want %d and 1", len(secrets), len(deployments), len(secretSource))
	}
	return secrets, deployments[0]
}

func TestStrictDecodeRejectsTypos(t *testing.T) {
	// The decoder the other tests rely on must refuse what kubectl refuses.
	for name, doc := range map[string]string{
		"unknown field":  "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringdata: {A: b}\n",
		"bool label":     "apiVersion: v1\nkind: Secret\nmetadata: {name: x, labels: {baton: true}}\n",
		"duplicate key":  "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ntype: Opaque\ntype: Opaque\n",
		"bool in secret": "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {BATON_PROVISIONING: true}\n",
	} {
		if err := strictDecode([]byte(doc), &corev1.Secret{}); err == nil {
			t.Errorf("%s: strict decode accepted %q", name, doc)
		}
	}
}

func TestSecret(t *testing.T) {
	secrets, d := manifests(t)
	c := d.Spec.Template.Spec.Containers[0]
	var refs []string
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil {
			refs = append(refs, ef.SecretRef.Name)
		}
	}
	if diff := cmp.Diff([]string{secretName}, refs); diff != "" {
		t.Errorf("deployment envFrom secretRef (-want +got):\n%s", diff)
	}
	shared := []string{"BATON_CLIENT_ID", "BATON_CLIENT_SECRET", "BATON_PROVISIONING"}
	for file, s := range secrets {
		// The same Secret whichever file creates it: the Deployment reads it.
		if s.Name != secretName || s.Type != corev1.SecretTypeOpaque {
			t.Errorf("%s: got name %q type %q, want %s Opaque", file, s.Name, s.Type, secretName)
		}
		if diff := cmp.Diff(map[string]string{"app": appLabel}, s.Labels); diff != "" {
			t.Errorf("%s labels (-want +got):\n%s", file, diff)
		}
		if len(s.Data) != 0 {
			t.Errorf("%s: data must be empty (use stringData): got keys %v", file, keys(s.Data))
		}
		want := append(slices.Clone(shared), sources[secretSource[file]]...)
		sort.Strings(want)
		if diff := cmp.Diff(want, keys(s.StringData)); diff != "" {
			t.Errorf("%s keys (-want +got):\n%s", file, diff)
		}
		if got := configuredSources(s.StringData); !cmp.Equal(got, []string{secretSource[file]}) {
			t.Errorf("%s configures sources %v, want exactly %q", file, got, secretSource[file])
		}
		for k, v := range s.StringData {
			switch k {
			case "BATON_PROVISIONING":
				if v != "true" {
					t.Errorf("%s %s: got %q, want \"true\"", file, k, v)
				}
			case envName(cfg.SCIMBaseURLField.FieldName):
				// Not secret: Fullstory's SCIM endpoint, as the connector parses it.
				if u, err := scim.ParseBaseURL(v); err != nil || u.String() != scim.DefaultBaseURL {
					t.Errorf("%s %s: got %q (%v), want %s", file, k, v, err, scim.DefaultBaseURL)
				}
			default:
				if !regexp.MustCompile(`^<[^>]+>$`).MatchString(v) {
					t.Errorf("%s %s: got %q, want a <placeholder>", file, k, v)
				}
			}
		}
	}
}

// configuredSources names the sources whose variables are all set in env,
// and fails for a source only partly set.
func configuredSources(env map[string]string) []string {
	var out []string
	for name, vars := range sources {
		n := 0
		for _, v := range vars {
			if _, ok := env[v]; ok {
				n++
			}
		}
		switch n {
		case 0:
		case len(vars):
			out = append(out, name)
		default:
			out = append(out, name+" (partly)")
		}
	}
	sort.Strings(out)
	return out
}

func TestConfiguredSources(t *testing.T) {
	got := map[string][]string{}
	for name, env := range map[string]map[string]string{
		"none":      {"BATON_CLIENT_ID": "x"},
		"api key":   {"BATON_API_KEY": "k"},
		"scim":      {"BATON_SCIM_BASE_URL": "u", "BATON_SCIM_TOKEN": "t"},
		"both":      {"BATON_API_KEY": "k", "BATON_SCIM_BASE_URL": "u", "BATON_SCIM_TOKEN": "t"},
		"scim part": {"BATON_SCIM_TOKEN": "t"},
	} {
		got[name] = configuredSources(env)
	}
	want := map[string][]string{
		"none":      nil,
		"api key":   {"api key"},
		"scim":      {"scim"},
		"both":      {"api key", "scim"},
		"scim part": {"scim (partly)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("configuredSources (-want +got):\n%s", diff)
	}
}

func TestDeploymentHardening(t *testing.T) {
	_, d := manifests(t)
	if d.Name != appLabel {
		t.Errorf("deployment name: got %q, want %q", d.Name, appLabel)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("deployment: want 1 replica and the Recreate strategy, got %v %q", d.Spec.Replicas, d.Spec.Strategy.Type)
	}

	// The selector is fixed (no templating typo) and selects the pod template,
	// so `kubectl logs -l app=baton-fullstory` finds the pod.
	if diff := cmp.Diff(map[string]string{"app": appLabel}, d.Spec.Selector.MatchLabels); diff != "" {
		t.Errorf("selector (-want +got):\n%s", diff)
	}
	sel, err := labels.Parse("app=" + appLabel)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("app=%s does not select the pod template labels %v", appLabel, d.Spec.Template.Labels)
	}
	if !strings.Contains(mustRead(t, deploymentFile), "kubectl logs -l app="+appLabel+" ") {
		t.Errorf("%s: the documented log command must use -l app=%s", deploymentFile, appLabel)
	}

	pod := d.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("pod: automountServiceAccountToken must be false (the connector never calls the Kubernetes API)")
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext: want runAsNonRoot and RuntimeDefault seccomp, got %+v", psc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if repo, _, _ := strings.Cut(c.Image, ":"); repo != imageRepo {
		t.Errorf("image: got %q, want %s:<tag>", c.Image, imageRepo)
	}

	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("container securityContext missing")
	}
	gotSC := struct {
		RunAsNonRoot, ReadOnlyRootFilesystem, AllowPrivilegeEscalation, Privileged bool
		RunAsUser                                                                  int64
		Drop                                                                       []corev1.Capability
		Add                                                                        []corev1.Capability
	}{deref(sc.RunAsNonRoot), deref(sc.ReadOnlyRootFilesystem), deref(sc.AllowPrivilegeEscalation), deref(sc.Privileged),
		deref(sc.RunAsUser), nil, nil}
	if sc.Capabilities != nil {
		gotSC.Drop, gotSC.Add = sc.Capabilities.Drop, sc.Capabilities.Add
	}
	wantSC := gotSC
	wantSC.RunAsNonRoot, wantSC.ReadOnlyRootFilesystem, wantSC.AllowPrivilegeEscalation, wantSC.Privileged = true, true, false, false
	wantSC.RunAsUser, wantSC.Drop, wantSC.Add = 65532, []corev1.Capability{"ALL"}, nil
	if diff := cmp.Diff(wantSC, gotSC); diff != "" {
		t.Errorf("container securityContext (-want +got):\n%s", diff)
	}

	// Requests and limits for CPU and memory (and the ephemeral storage the
	// c1z files use), requests no larger than limits.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("resources %s: want both a request and a limit, got request %v limit %v", r, okReq, okLim)
			continue
		}
		if req.Cmp(lim) > 0 || req.Cmp(resource.MustParse("0")) <= 0 {
			t.Errorf("resources %s: request %s must be positive and at most the limit %s", r, req.String(), lim.String())
		}
	}

	// A read-only root needs a writable /tmp for baton-sdk's c1z temp files.
	var tmpVolume string
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" && !m.ReadOnly {
			tmpVolume = m.Name
		}
	}
	idx := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == tmpVolume })
	if tmpVolume == "" || idx < 0 || pod.Volumes[idx].EmptyDir == nil {
		t.Errorf("want a writable emptyDir mounted at /tmp, got mounts %+v volumes %+v", c.VolumeMounts, pod.Volumes)
	}
}

func TestDeploymentProbes(t *testing.T) {
	_, d := manifests(t)
	c := d.Spec.Template.Spec.Containers[0]
	env := plainEnv(t, c)

	// The health server must be on and reachable by the kubelet.
	for k, want := range map[string]string{"BATON_HEALTH_CHECK": "true", "BATON_HEALTH_CHECK_BIND_ADDRESS": "0.0.0.0"} {
		if env[k] != want {
			t.Errorf("env %s: got %q, want %q", k, env[k], want)
		}
	}
	port := env["BATON_HEALTH_CHECK_PORT"]
	if port == "" {
		port = "8081" // baton-sdk's default
	}
	named := map[string]string{}
	for _, p := range c.Ports {
		named[p.Name] = itoa(p.ContainerPort)
	}

	type probe struct{ Path, Port string }
	resolve := func(name string, p *corev1.Probe) *probe {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an httpGet probe, got %+v", name, p)
			return nil
		}
		got := &probe{Path: p.HTTPGet.Path, Port: p.HTTPGet.Port.String()}
		if p.HTTPGet.Port.Type == intstr.String {
			got.Port = named[got.Port]
		}
		return got
	}
	got := map[string]*probe{
		"liveness":  resolve("liveness", c.LivenessProbe),
		"readiness": resolve("readiness", c.ReadinessProbe),
		"startup":   resolve("startup", c.StartupProbe),
	}
	// /health calls Validate (a Fullstory request): never a probe.
	want := map[string]*probe{
		"liveness":  {Path: "/live", Port: port},
		"readiness": {Path: "/ready", Port: port},
		"startup":   {Path: "/live", Port: port},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("probes (-want +got):\n%s", diff)
	}
}

// TestEnvNamesAreConnectorFlags checks every variable the manifests set
// against the connector's own configuration: its fields plus baton-sdk's
// default fields (the same lists the binary turns into flags and BATON_*
// variables), and the few variables baton-sdk reads directly.
func TestEnvNamesAreConnectorFlags(t *testing.T) {
	secrets, d := manifests(t)
	c := d.Spec.Template.Spec.Containers[0]

	fields := map[string]field.SchemaField{}
	for _, f := range append(slices.Clone(field.DefaultFields), cfg.Config.Fields...) {
		fields[envName(f.FieldName)] = f
	}
	sdkSource := sdkDir(t)

	// Each Secret with the Deployment is one complete environment.
	for file, secret := range secrets {
		set := map[string]string{} // name -> where
		for k := range plainEnv(t, c) {
			set[k] = "deployment env"
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil {
				set[e.Name] = "deployment env valueFrom"
			}
		}
		for k := range secret.StringData {
			if where, dup := set[k]; dup {
				t.Errorf("%s sets %s, which the %s sets too", file, k, where)
			}
			set[k] = "secret"
		}

		for name, where := range set {
			f, ok := fields[name]
			if !ok {
				if !readsEnvDirectly(t, sdkSource, name) {
					t.Errorf("%s: %s sets %s: not a connector or baton-sdk flag, and baton-sdk does not read it", file, where, name)
				}
				continue
			}
			if f.Secret && where != "secret" {
				t.Errorf("%s: %s is a secret field but comes from the %s, want the Secret", file, name, where)
			}
		}
		for _, name := range []string{"BATON_CLIENT_ID", "BATON_CLIENT_SECRET"} {
			if set[name] != "secret" {
				t.Errorf("%s: %s: got from %q, want from the Secret (service mode)", file, name, set[name])
			}
		}
		for _, f := range cfg.Config.Fields {
			if f.Required && set[envName(f.FieldName)] == "" {
				t.Errorf("%s: required connector field %s (%s) is not set by the manifests", file, f.FieldName, envName(f.FieldName))
			}
		}
		// The Deployment sets no source of its own: the Secret picks it.
		for name, vars := range sources {
			for _, v := range vars {
				if where := set[v]; where != "" && where != "secret" {
					t.Errorf("%s: %s (source %s) comes from the %s, want only from the Secret", file, v, name, where)
				}
			}
		}
	}
}

// envName is how baton-sdk's viper maps a field to a variable: BATON_ prefix,
// dashes to underscores, upper case.
func envName(fieldName string) string {
	return "BATON_" + strings.ToUpper(strings.ReplaceAll(fieldName, "-", "_"))
}

func plainEnv(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	return env
}

// sdkDir is baton-sdk's source directory in the module cache.
func sdkDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/conductorone/baton-sdk").Output()
	if err != nil {
		t.Fatalf("go list baton-sdk: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// readsEnvDirectly reports whether baton-sdk's non-test source calls
// os.Getenv/os.LookupEnv with the literal name (BATON_HOST_ID, BATON_C1_API_HOST).
func readsEnvDirectly(t *testing.T, dir, name string) bool {
	t.Helper()
	needles := [][]byte{[]byte(`os.LookupEnv("` + name + `")`), []byte(`os.Getenv("` + name + `")`)}
	found := false
	err := filepath.WalkDir(filepath.Join(dir, "pkg"), func(p string, d os.DirEntry, err error) error {
		if err != nil || found || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				found = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan baton-sdk source: %v", err)
	}
	return found
}

func TestReadsEnvDirectly(t *testing.T) {
	dir := sdkDir(t)
	got := map[string]bool{}
	for _, n := range []string{"BATON_HOST_ID", "BATON_C1_API_HOST", "BATON_NO_SUCH_THING"} {
		got[n] = readsEnvDirectly(t, dir, n)
	}
	want := map[string]bool{"BATON_HOST_ID": true, "BATON_C1_API_HOST": true, "BATON_NO_SUCH_THING": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readsEnvDirectly (-want +got):\n%s", diff)
	}
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func itoa(n int32) string {
	return strconv.Itoa(int(n))
}

// TestDeploymentKeepsMemoryFlat checks the Deployment runs the storage
// engine whose memory does not grow with the org, and requests what the
// whole pod (the syncer and its connector subprocess, ~145 MiB together at
// 100k-500k users with SQLite, bench/README.md) needs.
func TestDeploymentKeepsMemoryFlat(t *testing.T) {
	_, d := manifests(t)
	c := d.Spec.Template.Spec.Containers[0]
	if got := plainEnv(t, c)["BATON_STORAGE_ENGINE"]; got != "sqlite" {
		t.Errorf("BATON_STORAGE_ENGINE = %q, want sqlite", got)
	}
	req, limit := c.Resources.Requests[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceMemory]
	if floor := resource.MustParse("160Mi"); req.Cmp(floor) < 0 || limit.Cmp(req) < 0 {
		t.Errorf("memory request %s, limit %s: want a request of at least %s and a limit above it", req.String(), limit.String(), floor.String())
	}
}
