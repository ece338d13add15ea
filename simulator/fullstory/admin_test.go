package fullstory

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAdminToken(t *testing.T) {
	e := newEnv(t, WithAdminToken("s3cret"))
	for _, tc := range []struct {
		name, method, path, auth string
		wantStatus               int
	}{
		{"healthz needs nothing", "GET", "/_simulator/healthz", "", 200},
		{"no token", "GET", "/_simulator/users", "", 401},
		{"wrong token", "GET", "/_simulator/users", "Bearer nope", 401},
		{"basic scheme", "GET", "/_simulator/users", "Basic s3cret", 401},
		{"api key is not admin token", "POST", "/_simulator/reset", "Basic " + adminKey, 401},
		{"token", "GET", "/_simulator/users", "Bearer s3cret", 200},
		{"token on faults", "GET", "/_simulator/faults", "Bearer s3cret", 200},
		{"token on requests", "DELETE", "/_simulator/requests", "Bearer s3cret", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			h := map[string]string{}
			if tc.auth != "" {
				h["Authorization"] = tc.auth
			}
			r := e.must(tc.wantStatus, req{method: tc.method, path: tc.path, headers: h})
			if tc.wantStatus == 401 {
				if code := r.apiError(t).Code; code != CodeUnauthorized {
					t.Errorf("code %q, want %q", code, CodeUnauthorized)
				}
			}
		})
	}
}

func TestAdminSeedAndReset(t *testing.T) {
	e := newEnv(t)
	r := e.must(200, req{method: "POST", path: "/_simulator/seed", body: `{"users":5,"anonymous_users":3,"seed":9}`})
	if got := compactJSON(t, r.Body); got != `{"total":8}` {
		t.Errorf("seed answered %s, want {\"total\":8}", got)
	}
	first := e.sim.Users()
	// Seeding the same identified users again updates them; anonymous
	// users are added.
	r = e.must(200, req{method: "POST", path: "/_simulator/seed", body: `{"users":5,"seed":9}`})
	if got := compactJSON(t, r.Body); got != `{"total":8}` {
		t.Errorf("second seed answered %s, want {\"total\":8}", got)
	}
	if diff := cmp.Diff(first, e.sim.Users()); diff != "" {
		t.Errorf("re-seeding changed users (-before +after):\n%s", diff)
	}

	r = e.must(200, req{method: "POST", path: "/_simulator/seed", body: `{"records":[
		{"uid":"x","email":"x@example.com","properties":{"plan":"pro"}},
		{"id":"fixed-1","display_name":"Fixed","is_being_deleted":true}]}`})
	if got := compactJSON(t, r.Body); got != `{"total":10}` {
		t.Errorf("records seed answered %s, want {\"total\":10}", got)
	}
	var dump []User
	e.must(200, req{method: "GET", path: "/_simulator/users"}).json(t, &dump)
	if diff := cmp.Diff(e.sim.Users(), dump); diff != "" {
		t.Errorf("GET /_simulator/users differs from Users() (-Users +GET):\n%s", diff)
	}
	last := dump[len(dump)-1]
	if diff := cmp.Diff(User{ID: "fixed-1", DisplayName: "Fixed", IsBeingDeleted: true, AppURL: AppURLPrefix + "fixed-1"}, last); diff != "" {
		t.Errorf("fixed record (-want +got):\n%s", diff)
	}

	for _, body := range []string{`{"users":-1}`, `{"users":"5"}`, `{"bogus":1}`, `{"records":[{"properties":{"bad-name":1}}]}`, `{`} {
		r := e.must(400, req{method: "POST", path: "/_simulator/seed", body: body})
		if code := r.apiError(t).Code; code != CodeInvalidArgument {
			t.Errorf("seed %s: code %q, want %q", body, code, CodeInvalidArgument)
		}
	}
	r = e.must(409, req{method: "POST", path: "/_simulator/seed", body: `{"records":[{"id":"other","uid":"x"}]}`})
	if code := r.apiError(t).Code; code != CodeConflict {
		t.Errorf("duplicate uid seed: code %q, want %q", code, CodeConflict)
	}

	r = e.must(200, req{method: "POST", path: "/_simulator/reset"})
	if got := compactJSON(t, r.Body); got != `{}` {
		t.Errorf("reset answered %s, want {}", got)
	}
	if n := len(e.sim.Users()); n != 0 {
		t.Fatalf("%d users after reset", n)
	}
	// Ids restart after a reset, so seeding again reproduces the users.
	e.must(200, req{method: "POST", path: "/_simulator/seed", body: `{"users":5,"anonymous_users":3,"seed":9}`})
	if diff := cmp.Diff(first, e.sim.Users()); diff != "" {
		t.Errorf("seed after reset differs (-first +now):\n%s", diff)
	}
	// Without "seed" the server's seed is used.
	e.sim.Reset()
	e.must(200, req{method: "POST", path: "/_simulator/seed", body: `{"users":2}`})
	want, err := New(WithUsers(2))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Users(), e.sim.Users()); diff != "" {
		t.Errorf("seed without seed (-New(WithUsers(2)) +got):\n%s", diff)
	}
}

func TestRequestLog(t *testing.T) {
	e := newEnv(t)
	id := e.create(`{"uid":"a"}`)
	e.must(200, req{method: "GET", path: "/v2/users?is_identified=true&uid=a", key: adminKey})
	e.must(404, req{method: "GET", path: "/v2/users/nope", key: adminKey})
	e.must(401, req{method: "DELETE", path: "/v2/users/" + id})
	e.must(404, req{method: "GET", path: "/v2/elsewhere", key: adminKey})
	e.must(200, req{method: "GET", path: "/_simulator/users"}) // not logged

	want := []RequestLogEntry{
		{Method: "POST", Path: "/v2/users", Status: 200},
		{Method: "GET", Path: "/v2/users", Query: "is_identified=true&uid=a", Status: 200},
		{Method: "GET", Path: "/v2/users/nope", Status: 404},
		{Method: "DELETE", Path: "/v2/users/" + id, Status: 401},
		{Method: "GET", Path: "/v2/elsewhere", Status: 404},
	}
	var got []RequestLogEntry
	e.must(200, req{method: "GET", path: "/_simulator/requests"}).json(t, &got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /_simulator/requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, e.sim.Requests()); diff != "" {
		t.Errorf("Requests() (-want +got):\n%s", diff)
	}
	e.must(200, req{method: "DELETE", path: "/_simulator/requests"})
	var empty []RequestLogEntry
	e.must(200, req{method: "GET", path: "/_simulator/requests"}).json(t, &empty)
	if len(empty) != 0 {
		t.Errorf("log after DELETE: %+v", empty)
	}

	t.Run("bounded", func(t *testing.T) {
		e := newEnv(t, WithRequestLogLimit(3))
		for _, p := range []string{"/v2/a", "/v2/b", "/v2/c", "/v2/d", "/v2/e"} {
			e.must(404, req{method: "GET", path: p, key: adminKey})
		}
		var paths []string
		for _, l := range e.sim.Requests() {
			paths = append(paths, l.Path)
		}
		if diff := cmp.Diff([]string{"/v2/c", "/v2/d", "/v2/e"}, paths); diff != "" {
			t.Errorf("bounded log (-want +got):\n%s", diff)
		}
	})
}

// TestScriptedSequence drives the API through a sequence a connector might
// send and compares the whole store afterwards.
func TestScriptedSequence(t *testing.T) {
	e := newEnv(t, WithDeleteDelay(10*time.Second))
	alice := e.create(`{"uid":"alice","display_name":"Alice","email":"alice@example.com","properties":{"plan":"pro","seats":3}}`)
	anon := e.create(`{"properties":{"visits":1}}`)
	if again := e.create(`{"uid":"alice","properties":{"seats":5,"plan":null,"beta":true}}`); again != alice {
		t.Fatalf("upsert by uid gave %s, want %s", again, alice)
	}
	e.must(200, req{method: "POST", path: "/v2/users/" + anon, key: adminKey, body: `{"uid":"bob","email":"bob@example.com"}`})
	carol := e.create(`{"uid":"carol","display_name":"Carol"}`)
	e.must(200, req{method: "DELETE", path: "/v2/users?uid=carol", key: adminKey})
	e.must(200, req{method: "POST", path: "/v2/users/" + alice, key: standardKey, body: `{"display_name":"Alice A.","schema":{"properties":{"seats":"real"}}}`})
	e.must(400, req{method: "POST", path: "/v2/users/" + alice, key: adminKey, body: `{"uid":"alicia"}`})
	e.must(403, req{method: "DELETE", path: "/v2/users/" + anon, key: standardKey})

	if !(alice < anon && anon < carol) {
		t.Errorf("ids not increasing in creation order: %s %s %s", alice, anon, carol)
	}
	want := []User{
		{ID: alice, UID: "alice", DisplayName: "Alice A.", Email: "alice@example.com",
			Properties: map[string]any{"beta": true, "seats": 5.0},
			Schema:     &Schema{Properties: map[string]any{"seats": "real"}},
			AppURL:     AppURLPrefix + alice},
		{ID: anon, UID: "bob", Email: "bob@example.com", Properties: map[string]any{"visits": 1.0}, AppURL: AppURLPrefix + anon},
		{ID: carol, UID: "carol", DisplayName: "Carol", IsBeingDeleted: true, AppURL: AppURLPrefix + carol},
	}
	check := func(want []User) {
		t.Helper()
		var got []User
		e.must(200, req{method: "GET", path: "/_simulator/users"}).json(t, &got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET /_simulator/users (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, e.sim.Users()); diff != "" {
			t.Errorf("Users() (-want +got):\n%s", diff)
		}
	}
	check(want)
	e.clock.Advance(10 * time.Second)
	check(want[:2])
}
