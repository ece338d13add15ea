//go:build e2e

package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/testcontainers/testcontainers-go"

	"github.com/conductorone/baton-fullstory/e2e/c1sim"
	"github.com/conductorone/baton-fullstory/e2e/fullstorysim"
)

// Scenario 1: a full sync through service mode uploads exactly the Fullstory
// simulator's identified users.
func TestServiceModeFullSync(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackConfig{users: 120, anonymousUsers: 15, pageSize: 25})

	task := s.runTask(t, c1sim.TaskRequest{Type: "full_sync"}, 3*time.Minute)
	requireStatus(t, task, c1sim.StatusSucceeded)
	if task.Attempts != 1 || task.Uploads != 1 {
		t.Errorf("task: got %d attempts and %d uploads, want 1 and 1", task.Attempts, task.Uploads)
	}
	s.checkSyncMatches(t, task.ID)

	// The connector paged through the identified users once: 120 users, 25 a
	// page, each page asked for once (Validate's request is the first page).
	if got := listRequests(t, s.fullstory)[http.StatusOK]; got != 5 {
		t.Errorf("got %d successful list requests, want 5 (one per page)", got)
	}
}

// Scenario 2: create-account and delete-account tasks change the Fullstory
// simulator's state, and the next sync shows it.
func TestServiceModeProvisioning(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackConfig{users: 20, anonymousUsers: 3})
	ctx := context.Background()

	before, err := s.fullstory.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var victim fullstorysim.User
	for _, u := range before {
		if u.Identified() {
			victim = u
			break
		}
	}
	if victim.ID == "" {
		t.Fatal("no identified user to delete")
	}

	create := s.runTask(t, c1sim.TaskRequest{
		Type: "create_account", Login: "e2e-new-person", Email: "new.person@example.com", DisplayName: "New Person",
	}, 2*time.Minute)
	requireStatus(t, create, c1sim.StatusSucceeded)

	del := s.runTask(t, c1sim.TaskRequest{
		Type: "delete_resource", ResourceType: "user", ResourceID: victim.ID,
	}, 2*time.Minute)
	requireStatus(t, del, c1sim.StatusSucceeded)

	// The simulator deletes asynchronously (500ms here): wait until it is gone.
	var after []fullstorysim.User
	deadline := time.Now().Add(30 * time.Second)
	for {
		if after, err = s.fullstory.Users(ctx); err != nil {
			t.Fatal(err)
		}
		if !hasUser(after, victim.ID) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The store changed by exactly one creation and one deletion.
	type person struct{ UID, Email, DisplayName string }
	var added []person
	for _, u := range after {
		if !hasUser(before, u.ID) {
			added = append(added, person{u.UID, u.Email, u.DisplayName})
		}
	}
	if diff := cmp.Diff([]person{{"e2e-new-person", "new.person@example.com", "New Person"}}, added); diff != "" {
		t.Errorf("users created (-want +got):\n%s", diff)
	}
	if hasUser(after, victim.ID) {
		t.Errorf("user %s still in the simulator after the delete task", victim.ID)
	}
	if got, want := len(after), len(before); got != want {
		t.Errorf("got %d users after one creation and one deletion, want %d", got, want)
	}

	sync := s.runTask(t, c1sim.TaskRequest{Type: "full_sync"}, 3*time.Minute)
	requireStatus(t, sync, c1sim.StatusSucceeded)
	s.checkSyncMatches(t, sync.ID)
}

// Scenario 3: the simulator rate-limits and fails a share of requests; the sync
// still completes with nothing lost or duplicated.
func TestServiceModeSyncSurvivesFaults(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackConfig{users: 150, anonymousUsers: 10, pageSize: 15})
	ctx := context.Background()
	if err := s.fullstory.SetFaults(ctx, fullstorysim.Faults{RateLimitRPS: 4, ErrorRate: 0.2, DropRate: 0.05}); err != nil {
		t.Fatal(err)
	}

	task := s.runTask(t, c1sim.TaskRequest{Type: "full_sync"}, 8*time.Minute)
	requireStatus(t, task, c1sim.StatusSucceeded)

	if err := s.fullstory.SetFaults(ctx, fullstorysim.Faults{}); err != nil {
		t.Fatal(err)
	}
	s.checkSyncMatches(t, task.ID)

	// The faults did happen: the connector saw 429s and 5xx answers.
	byStatus := listRequests(t, s.fullstory)
	var errors5xx int
	for status, n := range byStatus {
		if status >= 500 {
			errors5xx += n
		}
	}
	t.Logf("list requests by status under faults: %v", byStatus)
	if byStatus[http.StatusTooManyRequests] == 0 || errors5xx == 0 {
		t.Errorf("list requests by status %v: want some 429 and some 5xx answers", byStatus)
	}
}

// Scenario 4: the connector container is killed mid-sync and restarted; the
// task is handed out again and one complete upload results.
func TestServiceModeConnectorKilledMidSync(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackConfig{users: 300, pageSize: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// 30 pages at 300ms each: the sync takes about ten seconds.
	if err := s.fullstory.SetFaults(ctx, fullstorysim.Faults{LatencyMS: 300}); err != nil {
		t.Fatal(err)
	}

	id, err := s.c1.EnqueueTask(ctx, c1sim.TaskRequest{Type: "full_sync"})
	if err != nil {
		t.Fatal(err)
	}
	// Kill once the sync is well under way: a few pages fetched, not all.
	var killedAfter int
	for {
		if killedAfter = listRequests(t, s.fullstory)[http.StatusOK]; killedAfter >= 5 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the sync never started")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.conn.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	mid, err := s.c1.Task(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Finished() {
		t.Fatalf("task finished before the kill: %+v", mid)
	}
	if _, err := s.c1.Upload(ctx, id); err == nil {
		t.Fatal("an upload exists before the killed sync was re-run")
	}

	// Restart the same container (same env, same files), as the kubelet would.
	if err := s.conn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	task, err := s.c1.WaitTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	requireStatus(t, task, c1sim.StatusSucceeded)
	t.Logf("killed after %d list pages; task attempts %d, requeues %d, uploads %d",
		killedAfter, task.Attempts, task.Requeues, task.Uploads)
	// Handed out twice (the second time after its heartbeats stopped), one upload.
	type run struct{ Attempts, Requeues, Uploads int }
	if diff := cmp.Diff(run{2, 1, 1}, run{task.Attempts, task.Requeues, task.Uploads}); diff != "" {
		t.Errorf("task runs (-want +got):\n%s", diff)
	}
	if err := s.fullstory.SetFaults(ctx, fullstorysim.Faults{}); err != nil {
		t.Fatal(err)
	}
	s.checkSyncMatches(t, id)

	tasks, err := s.c1.Tasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 {
		t.Errorf("got %d tasks, want the one full sync: %+v", len(tasks), tasks)
	}
}

// Scenario 5: a Fullstory key without read permission makes the sync fail with
// a clear permission error; the connector keeps running and serves the next
// task once the key is fixed on Fullstory's side.
func TestServiceModeWrongKeyThenRecovery(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackConfig{users: 30, apiKey: standardKey, keyRole: "standard"})
	ctx := context.Background()
	started, err := s.conn.State(ctx)
	if err != nil {
		t.Fatal(err)
	}

	failed := s.runTask(t, c1sim.TaskRequest{Type: "full_sync"}, 3*time.Minute)
	requireStatus(t, failed, c1sim.StatusFailed)
	t.Logf("failed task error: %s", failed.Error)
	if failed.ErrorCode != "PermissionDenied" {
		t.Errorf("task error code: got %q, want PermissionDenied", failed.ErrorCode)
	}
	if msg := strings.ToLower(failed.Error); !strings.Contains(msg, "permission") {
		t.Errorf("task error %q: want a clear permission error", failed.Error)
	}
	if _, err := s.c1.Upload(ctx, failed.ID); err == nil {
		t.Error("a failed sync uploaded a c1z")
	}

	// The connector process is still the same, alive and ready.
	if st, err := s.conn.State(ctx); err != nil || !st.Running || st.StartedAt != started.StartedAt {
		t.Fatalf("connector state after the failed task: %+v (started %s), %v", st, started.StartedAt, err)
	}
	health, err := s.conn.HealthURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, route := range []string{"/live", "/ready"} {
		resp, err := http.Get(health + route)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: got %d, want 200", route, resp.StatusCode)
		}
	}

	// The Fullstory admin gives the key the Architect role: a simulator with
	// the same users and certificate, now knowing the key as architect,
	// replaces the old one under the same name.
	if err := testcontainers.TerminateContainer(s.fullstory); err != nil {
		t.Fatal(err)
	}
	s.fullstory = s.runFullstory(t, "architect")

	ok := s.runTask(t, c1sim.TaskRequest{Type: "full_sync"}, 3*time.Minute)
	requireStatus(t, ok, c1sim.StatusSucceeded)
	s.checkSyncMatches(t, ok.ID)
}

func hasUser(users []fullstorysim.User, id string) bool {
	for _, u := range users {
		if u.ID == id {
			return true
		}
	}
	return false
}
