//go:build e2e

package e2e_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/conductorone/baton-fullstory/e2e/c1sim"
	"github.com/conductorone/baton-fullstory/e2e/fullstorysim"
)

// Scenario 6: SCIM mode. The connector, configured from the SCIM variant of
// the Secret, syncs Fullstory's teammates through service mode; create-account
// tasks create a teammate once (a repeat returns it) and reactivate an
// inactive one; delete tasks deactivate a teammate (a repeat changes
// nothing); the next sync shows all of it.
func TestServiceModeSCIMTeammates(t *testing.T) {
	t.Parallel()
	// 44 teammates, at most 10 a page: the connector asks for 100 and must
	// follow the short pages (5 of them). 44 covers every generated shape
	// (no displayName, no name, no email, several emails, inactive, ...).
	s := newStack(t, stackConfig{scim: true, teammates: 44, scimMaxPageSize: 10})
	ctx := context.Background()

	first := s.runTask(t, c1sim.TaskRequest{Type: "full_sync"}, 3*time.Minute)
	requireStatus(t, first, c1sim.StatusSucceeded)
	s.checkTeammateSyncMatches(t, first.ID)

	before := s.teammates(t)
	var victim, dormant fullstorysim.Teammate // an active and an inactive teammate
	for _, tm := range before {
		switch {
		case tm.Active && victim.ID == "" && len(tm.Emails) > 0:
			victim = tm
		case !tm.Active && dormant.ID == "":
			dormant = tm
		}
	}
	if victim.ID == "" || dormant.ID == "" {
		t.Fatalf("the seeded teammates hold no active (%q) or no inactive (%q) teammate", victim.ID, dormant.ID)
	}

	// Create: one new teammate, userName = the email, named from the profile.
	const newEmail = "new.teammate@example.com"
	create := c1sim.TaskRequest{
		Type: "create_account", Email: newEmail,
		Profile: map[string]any{"given_name": "New", "family_name": "Teammate"},
	}
	created := s.runTask(t, create, 2*time.Minute)
	requireStatus(t, created, c1sim.StatusSucceeded)
	res := createResult(t, created)
	afterCreate := s.teammates(t)
	added := newTeammates(before, afterCreate)
	if len(added) != 1 {
		t.Fatalf("create_account added %d teammates, want 1: %+v", len(added), added)
	}
	wantNew := fullstorysim.Teammate{
		Schemas: []string{fullstorysim.SCIMUserSchema},
		ID:      res.ResourceID, UserName: newEmail, DisplayName: "New Teammate",
		Name:   &fullstorysim.TeammateName{GivenName: "New", FamilyName: "Teammate"},
		Emails: []fullstorysim.TeammateEmail{{Value: newEmail, Type: "work", Primary: true}},
		Active: true,
	}
	if diff := cmp.Diff(c1sim.CreateResult{Outcome: c1sim.CreateSucceeded, ResourceID: added[0].ID}, res); diff != "" {
		t.Errorf("create_account result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantNew, added[0], ignoreMeta); diff != "" {
		t.Errorf("created teammate (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, without(afterCreate, added[0].ID)); diff != "" {
		t.Errorf("create_account changed other teammates (-before +after):\n%s", diff)
	}

	// The same task again: the teammate exists, nothing is created or changed.
	again := s.runTask(t, create, 2*time.Minute)
	requireStatus(t, again, c1sim.StatusSucceeded)
	if diff := cmp.Diff(c1sim.CreateResult{Outcome: c1sim.CreateAlreadyExists, ResourceID: added[0].ID}, createResult(t, again)); diff != "" {
		t.Errorf("repeated create_account result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(afterCreate, s.teammates(t)); diff != "" {
		t.Errorf("a repeated create_account changed the teammates (-before +after):\n%s", diff)
	}

	// Create for an inactive teammate's userName reactivates it.
	reactivate := s.runTask(t, c1sim.TaskRequest{Type: "create_account", Email: dormant.UserName}, 2*time.Minute)
	requireStatus(t, reactivate, c1sim.StatusSucceeded)
	if diff := cmp.Diff(c1sim.CreateResult{Outcome: c1sim.CreateAlreadyExists, ResourceID: dormant.ID}, createResult(t, reactivate)); diff != "" {
		t.Errorf("create_account of an inactive teammate: result (-want +got):\n%s", diff)
	}
	afterReactivate := s.teammates(t)
	if diff := cmp.Diff(withActive(afterCreate, dormant.ID, true), afterReactivate, ignoreMeta); diff != "" {
		t.Errorf("create_account of inactive %s: want it active and nothing else changed (-want +got):\n%s", dormant.ID, diff)
	}

	// Delete deactivates; a repeated delete succeeds and changes nothing.
	del := c1sim.TaskRequest{Type: "delete_resource", ResourceType: "user", ResourceID: victim.ID}
	deleted := s.runTask(t, del, 2*time.Minute)
	requireStatus(t, deleted, c1sim.StatusSucceeded)
	afterDelete := s.teammates(t)
	if diff := cmp.Diff(withActive(afterReactivate, victim.ID, false), afterDelete, ignoreMeta); diff != "" {
		t.Errorf("delete_resource %s: want it inactive, still there, and nothing else changed (-want +got):\n%s", victim.ID, diff)
	}
	redeleted := s.runTask(t, del, 2*time.Minute)
	requireStatus(t, redeleted, c1sim.StatusSucceeded)
	if diff := cmp.Diff(afterDelete, s.teammates(t)); diff != "" {
		t.Errorf("a repeated delete_resource changed the teammates (-before +after):\n%s", diff)
	}

	// The next sync shows the new, reactivated and deactivated teammates.
	last := s.runTask(t, c1sim.TaskRequest{Type: "full_sync"}, 3*time.Minute)
	requireStatus(t, last, c1sim.StatusSucceeded)
	got := s.checkTeammateSyncMatches(t, last.ID)
	status := map[string]string{}
	for _, a := range got {
		status[a.ID] = a.Status
	}
	wantStatus := map[string]string{added[0].ID: statusEnabled, dormant.ID: statusEnabled, victim.ID: statusDisabled}
	gotStatus := map[string]string{}
	for id := range wantStatus {
		gotStatus[id] = status[id]
	}
	if diff := cmp.Diff(wantStatus, gotStatus); diff != "" {
		t.Errorf("statuses in the last sync (-want +got):\n%s", diff)
	}

	// Everything went through SCIM: no v2 request, one creation, and one
	// PATCH each for the reactivation and the deactivation (the repeats
	// wrote nothing).
	reqs, err := s.fullstory.Requests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writes := map[string]int{}
	var listPages int
	for _, r := range reqs {
		if !strings.HasPrefix(r.Path, fullstorysim.SCIMPath+"/") {
			t.Errorf("SCIM mode sent a non-SCIM request: %s %s (%d)", r.Method, r.Path, r.Status)
			continue
		}
		switch q, _ := r.Query.(string); {
		case r.Method != http.MethodGet:
			writes[r.Method+" "+r.Path+" "+http.StatusText(r.Status)]++
		case r.Path == fullstorysim.SCIMPath+"/Users" && r.Status == http.StatusOK &&
			strings.Contains(q, "startIndex=") && !strings.Contains(q, "filter="):
			listPages++
		}
	}
	// Two syncs of 44 and 45 teammates at 10 a page: at least 5 pages each.
	if listPages < 10 {
		t.Errorf("got %d SCIM list pages, want at least 10 (two syncs, 10 teammates a page)", listPages)
	}
	wantWrites := map[string]int{
		"POST /scim/v2/Users Created":                1,
		"PATCH /scim/v2/Users/" + dormant.ID + " OK": 1,
		"PATCH /scim/v2/Users/" + victim.ID + " OK":  1,
	}
	if diff := cmp.Diff(wantWrites, writes); diff != "" {
		t.Errorf("SCIM writes by method, path and status (-want +got):\n%s", diff)
	}
}

const (
	statusEnabled  = "RESOURCE_STATUS_ENABLED"
	statusDisabled = "RESOURCE_STATUS_DISABLED"
)

// ignoreMeta leaves out the server-kept meta (lastModified moves on writes).
var ignoreMeta = cmpopts.IgnoreFields(fullstorysim.Teammate{}, "Meta")

func (s *stack) teammates(t *testing.T) []fullstorysim.Teammate {
	t.Helper()
	ts, err := s.fullstory.Teammates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// newTeammates are the teammates of after whose id before lacks.
func newTeammates(before, after []fullstorysim.Teammate) []fullstorysim.Teammate {
	old := map[string]bool{}
	for _, tm := range before {
		old[tm.ID] = true
	}
	var out []fullstorysim.Teammate
	for _, tm := range after {
		if !old[tm.ID] {
			out = append(out, tm)
		}
	}
	return out
}

// without is ts less teammate id.
func without(ts []fullstorysim.Teammate, id string) []fullstorysim.Teammate {
	var out []fullstorysim.Teammate
	for _, tm := range ts {
		if tm.ID != id {
			out = append(out, tm)
		}
	}
	return out
}

// withActive is a copy of ts with teammate id's active flag set.
func withActive(ts []fullstorysim.Teammate, id string, active bool) []fullstorysim.Teammate {
	out := make([]fullstorysim.Teammate, len(ts))
	copy(out, ts)
	for i := range out {
		if out[i].ID == id {
			out[i].Active = active
		}
	}
	return out
}

func createResult(t *testing.T, task c1sim.Task) c1sim.CreateResult {
	t.Helper()
	r, err := task.CreateAccountResult()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// teammateAccount is what C1 learns about a teammate.
type teammateAccount struct {
	ID          string
	DisplayName string
	Login       string
	Email       string
	Status      string
}

// wantTeammateAccounts maps teammates as the connector documents: display
// name from displayName, else given and family name, else userName; the
// primary email, else the first, else the userName; login = userName;
// status from active. Sorted by ID.
func wantTeammateAccounts(ts []fullstorysim.Teammate) []teammateAccount {
	out := make([]teammateAccount, 0, len(ts))
	for _, tm := range ts {
		name := tm.DisplayName
		if name == "" && tm.Name != nil {
			name = strings.TrimSpace(tm.Name.GivenName + " " + tm.Name.FamilyName)
		}
		if name == "" {
			name = tm.UserName
		}
		email := tm.UserName
		if len(tm.Emails) > 0 {
			email = tm.Emails[0].Value
		}
		for _, e := range tm.Emails {
			if e.Primary {
				email = e.Value
				break
			}
		}
		status := statusEnabled
		if !tm.Active {
			status = statusDisabled
		}
		out = append(out, teammateAccount{ID: tm.ID, DisplayName: name, Login: tm.UserName, Email: email, Status: status})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// checkTeammateSyncMatches compares the c1z uploaded for task id with the
// simulator's teammates, whole, checks no user was uploaded twice, and
// returns what was uploaded.
func (s *stack) checkTeammateSyncMatches(t *testing.T, id string) []teammateAccount {
	t.Helper()
	sum, err := s.c1.Summary(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := wantTeammateAccounts(s.teammates(t))
	var disabled int
	for _, a := range want {
		if a.Status == statusDisabled {
			disabled++
		}
	}
	if len(want) == 0 || disabled == 0 {
		t.Fatalf("the simulator has %d teammates, %d inactive: the comparison would not cover status", len(want), disabled)
	}
	var got []teammateAccount
	for _, u := range sum.Users {
		a := teammateAccount{ID: u.ID, DisplayName: u.DisplayName, Login: u.Login, Status: u.Status}
		for _, e := range u.Emails {
			if e.Primary {
				a.Email = e.Address
			}
		}
		got = append(got, a)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("uploaded users differ from the Fullstory simulator's teammates (-want +got):\n%s", diff)
	}
	checkSummaryUsers(t, sum)
	return got
}
