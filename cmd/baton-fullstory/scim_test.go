package main

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const scimToken = "oneshot-scim-token-3c9e"

func startSCIMSim(t *testing.T, opts ...fssim.Option) (*fssim.Server, string) {
	t.Helper()
	sim, base := startSim(t, append([]fssim.Option{fssim.WithSCIMToken(scimToken)}, opts...)...)
	return sim, base + "/scim/v2"
}

// teammatesFromSimulator maps teammates the way the README documents.
func teammatesFromSimulator(ts []fssim.Teammate) []syncedUser {
	var out []syncedUser
	for _, tm := range ts {
		name := tm.DisplayName
		if name == "" && tm.Name != nil {
			name = strings.TrimSpace(tm.Name.GivenName + " " + tm.Name.FamilyName)
		}
		if name == "" {
			name = tm.UserName
		}
		email := ""
		for _, e := range tm.Emails {
			if e.Primary {
				email = e.Value
			}
		}
		if email == "" && len(tm.Emails) > 0 {
			email = tm.Emails[0].Value
		}
		if email == "" && strings.Contains(tm.UserName, "@") {
			email = tm.UserName
		}
		st := "RESOURCE_STATUS_ENABLED"
		if !tm.Active {
			st = "RESOURCE_STATUS_DISABLED"
		}
		out = append(out, syncedUser{ID: tm.ID, Name: name, Login: tm.UserName, Email: email, Status: st})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func TestSCIMSyncEqualsSimulatorTeammates(t *testing.T) {
	// Pages smaller than the connector asks for: it must follow what comes back.
	sim, scimURL := startSCIMSim(t, fssim.WithSeed(11), fssim.WithTeammates(137), fssim.WithSCIMMaxPageSize(30), fssim.WithUsers(20))
	out := filepath.Join(t.TempDir(), "sync.c1z")
	if logs, err := run(t, "--scim-base-url", scimURL, "--scim-token", scimToken, "-f", out); err != nil {
		t.Fatalf("sync: %v\n%s", err, logs)
	}
	want := teammatesFromSimulator(sim.Teammates())
	if len(want) != 137 {
		t.Fatalf("simulator has %d teammates, want 137", len(want))
	}
	var inactive int
	for _, u := range want {
		if u.Status == "RESOURCE_STATUS_DISABLED" {
			inactive++
		}
	}
	if inactive == 0 {
		t.Fatalf("the seeded teammates include no inactive one; the test would not cover status")
	}
	if diff := cmp.Diff(want, fromC1Z(t, out)); diff != "" {
		t.Errorf("synced teammates differ from the simulator (-want +got):\n%s", diff)
	}
	for _, r := range sim.Requests() {
		if strings.HasPrefix(r.Path, "/v2/") {
			t.Errorf("SCIM mode sent a v2 request: %s %s", r.Method, r.Path)
		}
	}
}

func TestSCIMProvisioning(t *testing.T) {
	sim, scimURL := startSCIMSim(t, fssim.WithSeed(5), fssim.WithTeammates(4))
	before := sim.Teammates()
	create := func() (string, error) {
		return run(t, "--scim-base-url", scimURL, "--scim-token", scimToken, "-f", filepath.Join(t.TempDir(), "x.c1z"),
			"--create-account-email", "new.teammate@example.com", "--create-account-login", "new.teammate@example.com",
			"--create-account-profile", `{"given_name":"New","family_name":"Teammate"}`)
	}
	if logs, err := create(); err != nil {
		t.Fatalf("create: %v\n%s", err, logs)
	}
	after := sim.Teammates()
	if len(after) != len(before)+1 {
		t.Fatalf("got %d teammates after create, want %d", len(after), len(before)+1)
	}
	var created fssim.Teammate
	for _, tm := range after {
		if tm.UserName == "new.teammate@example.com" {
			created = tm
		}
	}
	want := fssim.Teammate{ID: created.ID, UserName: "new.teammate@example.com", DisplayName: "New Teammate",
		Name: &fssim.TeammateName{GivenName: "New", FamilyName: "Teammate"}, Emails: []fssim.TeammateEmail{{Value: "new.teammate@example.com", Type: "work", Primary: true}}, Active: true}
	ignore := cmpopts.IgnoreFields(fssim.Teammate{}, "Schemas", "Meta")
	if diff := cmp.Diff(want, created, ignore, cmpopts.IgnoreFields(fssim.TeammateName{}, "Formatted")); diff != "" {
		t.Errorf("created teammate (-want +got):\n%s", diff)
	}

	// A retried create returns the teammate instead of duplicating it.
	if logs, err := create(); err != nil {
		t.Fatalf("retried create: %v\n%s", err, logs)
	}
	if diff := cmp.Diff(after, sim.Teammates()); diff != "" {
		t.Errorf("retried create changed the teammates (-want +got):\n%s", diff)
	}

	deactivate := func() {
		t.Helper()
		if logs, err := run(t, "--scim-base-url", scimURL, "--scim-token", scimToken, "-f", filepath.Join(t.TempDir(), "x.c1z"),
			"--delete-resource", created.ID, "--delete-resource-type", "user"); err != nil {
			t.Fatalf("deactivate: %v\n%s", err, logs)
		}
	}
	deactivate()
	final := sim.Teammates()
	for i := range after {
		if after[i].ID == created.ID {
			after[i].Active = false
		}
	}
	if diff := cmp.Diff(after, final, cmpopts.IgnoreFields(fssim.Teammate{}, "Meta")); diff != "" {
		t.Errorf("after deactivation (-want +got):\n%s", diff)
	}
	// Deactivating again succeeds and changes nothing.
	deactivate()
	if diff := cmp.Diff(final, sim.Teammates()); diff != "" {
		t.Errorf("repeated deactivation changed the teammates (-want +got):\n%s", diff)
	}

	// A deactivated teammate asked for again is reactivated, not duplicated.
	if logs, err := create(); err != nil {
		t.Fatalf("create of a deactivated teammate: %v\n%s", err, logs)
	}
	for i := range after {
		if after[i].ID == created.ID {
			after[i].Active = true
		}
	}
	if diff := cmp.Diff(after, sim.Teammates(), cmpopts.IgnoreFields(fssim.Teammate{}, "Meta")); diff != "" {
		t.Errorf("after reactivation (-want +got):\n%s", diff)
	}
}

func TestSourceConfigurationErrors(t *testing.T) {
	sim, scimURL := startSCIMSim(t, fssim.WithTeammates(1))
	for _, tt := range []struct {
		name     string
		args     []string
		wantPart string
	}{
		{"neither", nil, "configure exactly one source: --api-key (BATON_API_KEY) for Fullstory's v2 users, or --scim-base-url with --scim-token"},
		{"both", []string{"--api-key", simKey, "--scim-base-url", scimURL, "--scim-token", scimToken}, "both an API key and SCIM settings are given"},
		{"SCIM token alone", []string{"--scim-token", scimToken}, "SCIM needs both --scim-base-url and --scim-token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs, err := run(t, append(tt.args, "-f", filepath.Join(t.TempDir(), "x.c1z"))...)
			if err == nil || !strings.Contains(logs, tt.wantPart) {
				t.Fatalf("err %v, want output containing %q:\n%s", err, tt.wantPart, logs)
			}
			if strings.Contains(logs, scimToken) || strings.Contains(logs, simKey) {
				t.Errorf("output contains a secret:\n%s", logs)
			}
		})
	}
	logs, err := run(t, "--scim-base-url", scimURL, "--scim-token", "wrong-token-1234", "-f", filepath.Join(t.TempDir(), "x.c1z"))
	if !failedAfterStart(err, logs) || !strings.Contains(logs, "Fullstory rejected the SCIM token") || strings.Contains(logs, "wrong-token-1234") {
		t.Errorf("wrong token: err %v, output:\n%s", err, logs)
	}
	if n := len(sim.Requests()); n != 1 {
		t.Errorf("simulator saw %d requests, want only the wrong token's validation", n)
	}
}
