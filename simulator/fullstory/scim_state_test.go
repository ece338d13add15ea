package fullstory

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestSCIMScriptedSequence drives a provisioning story over HTTP and
// compares the whole teammate dump afterwards.
func TestSCIMScriptedSequence(t *testing.T) {
	e := newSCIMEnv(t)
	t0 := e.clock.Now()
	user := func(userName, extra string) string {
		return `{"schemas":["` + SCIMUserSchema + `"],"userName":"` + userName + `"` + extra + `}`
	}
	patch := func(ops string) string {
		return `{"schemas":["` + SCIMPatchOpSchema + `"],"Operations":` + ops + `}`
	}
	alan := e.scimCreate(user("alan@example.com", `,"name":{"givenName":"Alan","familyName":"Turing"},"emails":[{"value":"alan@example.com","type":"work","primary":true}]`))
	e.clock.Advance(time.Second)
	t1 := e.clock.Now()
	grace := e.scimCreate(user("grace@example.com", `,"displayName":"Grace Hopper","externalId":"okta-g"`))
	e.clock.Advance(time.Second)
	edsger := e.scimCreate(user("edsger@example.com", `,"active":false`))

	// A retried create is a conflict; the client looks the teammate up.
	checkSCIMError(t, e.scim(scimReq{method: "POST", path: "/scim/v2/Users", body: user("ALAN@example.com", "")}), 409, "uniqueness", "")
	found := e.scimList(`?filter=userName%20eq%20%22ALAN%40example.com%22`)
	if len(found.Resources) != 1 || found.Resources[0].ID != alan.ID {
		t.Fatalf("lookup after 409: %+v", found)
	}

	e.clock.Advance(time.Minute)
	t3 := e.clock.Now()
	e.scimMust(200, scimReq{method: "PATCH", path: "/scim/v2/Users/" + alan.ID, body: patch(`[{"op":"replace","path":"active","value":false}]`)})
	// Deactivating twice is fine and changes nothing more.
	e.clock.Advance(time.Minute)
	e.scimMust(200, scimReq{method: "PATCH", path: "/scim/v2/Users/" + alan.ID, body: patch(`[{"op":"replace","value":{"active":false}}]`)})
	t4 := e.clock.Now()
	e.scimMust(200, scimReq{method: "PATCH", path: "/scim/v2/Users/" + edsger.ID, body: patch(`[{"op":"replace","path":"active","value":true},{"op":"add","path":"emails","value":[{"value":"ewd@example.com","primary":true}]}]`)})
	e.scimMust(200, scimReq{method: "PUT", path: "/scim/v2/Users/" + grace.ID, body: user("grace@example.com", `,"name":{"givenName":"Grace","familyName":"Hopper"},"active":true`)})
	e.scimMust(204, scimReq{method: "DELETE", path: "/scim/v2/Users/" + edsger.ID})
	e.clock.Advance(time.Second)
	t5 := e.clock.Now()
	ada := e.scimCreate(user("ada@example.com", ""))

	want := []Teammate{
		stored(Teammate{ID: alan.ID, UserName: "alan@example.com", Name: &TeammateName{GivenName: "Alan", FamilyName: "Turing"},
			Emails: []TeammateEmail{{Value: "alan@example.com", Type: "work", Primary: true}}, Active: false,
			Meta: TeammateMeta{Created: t0, LastModified: t3}}, t0),
		stored(Teammate{ID: grace.ID, UserName: "grace@example.com", Name: &TeammateName{GivenName: "Grace", FamilyName: "Hopper"}, Active: true,
			Meta: TeammateMeta{Created: t1, LastModified: t4}}, t1),
		stored(Teammate{ID: ada.ID, UserName: "ada@example.com", Active: true}, t5),
	}
	if diff := cmp.Diff(want, e.sim.Teammates()); diff != "" {
		t.Errorf("teammates after the script (-want +got):\n%s", diff)
	}
	var dump []Teammate
	e.must(200, req{method: "GET", path: "/_simulator/teammates"}).json(t, &dump)
	if diff := cmp.Diff(want, dump); diff != "" {
		t.Errorf("GET /_simulator/teammates (-want +got):\n%s", diff)
	}
	// The admin route is not in the request log; the SCIM calls are.
	var paths []string
	for _, l := range e.sim.Requests() {
		paths = append(paths, l.Method+" "+l.Path+" "+fmt.Sprint(l.Status))
	}
	wantPaths := []string{
		"POST /scim/v2/Users 201", "POST /scim/v2/Users 201", "POST /scim/v2/Users 201", "POST /scim/v2/Users 409",
		"GET /scim/v2/Users 200",
		"PATCH /scim/v2/Users/" + alan.ID + " 200", "PATCH /scim/v2/Users/" + alan.ID + " 200", "PATCH /scim/v2/Users/" + edsger.ID + " 200",
		"PUT /scim/v2/Users/" + grace.ID + " 200", "DELETE /scim/v2/Users/" + edsger.ID + " 204", "POST /scim/v2/Users 201",
	}
	if diff := cmp.Diff(wantPaths, paths); diff != "" {
		t.Errorf("request log (-want +got):\n%s", diff)
	}
}

func TestGeneratedTeammates(t *testing.T) {
	a, err := New(WithTeammates(16), WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(WithTeammates(16), WithSeed(7), WithUsers(5))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(WithTeammates(16), WithSeed(8))
	if err != nil {
		t.Fatal(err)
	}
	ts := a.Teammates()
	if diff := cmp.Diff(ts, b.Teammates()); diff != "" {
		t.Errorf("same seed, different teammates (-a +b):\n%s", diff)
	}
	if cmp.Equal(ts, c.Teammates()) {
		t.Error("seeds 7 and 8 generated the same teammates")
	}
	if len(ts) != 16 {
		t.Fatalf("%d teammates, want 16", len(ts))
	}
	for i, tm := range ts {
		if i > 0 && ts[i-1].ID >= tm.ID {
			t.Errorf("ids not increasing: %s then %s", ts[i-1].ID, tm.ID)
		}
		if i > 0 && !ts[i-1].Meta.Created.Before(tm.Meta.Created) {
			t.Errorf("teammate %d created %v, not after %v", i, tm.Meta.Created, ts[i-1].Meta.Created)
		}
		if tm.Meta.LastModified.Before(tm.Meta.Created) || tm.Meta.Created.After(time.Now()) {
			t.Errorf("teammate %d: created %v, last modified %v", i, tm.Meta.Created, tm.Meta.LastModified)
		}
		if !strings.Contains(tm.UserName, "@") {
			t.Errorf("teammate %d userName %q is not an address", i, tm.UserName)
		}
		if got, want := tm.ExternalID != "", i%3 == 0; got != want {
			t.Errorf("teammate %d externalId %q, want one: %v", i, tm.ExternalID, want)
		}
		if tm.Name != nil && (tm.Name.Formatted != tm.Name.GivenName+" "+tm.Name.FamilyName) {
			t.Errorf("teammate %d name %+v", i, tm.Name)
		}
		type shape struct {
			Active, HasName, HasDisplayName bool
			Emails                          int
			PrimaryAt                       int
			LowerUserName                   bool
		}
		got := shape{Active: tm.Active, HasName: tm.Name != nil, HasDisplayName: tm.DisplayName != "", Emails: len(tm.Emails),
			PrimaryAt: -1, LowerUserName: tm.UserName == strings.ToLower(tm.UserName)}
		for j, em := range tm.Emails {
			if em.Primary {
				got.PrimaryAt = j
			}
		}
		want := map[int]shape{
			0: {true, true, true, 1, 0, true},
			1: {true, true, true, 1, 0, true},
			2: {true, true, true, 3, 1, true},
			3: {false, true, true, 1, 0, true},
			4: {true, true, true, 0, -1, true},
			5: {true, true, false, 1, -1, true},
			6: {true, true, true, 1, 0, false},
			7: {true, false, false, 1, 0, true},
		}[i%8]
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("teammate %d shape (-want +got):\n%s", i, diff)
		}
		if len(tm.Emails) > 0 && i%8 != 2 && !strings.EqualFold(tm.Emails[0].Value, tm.UserName) {
			t.Errorf("teammate %d email %q differs from userName %q", i, tm.Emails[0].Value, tm.UserName)
		}
	}

	// Times stay in the past however many teammates are generated.
	limit := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, i := range []int{0, 7999, 8000, MaxGeneratedTeammates - 1} {
		if tm := generateTeammate(7, i); !tm.Meta.LastModified.Before(limit) || tm.Meta.LastModified.Before(tm.Meta.Created) {
			t.Errorf("teammate %d: created %v, last modified %v", i, tm.Meta.Created, tm.Meta.LastModified)
		}
	}

	// Seeding again through the admin API is idempotent; more teammates
	// append; Reset restarts the ids.
	e := newEnvFrom(t, a)
	r := e.must(200, req{method: "POST", path: "/_simulator/seed", body: `{"teammates":16,"seed":7}`})
	if got := compactJSON(t, r.Body); got != `{"total":0,"teammates":16}` {
		t.Errorf("seed answered %s", got)
	}
	if diff := cmp.Diff(ts, a.Teammates()); diff != "" {
		t.Errorf("re-seeding changed teammates (-before +after):\n%s", diff)
	}
	e.must(200, req{method: "POST", path: "/_simulator/seed", body: `{"teammates":20,"seed":7}`})
	if got := a.Teammates(); len(got) != 20 || !cmp.Equal(ts, got[:16]) {
		t.Errorf("seeding 20 after 16: %d teammates, first 16 unchanged: %v", len(got), cmp.Equal(ts, got[:16]))
	}
	e.must(200, req{method: "POST", path: "/_simulator/reset"})
	if n := len(a.Teammates()); n != 0 {
		t.Errorf("%d teammates after reset", n)
	}
	if _, err := a.SeedTeammates(7, 16); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ts, a.Teammates()); diff != "" {
		t.Errorf("seeding after reset (-first +again):\n%s", diff)
	}

	r = e.must(200, req{method: "POST", path: "/_simulator/seed", body: `{"teammate_records":[{"id":"fixed","userName":"fixed@example.com","active":true}]}`})
	if got := compactJSON(t, r.Body); got != `{"total":0,"teammates":17}` {
		t.Errorf("records seed answered %s", got)
	}
	r = e.must(409, req{method: "POST", path: "/_simulator/seed", body: `{"teammate_records":[{"id":"other","userName":"FIXED@example.com"}]}`})
	if code := r.apiError(t).Code; code != CodeConflict {
		t.Errorf("duplicate record code %q", code)
	}
	for _, body := range []string{`{"teammate_records":[{"userName":""}]}`, `{"teammates":-1}`, `{"teammate_records":[{"id":"a/b","userName":"x@example.com"}]}`} {
		if code := e.must(400, req{method: "POST", path: "/_simulator/seed", body: body}).apiError(t).Code; code != CodeInvalidArgument {
			t.Errorf("seed %s: code %q", body, code)
		}
	}
	if _, err := New(WithTeammates(-1)); err == nil {
		t.Error("WithTeammates(-1) accepted")
	}
}

func TestPutTeammate(t *testing.T) {
	clock := newFakeClock()
	sim, err := New(WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t0 := clock.Now()
	a := mustPut(t, sim, Teammate{UserName: "a@example.com", Active: true, Schemas: []string{"ignored"},
		Meta: TeammateMeta{ResourceType: "ignored", Location: "ignored"}, Name: &TeammateName{}, Emails: []TeammateEmail{}})
	want := stored(Teammate{ID: a.ID, UserName: "a@example.com", Active: true}, t0)
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("new teammate (-want +got):\n%s", diff)
	}
	// Without an id, the same userName (any case) replaces; created stays.
	clock.Advance(time.Hour)
	a2 := mustPut(t, sim, Teammate{UserName: "A@example.com", DisplayName: "A"})
	want = stored(Teammate{ID: a.ID, UserName: "A@example.com", DisplayName: "A", Meta: TeammateMeta{Created: t0}}, clock.Now())
	if diff := cmp.Diff(want, a2); diff != "" {
		t.Errorf("replaced teammate (-want +got):\n%s", diff)
	}
	// Explicit id and times are kept.
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	fixed := mustPut(t, sim, Teammate{ID: "fixed-id", UserName: "f@example.com", Meta: TeammateMeta{Created: created, LastModified: created.Add(time.Hour)}})
	if diff := cmp.Diff(stored(Teammate{ID: "fixed-id", UserName: "f@example.com", Meta: TeammateMeta{Created: created, LastModified: created.Add(time.Hour)}}, time.Time{}), fixed); diff != "" {
		t.Errorf("fixed teammate (-want +got):\n%s", diff)
	}
	// Server-assigned times are cut to milliseconds, over the API too.
	clock.Advance(1234567891 * time.Nanosecond)
	ms := clock.Now().Truncate(time.Millisecond)
	if got := mustPut(t, sim, Teammate{UserName: "ms@example.com"}); !got.Meta.Created.Equal(ms) || !got.Meta.LastModified.Equal(ms) {
		t.Errorf("times %v %v, want %v", got.Meta.Created, got.Meta.LastModified, ms)
	}
	if got := mustPut(t, sim, Teammate{UserName: "ms@example.com", DisplayName: "again"}); !got.Meta.LastModified.Equal(ms) {
		t.Errorf("replaced: last modified %v, want %v", got.Meta.LastModified, ms)
	}
	msAPI := newEnvFrom(t, sim).scimCreate(`{"schemas":["` + SCIMUserSchema + `"],"userName":"ms-api@example.com"}`)
	if !msAPI.Meta.Created.Equal(ms) {
		t.Errorf("created over the API %v, want %v", msAPI.Meta.Created, ms)
	}
	for _, tm := range sim.Teammates() { // back to the two teammates the rest expects
		if strings.HasPrefix(tm.UserName, "ms") {
			if err := sim.tm.remove(tm.ID); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Results are copies: changing them does not change the store.
	mutate := func(tm *Teammate) {
		tm.Schemas[0] = "changed"
		tm.Name.GivenName = "changed"
		tm.Emails[0].Value = "changed"
	}
	withName := mustPut(t, sim, Teammate{UserName: "n@example.com", Name: &TeammateName{GivenName: "N"}, Emails: []TeammateEmail{{Value: "n@example.com"}}})
	snap := sim.Teammates()
	mutate(&withName)
	got := sim.Teammates()
	for i := range got {
		if got[i].ID == withName.ID {
			mutate(&got[i])
		}
	}
	if diff := cmp.Diff(snap, sim.Teammates()); diff != "" {
		t.Errorf("mutating returned teammates changed the store (-before +after):\n%s", diff)
	}
	if err := sim.tm.remove(withName.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tm   Teammate
		want string
	}{
		{"taken userName", Teammate{ID: "other", UserName: "F@example.com"}, "already taken"},
		{"no userName", Teammate{ID: "x"}, "userName is required"},
		{"bad id", Teammate{ID: "a/b", UserName: "z@example.com"}, "invalid teammate id"},
		{"two primaries", Teammate{UserName: "p@example.com", Emails: []TeammateEmail{{Value: "a", Primary: true}, {Value: "b", Primary: true}}}, "primary"},
		{"invalid UTF-8", Teammate{UserName: "bad\xffutf8@example.com"}, "UTF-8"},
	} {
		if _, err := sim.PutTeammate(tc.tm); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if n := len(sim.Teammates()); n != 2 {
		t.Errorf("%d teammates after the failures, want 2", n)
	}
	if err := sim.tm.checkInvariants(); err != nil {
		t.Error(err)
	}
}

func TestSCIMStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	clock := newFakeClock()
	s1, err := New(WithStateFile(path), WithUsers(2), WithTeammates(5), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	e1 := newEnvFrom(t, s1)
	created := e1.scimCreate(`{"schemas":["` + SCIMUserSchema + `"],"userName":"new@example.com","emails":[{"value":"new@example.com","primary":true}]}`)
	e1.scim(scimReq{method: "DELETE", path: "/scim/v2/Users/" + s1.Teammates()[0].ID})
	beforeT, beforeU := s1.Teammates(), s1.Users()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	// Reloaded: the state file wins over WithTeammates; ids continue.
	s2, err := New(WithStateFile(path), WithTeammates(50), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(beforeT, s2.Teammates()); diff != "" {
		t.Errorf("reloaded teammates (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(beforeU, s2.Users()); diff != "" {
		t.Errorf("reloaded users (-before +after):\n%s", diff)
	}
	e2 := newEnvFrom(t, s2)
	if next := e2.scimCreate(`{"schemas":["` + SCIMUserSchema + `"],"userName":"after@example.com"}`); next.ID <= created.ID {
		t.Errorf("id after reload %s not after %s", next.ID, created.ID)
	}

	// A state file from before teammates existed loads, and gets the
	// generated teammates; one with an empty list stays empty.
	old := filepath.Join(dir, "old.json")
	if err := os.WriteFile(old, []byte(`{"version":1,"seq":3,"users":[{"id":"u1","uid":"one"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s3, err := New(WithStateFile(old), WithTeammates(4), WithClock(clock.Now))
	if err != nil {
		t.Fatalf("old state file: %v", err)
	}
	gen, err := New(WithTeammates(4))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(gen.Teammates(), s3.Teammates()); diff != "" {
		t.Errorf("teammates for an old state file (-generated +got):\n%s", diff)
	}
	if got := userIDs(s3.Users()); !cmp.Equal(got, []string{"u1"}) {
		t.Errorf("users from the old state file: %v", got)
	}
	var sf stateFile
	b, _ := os.ReadFile(old)
	if err := json.Unmarshal(b, &sf); err != nil || sf.Teammates == nil || len(*sf.Teammates) != 4 {
		t.Errorf("old state file not rewritten with teammates: %v %s", err, b)
	}
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, []byte(`{"version":1,"users":[],"teammates":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s4, err := New(WithStateFile(empty), WithTeammates(4))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s4.Teammates()); n != 0 {
		t.Errorf("state file with no teammates loaded %d", n)
	}

	for _, tc := range []struct{ name, content, want string }{
		{"duplicate userName", `{"version":1,"users":[],"teammates":[{"id":"a","userName":"x@example.com"},{"id":"b","userName":"X@example.com"}]}`, "userName"},
		{"duplicate id", `{"version":1,"users":[],"teammates":[{"id":"a","userName":"x@example.com"},{"id":"a","userName":"y@example.com"}]}`, "duplicate teammate id"},
		{"no id", `{"version":1,"users":[],"teammates":[{"userName":"x@example.com"}]}`, "invalid id"},
		{"no userName", `{"version":1,"users":[],"teammates":[{"id":"a"}]}`, "userName is required"},
		{"not a list", `{"version":1,"users":[],"teammates":{}}`, "state file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".json")
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := New(WithStateFile(p)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

// TestSCIMConcurrentClients creates, patches and lists at once (run under
// -race): each userName is created exactly once and the store stays
// consistent.
func TestSCIMConcurrentClients(t *testing.T) {
	const workers, names = 8, 20
	e := newSCIMEnv(t, WithTeammates(30), WithSCIMMaxPageSize(7))
	var (
		mu      sync.Mutex
		created = map[string]int{}
	)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range names {
				body := fmt.Sprintf(`{"schemas":["%s"],"userName":"race-%d@example.com"}`, SCIMUserSchema, i)
				status, _, err := rawSCIM(e, "POST", "/scim/v2/Users", body)
				if err != nil {
					errs <- err
					return
				}
				switch status {
				case 201:
					mu.Lock()
					created[fmt.Sprint(i)]++
					mu.Unlock()
				case 409:
				default:
					errs <- fmt.Errorf("worker %d create %d: status %d", w, i, status)
					return
				}
				id := e.sim.Teammates()[(w*names+i)%30].ID
				ops := fmt.Sprintf(`{"schemas":["%s"],"Operations":[{"op":"replace","path":"active","value":%v}]}`, SCIMPatchOpSchema, i%2 == 0)
				if status, b, err := rawSCIM(e, "PATCH", "/scim/v2/Users/"+id, ops); err != nil || status != 200 {
					errs <- fmt.Errorf("patch: %d %s %v", status, b, err)
					return
				}
				if status, b, err := rawSCIM(e, "GET", fmt.Sprintf("/scim/v2/Users?startIndex=%d&count=100", i+1), ""); err != nil || status != 200 {
					errs <- fmt.Errorf("list: %d %s %v", status, b, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := map[string]int{}
	for i := range names {
		want[fmt.Sprint(i)] = 1
	}
	if diff := cmp.Diff(want, created, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("successful creates per userName (-want +got):\n%s", diff)
	}
	if n := len(e.sim.Teammates()); n != 30+names {
		t.Errorf("%d teammates, want %d", n, 30+names)
	}
	if err := e.sim.tm.checkInvariants(); err != nil {
		t.Error(err)
	}
}

// rawSCIM is a request that may run on any goroutine (no *testing.T).
func rawSCIM(e *env, method, path, body string) (int, string, error) {
	hr, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	hr.Header.Set("Authorization", "Bearer "+scimToken)
	if body != "" {
		hr.Header.Set("Content-Type", SCIMContentType)
	}
	resp, err := e.srv.Client().Do(hr)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
