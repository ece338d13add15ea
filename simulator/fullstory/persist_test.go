package fullstory

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func withSaveDelay(d time.Duration) Option {
	return func(c *config) error { c.saveDelay = d; return nil }
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	clock := newFakeClock()

	s1, err := New(WithStateFile(path), WithUsers(10), WithAnonymousUsers(2), WithClock(clock.Now), WithDeleteDelay(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("state file not written at start: %v", err)
	}
	e1 := newEnvFrom(t, s1)
	e1.clock = clock
	id := e1.create(`{"uid":"persisted","properties":{"big":12345678901234567890,"nested":{"a":[1,2]}},"schema":{"properties":{"big":"int"}}}`)
	victim := s1.Users()[0].ID
	e1.must(200, req{method: "DELETE", path: "/v2/users/" + victim, key: "any"})
	before := s1.Users()
	var rawBefore []byte
	rawBefore = e1.must(200, req{method: "GET", path: "/v2/users/" + id, key: "any"}).Body
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	// Reloaded: the state file wins over generation options.
	s2, err := New(WithStateFile(path), WithUsers(999), WithClock(clock.Now), WithDeleteDelay(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	e2 := newEnvFrom(t, s2)
	if diff := cmp.Diff(before, s2.Users()); diff != "" {
		t.Errorf("reloaded users (-before +after):\n%s", diff)
	}
	if rawAfter := e2.must(200, req{method: "GET", path: "/v2/users/" + id, key: "any"}).Body; string(rawAfter) != string(rawBefore) {
		t.Errorf("user JSON changed across reload:\n%s\n%s", rawBefore, rawAfter)
	}
	// The id sequence continues instead of reusing ids.
	if next := e2.create(`{"uid":"after"}`); next <= id {
		t.Errorf("id after reload %s not greater than %s", next, id)
	}
	// The pending deletion survived and completes on time.
	clock.Advance(time.Minute)
	e2.must(404, req{method: "GET", path: "/v2/users/" + victim, key: "any"})

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		if ent.Name() != "state.json" {
			t.Errorf("stray file %s in state dir", ent.Name())
		}
	}
}

func TestStateFileSavedAfterChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	sim, err := New(WithStateFile(path), withSaveDelay(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvFrom(t, sim)
	e.create(`{"uid":"saved-soon"}`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), "saved-soon") {
			var sf stateFile
			if err := json.Unmarshal(b, &sf); err != nil {
				t.Fatalf("state file is not JSON: %v", err)
			}
			if len(sf.Users) != 1 || sf.Users[0].UID != "saved-soon" {
				t.Errorf("state users %+v", sf.Users)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("state file not updated within 5s of a change")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content, want string }{
		{"not json", "{", "state file"},
		{"wrong version", `{"version":9,"users":[]}`, "version 9"},
		{"duplicate id", `{"version":1,"users":[{"id":"a"},{"id":"a"}]}`, "duplicate id"},
		{"duplicate uid", `{"version":1,"users":[{"id":"a","uid":"u"},{"id":"b","uid":"u"}]}`, "uid"},
		{"bad properties", `{"version":1,"users":[{"id":"a","properties":[1]}]}`, "properties"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(WithStateFile(path))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := New(WithStateFile(filepath.Join(dir, "missing-dir", "state.json"))); err == nil {
		t.Error("New with a state file in a missing directory succeeded")
	}
}

func TestFixture(t *testing.T) {
	dir := t.TempDir()
	users := []User{
		{ID: "fx-2", UID: "two", Email: "two@example.com", Properties: map[string]any{"plan": "free"}},
		{UID: "one", DisplayName: "One"},
		{Properties: map[string]any{"visits": 3.0}},
	}
	b, _ := json.Marshal(users)
	arr := filepath.Join(dir, "array.json")
	wrapped := filepath.Join(dir, "wrapped.json")
	if err := os.WriteFile(arr, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrapped, []byte(`{"records":`+string(b)+`}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var first []User
	for _, p := range []string{arr, wrapped} {
		sim, err := New(WithFixtureFile(p), WithUsers(2))
		if err != nil {
			t.Fatalf("New(%s): %v", p, err)
		}
		got := sim.Users()
		if len(got) != 5 {
			t.Fatalf("%s: %d users, want 3 from the fixture + 2 generated", p, len(got))
		}
		if first == nil {
			first = got
		} else if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("array and wrapped fixtures differ (-array +wrapped):\n%s", diff)
		}
	}
	byUID := map[string]User{}
	for _, u := range first {
		byUID[u.UID] = u
	}
	if diff := cmp.Diff(User{ID: "fx-2", UID: "two", Email: "two@example.com", Properties: map[string]any{"plan": "free"}, AppURL: AppURLPrefix + "fx-2"}, byUID["two"]); diff != "" {
		t.Errorf("fixture user with id (-want +got):\n%s", diff)
	}
	if one := byUID["one"]; one.ID == "" || one.DisplayName != "One" {
		t.Errorf("fixture user without id: %+v", one)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"properties":{"bad-name":1}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(WithFixtureFile(bad)); err == nil || !strings.Contains(err.Error(), "bad-name") {
		t.Errorf("bad fixture: %v, want an error naming the property", err)
	}
	if _, err := New(WithFixtureFile(filepath.Join(dir, "none.json"))); err == nil {
		t.Error("missing fixture file accepted")
	}
}
