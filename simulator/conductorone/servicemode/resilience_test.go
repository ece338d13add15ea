package servicemode

import (
	"bytes"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	c1sim "github.com/conductorone/baton-fullstory/simulator/conductorone"
	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
)

// c1Log forwards the C1 simulator's log to the test and counts the events
// the resilience tests assert on. It outlives restarts of the simulator.
type c1Log struct {
	t       *testing.T
	mu      sync.Mutex
	issued  []time.Time // "issued bearer token"
	expired int         // calls refused with an expired bearer token
	partial []byte
}

func (l *c1Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if strings.Contains(line, `msg="issued bearer token"`) {
			l.issued = append(l.issued, time.Now())
		}
		if strings.Contains(line, "bearer token expired") {
			l.expired++
		}
		l.t.Log(line)
	}
	return len(p), nil
}

// tokensIssued counts tokens issued in [from, to].
func (l *c1Log) tokensIssued(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, at := range l.issued {
		if !at.Before(from) && !at.After(to) {
			n++
		}
	}
	return n
}

// restartableC1 is the C1 simulator on one address, with one CA and one
// state file, so it can be stopped and started again under a running
// connector: clients, tokens (as hashes) and tasks survive, as they would
// across a restart of the real service.
type restartableC1 struct {
	t        *testing.T
	addr     string
	ca       *c1sim.CertAuthority
	state    string
	opts     []c1sim.Option
	log      *c1Log
	srv      *c1sim.Server
	serveErr chan error
}

func (r *restartableC1) start() {
	r.t.Helper()
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	// The port was ours a moment ago; a listener that is still closing may
	// hold it briefly.
	var l net.Listener
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if l, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		r.t.Fatalf("listen on %s: %v", addr, err)
	}
	r.addr = l.Addr().String()
	opts := append([]c1sim.Option{
		c1sim.WithCertAuthority(r.ca, "127.0.0.1", "localhost"),
		c1sim.WithStateFile(r.state),
		c1sim.WithLogger(slog.New(slog.NewTextHandler(r.log, nil))),
		c1sim.WithTempDir(r.t.TempDir()),
	}, r.opts...)
	srv, err := c1sim.New(opts...)
	if err != nil {
		_ = l.Close()
		r.t.Fatalf("c1 simulator: %v", err)
	}
	r.srv = srv
	r.serveErr = make(chan error, 1)
	go func() { r.serveErr <- srv.Serve(l) }()
}

func (r *restartableC1) stop() {
	r.t.Helper()
	if r.srv == nil {
		return
	}
	if err := r.srv.Close(); err != nil {
		r.t.Errorf("c1 simulator Close: %v", err)
	}
	if err := <-r.serveErr; err != nil {
		r.t.Errorf("c1 simulator Serve: %v", err)
	}
	r.srv = nil
}

// newRestartableWorld is newWorld with a C1 simulator that can restart.
func newRestartableWorld(t *testing.T, c1Opts []c1sim.Option, fsOpts ...fssim.Option) (*world, *restartableC1) {
	t.Helper()
	fs, err := fssim.New(append([]fssim.Option{fssim.WithAPIKey(apiKey, fssim.RoleAdmin)}, fsOpts...)...)
	if err != nil {
		t.Fatalf("fullstory simulator: %v", err)
	}
	fsHTTP := httptest.NewServer(fs.Handler())
	t.Cleanup(func() {
		fsHTTP.Close()
		_ = fs.Close()
	})

	ca, err := c1sim.NewCertAuthority()
	if err != nil {
		t.Fatal(err)
	}
	c1 := &restartableC1{t: t, ca: ca, state: filepath.Join(t.TempDir(), "c1-state.json"), opts: c1Opts, log: &c1Log{t: t}}
	c1.start()
	t.Cleanup(c1.stop)

	caFile := filepath.Join(t.TempDir(), "c1-ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := c1.srv.MintCredentials("fullstory")
	if err != nil {
		t.Fatal(err)
	}
	return &world{fs: fs, fsURL: fsHTTP.URL, c1: c1.srv, c1Addr: c1.addr, caFile: caFile, creds: creds}, c1
}

func listRequests(fs *fssim.Server) int {
	n := 0
	for _, r := range fs.Requests() {
		if r.Path == "/v2/users" {
			n++
		}
	}
	return n
}

// TestServiceModeSurvivesAC1RestartMidSync stops the C1 simulator while a
// sync is listing users and starts it again on the same address a few
// seconds later. The connector keeps the task: it heartbeats again, uploads
// once and finishes it, and then takes the next task, all in one process.
func TestServiceModeSurvivesAC1RestartMidSync(t *testing.T) {
	w, c1 := newRestartableWorld(t, []c1sim.Option{
		c1sim.WithHeartbeatInterval(time.Second),
		c1sim.WithHeartbeatTimeout(45 * time.Second), // longer than the outage: no re-queue
		c1sim.WithPollInterval(200 * time.Millisecond),
	}, fssim.WithSeed(21), fssim.WithUsers(2400), fssim.WithPageSize(100))
	p := w.startConnector(t, w.creds)
	waitFor(t, p, 90*time.Second, "the connector's Hello", func() bool { return len(w.c1.Hellos()) > 0 })

	// 25 pages at 400 ms: the sync is surely in flight across the restart.
	w.fs.SetFaults(fssim.Faults{Latency: 400 * time.Millisecond})
	w.fs.ClearRequests()
	syncID := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskFullSync})
	waitFor(t, p, 60*time.Second, "the sync to list a few pages", func() bool { return listRequests(w.fs) >= 4 })

	c1.stop()
	down := time.Now()
	time.Sleep(3 * time.Second)
	if p.exited() {
		t.Fatalf("the connector exited while ConductorOne was down: %v", p.err)
	}
	c1.start()
	w.c1 = c1.srv
	t.Logf("C1 simulator was down for %s", time.Since(down).Round(100*time.Millisecond))

	v := w.waitTask(t, syncID)
	if v.Status != c1sim.StatusSucceeded || v.Attempts != 1 || v.Requeues != 0 || v.Uploads != 1 {
		t.Fatalf("sync across the restart: %+v", v)
	}
	w.checkUpload(t, syncID)

	// The poll loop is back too: a new task after the restart runs.
	w.fs.SetFaults(fssim.Faults{})
	createID := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskCreateAccount, Login: "after-restart", Email: "after.restart@example.com"})
	if v := w.waitTask(t, createID); v.Status != c1sim.StatusSucceeded {
		t.Fatalf("create_account after the restart: %+v", v)
	}
	if p.exited() {
		t.Fatalf("the connector exited: %v", p.err)
	}
}

// TestServiceModeReauthenticatesWhenItsTokenExpiresMidTask gives bearer
// tokens a 15 s life and runs a sync that lasts longer than that. The
// connector must fetch new tokens during the task (baton-sdk refreshes
// ahead of expiry) and finish it; no call may be refused for an expired
// token.
func TestServiceModeReauthenticatesWhenItsTokenExpiresMidTask(t *testing.T) {
	const ttl = 15 * time.Second
	w, c1 := newRestartableWorld(t, []c1sim.Option{
		c1sim.WithTokenTTL(ttl),
		c1sim.WithHeartbeatInterval(time.Second),
		c1sim.WithHeartbeatTimeout(10 * time.Second),
		c1sim.WithPollInterval(200 * time.Millisecond),
	}, fssim.WithSeed(22), fssim.WithUsers(2000), fssim.WithPageSize(50))
	p := w.startConnector(t, w.creds)
	waitFor(t, p, 90*time.Second, "the connector's Hello", func() bool { return len(w.c1.Hellos()) > 0 })

	// 40 pages at 600 ms: about 25 s, well past one token's life.
	w.fs.SetFaults(fssim.Faults{Latency: 600 * time.Millisecond})
	syncID := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskFullSync})
	var started time.Time
	waitFor(t, p, 60*time.Second, "the sync to start", func() bool {
		v, _ := w.c1.Task(syncID)
		if v.StartedAt != nil {
			started = time.Now()
			return true
		}
		return false
	})
	v := w.waitTask(t, syncID)
	finished := time.Now()
	if v.Status != c1sim.StatusSucceeded || v.Attempts != 1 || v.Requeues != 0 || v.Uploads != 1 {
		t.Fatalf("sync outliving its token: %+v", v)
	}
	w.checkUpload(t, syncID)

	took := finished.Sub(started)
	issued := c1.log.tokensIssued(started, finished)
	t.Logf("the sync took %s; %d bearer tokens issued meanwhile (TTL %s); %d heartbeats", took.Round(100*time.Millisecond), issued, ttl, v.Heartbeats)
	if took <= ttl {
		t.Fatalf("the sync took %s, not longer than the token TTL %s: the test proves nothing; slow Fullstory down more", took, ttl)
	}
	if issued < 2 {
		t.Errorf("%d bearer tokens issued during a %s task with %s tokens: the connector did not keep re-authenticating", issued, took, ttl)
	}
	c1.log.mu.Lock()
	expired := c1.log.expired
	c1.log.mu.Unlock()
	if expired != 0 {
		t.Errorf("%d calls were refused with an expired bearer token", expired)
	}
}

// TestServiceModeKeepsServingAfterFailedTasks fails tasks in several ways
// (a resource type the connector does not have, a sync against a Fullstory
// that fails every request, a delete of a user that does not exist) and
// checks the same connector process runs the tasks that follow.
func TestServiceModeKeepsServingAfterFailedTasks(t *testing.T) {
	w := newWorld(t, fssim.WithSeed(23), fssim.WithUsers(60), fssim.WithPageSize(25), fssim.WithDeleteDelay(time.Hour))
	p := w.startConnector(t, w.creds)
	waitFor(t, p, 90*time.Second, "the connector's Hello", func() bool { return len(w.c1.Hellos()) > 0 })

	// A resource type the connector does not have.
	id := w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskDeleteResource, ResourceType: "team", ResourceID: "t1"})
	if v := w.waitTask(t, id); v.Status != c1sim.StatusFailed {
		t.Fatalf("delete_resource of an unknown resource type: %+v", v)
	}

	// A sync while Fullstory fails every request: the client gives up after
	// its retries and the task fails, rather than retrying for ever.
	w.fs.SetFaults(fssim.Faults{ErrorRate: 1})
	start := time.Now()
	id = w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskFullSync})
	v := w.waitTask(t, id)
	if v.Status != c1sim.StatusFailed || v.Uploads != 0 || !strings.Contains(v.Error, "Fullstory answered 50") {
		t.Fatalf("sync against a failing Fullstory: %+v", v)
	}
	t.Logf("the sync against a failing Fullstory failed after %s with %s: %s", time.Since(start).Round(100*time.Millisecond), v.ErrorCode, v.Error)
	w.fs.SetFaults(fssim.Faults{})

	// A user that does not exist: deleting it is done already (idempotent).
	id = w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskDeleteResource, ResourceType: "user", ResourceID: "no-such-user"})
	if v := w.waitTask(t, id); v.Status != c1sim.StatusSucceeded {
		t.Fatalf("delete_resource of a missing user: %+v", v)
	}

	// The same process then syncs and provisions normally.
	id = w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskFullSync})
	if v := w.waitTask(t, id); v.Status != c1sim.StatusSucceeded || v.Uploads != 1 {
		t.Fatalf("sync after the failures: %+v", v)
	}
	w.checkUpload(t, id)
	id = w.enqueue(t, c1sim.TaskSpec{Type: c1sim.TaskCreateAccount, Login: "after-failures", Email: "after.failures@example.com"})
	if v := w.waitTask(t, id); v.Status != c1sim.StatusSucceeded {
		t.Fatalf("create_account after the failures: %+v", v)
	}
	if p.exited() {
		t.Fatalf("the connector exited: %v", p.err)
	}
	if n := len(w.c1.Hellos()); n != 1 {
		t.Errorf("%d Hellos: the connector restarted", n)
	}
}
