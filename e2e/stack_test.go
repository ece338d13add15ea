//go:build e2e

package e2e_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/testcontainers/testcontainers-go"

	"github.com/conductorone/baton-fullstory/e2e/c1sim"
	"github.com/conductorone/baton-fullstory/e2e/connector"
	"github.com/conductorone/baton-fullstory/e2e/fullstorysim"
	"github.com/conductorone/baton-fullstory/e2e/harness"
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	if err := harness.Setup(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	if err := harness.CheckImages(ctx, fullstorysim.DefaultImage, c1sim.DefaultImage, connector.DefaultImage); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

const (
	fullstoryAlias = "fullstory"
	c1Alias        = "c1"
	connectorAlias = "baton-fullstory"
	adminKey       = "e2e-admin-key"
	standardKey    = "e2e-standard-key"
	scimToken      = "e2e-scim-token"
	seed           = 7
)

// stackConfig describes one scenario's world.
type stackConfig struct {
	users, anonymousUsers int
	pageSize              int
	deleteDelay           time.Duration
	// apiKey is the connector's BATON_API_KEY; the Fullstory simulator knows
	// it with role keyRole.
	apiKey, keyRole string
	// scim configures the connector for the SCIM teammates source instead
	// (deploy/k8s's SCIM Secret: BATON_SCIM_BASE_URL, BATON_SCIM_TOKEN, no
	// BATON_API_KEY). The simulator then accepts scimToken, generates that
	// many teammates and serves at most scimMaxPageSize of them a page.
	scim            bool
	teammates       int
	scimMaxPageSize int
}

// stack is the three containers on one private network.
type stack struct {
	cfg       stackConfig
	net       *testcontainers.DockerNetwork
	ca        *harness.CA
	tlsCert   []byte
	tlsKey    []byte
	fullstory *fullstorysim.Container
	c1        *c1sim.Container
	conn      *connector.Container
	creds     c1sim.Credentials
}

func newStack(t *testing.T, cfg stackConfig) *stack {
	t.Helper()
	ctx := context.Background()
	if cfg.apiKey == "" {
		cfg.apiKey, cfg.keyRole = adminKey, "admin"
	}
	if cfg.pageSize == 0 {
		cfg.pageSize = 25
	}
	s := &stack{cfg: cfg, net: harness.Network(t)}

	// The Fullstory simulator serves HTTPS with a certificate for its network
	// alias from a CA the test makes, so a replacement simulator (scenario 5)
	// presents a certificate the connector already trusts.
	var err error
	if s.ca, err = harness.NewCA(); err != nil {
		t.Fatal(err)
	}
	if s.tlsCert, s.tlsKey, err = s.ca.Issue(fullstoryAlias, "localhost", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	s.fullstory = s.runFullstory(t, cfg.keyRole)

	s.c1, err = c1sim.Run(ctx, c1sim.DefaultImage,
		c1sim.WithNetwork(s.net, c1Alias),
		c1sim.WithArgs(c1Args...),
	)
	testcontainers.CleanupContainer(t, s.c1)
	harness.DumpLogsOnFailure(t, "c1-simulator", s.c1)
	if err != nil {
		t.Fatal(err)
	}
	if s.creds, err = s.c1.MintCredentials(ctx, "baton-fullstory-e2e"); err != nil {
		t.Fatal(err)
	}

	s.conn = s.runConnector(t)
	return s
}

// c1Args makes a dead connector's task come back quickly (scenario 4): the
// connector is asked to heartbeat every 2s and a task is re-queued after 8s
// without one (the timeout must leave room for a few missed beats, or a live
// connector's task is handed out twice).
var c1Args = []string{"--heartbeat-interval", "2s", "--heartbeat-timeout", "8s"}

func (s *stack) runFullstory(t *testing.T, role string) *fullstorysim.Container {
	t.Helper()
	opts := []testcontainers.ContainerCustomizer{
		fullstorysim.WithNetwork(s.net, fullstoryAlias),
		fullstorysim.WithTLS(s.ca.CertPEM, s.tlsCert, s.tlsKey),
		fullstorysim.WithAPIKey(s.cfg.apiKey, role),
		fullstorysim.WithUsers(s.cfg.users, s.cfg.anonymousUsers, seed),
		fullstorysim.WithPageSize(s.cfg.pageSize),
		fullstorysim.WithDeleteDelay(orDefault(s.cfg.deleteDelay, 500*time.Millisecond)),
	}
	if s.cfg.scim {
		opts = append(opts,
			fullstorysim.WithSCIMToken(scimToken),
			fullstorysim.WithTeammates(s.cfg.teammates),
			fullstorysim.WithSCIMMaxPageSize(s.cfg.scimMaxPageSize),
		)
	}
	fs, err := fullstorysim.Run(context.Background(), fullstorysim.DefaultImage, opts...)
	testcontainers.CleanupContainer(t, fs)
	harness.DumpLogsOnFailure(t, "fullstory-simulator", fs)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// runConnector starts the connector with the environment of the Kubernetes
// manifests: the Deployment's values and the keys of the Secret for the
// configured source, filled in. Only the endpoints differ from production:
// BATON_BASE_URL (or BATON_SCIM_BASE_URL) and BATON_C1_API_HOST name the
// simulators, and SSL_CERT_FILE holds their CAs.
func (s *stack) runConnector(t *testing.T) *connector.Container {
	t.Helper()
	secretFile := harness.APIKeySecretFile
	secret := map[string]string{
		"BATON_CLIENT_ID":     s.creds.ClientID,
		"BATON_CLIENT_SECRET": s.creds.ClientSecret,
		"BATON_PROVISIONING":  "true",
	}
	extra := map[string]string{
		"BATON_C1_API_HOST": s.c1.APIHost(),
		"BATON_LOG_LEVEL":   "debug",
	}
	if s.cfg.scim {
		// The production value of BATON_SCIM_BASE_URL lives in the Secret:
		// the test replaces it with the simulator's.
		secretFile = harness.SCIMSecretFile
		secret["BATON_SCIM_BASE_URL"] = s.fullstory.SCIMInternalURL()
		secret["BATON_SCIM_TOKEN"] = scimToken
	} else {
		secret["BATON_API_KEY"] = s.cfg.apiKey
		extra["BATON_BASE_URL"] = s.fullstory.InternalURL()
	}
	manifest, err := harness.LoadManifestEnv("../deploy/k8s", secretFile)
	if err != nil {
		t.Fatal(err)
	}
	env, err := manifest.With(secret, extra)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := connector.Run(context.Background(), connector.DefaultImage,
		connector.WithNetwork(s.net, connectorAlias),
		connector.WithEnv(env),
		connector.WithCACerts(s.c1.CACertPEM(), s.ca.CertPEM),
	)
	testcontainers.CleanupContainer(t, conn)
	harness.DumpLogsOnFailure(t, "baton-fullstory", conn)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// runTask enqueues a task and waits until it finishes.
func (s *stack) runTask(t *testing.T, req c1sim.TaskRequest, timeout time.Duration) c1sim.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	id, err := s.c1.EnqueueTask(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	task, err := s.c1.WaitTask(ctx, id)
	if err != nil {
		t.Fatalf("task %s (%s): %v", id, req.Type, err)
	}
	return task
}

// account is what C1 learns about a Fullstory user.
type account struct {
	ID     string
	Login  string
	Email  string
	Status string
}

// wantAccounts is what a sync must upload for the simulator's users: every
// identified user (anonymous ones are left out by default), sorted by ID.
func wantAccounts(users []fullstorysim.User) []account {
	var out []account
	for _, u := range users {
		if !u.Identified() {
			continue
		}
		status := "RESOURCE_STATUS_ENABLED"
		if u.IsBeingDeleted {
			status = "RESOURCE_STATUS_DISABLED"
		}
		out = append(out, account{ID: u.ID, Login: u.UID, Email: u.Email, Status: status})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// gotAccounts flattens an upload summary the same way.
func gotAccounts(t *testing.T, sum c1sim.UploadSummary) []account {
	t.Helper()
	var out []account
	for _, u := range sum.Users {
		a := account{ID: u.ID, Login: u.Login, Status: u.Status}
		for _, e := range u.Emails {
			if e.Primary {
				a.Email = e.Address
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// checkSyncMatches compares the c1z uploaded for task id with the simulator's
// identified users, whole, and checks no user was uploaded twice.
func (s *stack) checkSyncMatches(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	sum, err := s.c1.Summary(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	users, err := s.fullstory.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := wantAccounts(users)
	if len(want) == 0 {
		t.Fatal("the simulator has no identified users: the comparison would prove nothing")
	}
	if diff := cmp.Diff(want, gotAccounts(t, sum)); diff != "" {
		t.Errorf("uploaded users differ from the Fullstory simulator's identified users (-want +got):\n%s", diff)
	}
	checkSummaryUsers(t, sum)
}

// checkSummaryUsers checks an upload summary agrees with itself: the count
// is the number of users listed, and no user was uploaded twice.
func checkSummaryUsers(t *testing.T, sum c1sim.UploadSummary) {
	t.Helper()
	if sum.Counts["user"] != len(sum.Users) {
		t.Errorf("summary counts %d users but lists %d", sum.Counts["user"], len(sum.Users))
	}
	seen := map[string]int{}
	for _, id := range sum.UserIDs {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("user %s uploaded %d times", id, n)
		}
	}
}

func requireStatus(t *testing.T, task c1sim.Task, want string) {
	t.Helper()
	if task.Status != want {
		t.Fatalf("task %s (%s): got status %q (error %q, attempts %d), want %q",
			task.ID, task.Type, task.Status, task.Error, task.Attempts, want)
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// listRequests counts the simulator's GET /v2/users requests by status.
func listRequests(t *testing.T, fs *fullstorysim.Container) map[int]int {
	t.Helper()
	reqs, err := fs.Requests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, r := range reqs {
		if r.Method == "GET" && strings.TrimSuffix(r.Path, "/") == "/v2/users" {
			out[r.Status]++
		}
	}
	return out
}
