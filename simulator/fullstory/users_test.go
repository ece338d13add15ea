package fullstory

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestListPagination(t *testing.T) {
	e := newEnv(t, WithUsers(150), WithAnonymousUsers(100), WithSeed(3))
	all := userIDs(e.sim.Users())
	if len(all) != 250 {
		t.Fatalf("store has %d users, want 250", len(all))
	}

	first := e.must(200, req{method: "GET", path: "/v2/users", key: adminKey})
	if !strings.Contains(string(first.Body), `"total_records":"250"`) {
		t.Errorf("total_records is not the string \"250\" in %.200s", first.Body)
	}

	for _, tc := range []struct {
		name      string
		query     string
		wantIDs   []string
		wantPages int
	}{
		{"unfiltered", "", all, 3},
		{"identified", "is_identified=true", userIDs(filterUsers(e.sim.Users(), func(u User) bool { return u.UID != "" })), 2},
		{"anonymous", "is_identified=false", userIDs(filterUsers(e.sim.Users(), func(u User) bool { return u.UID == "" })), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			ids, pages := e.listAll(tc.query)
			if diff := cmp.Diff(tc.wantIDs, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if pages != tc.wantPages {
				t.Errorf("got %d pages, want %d", pages, tc.wantPages)
			}
		})
	}

	p1 := e.list("")
	if len(p1.Results) != 100 || p1.TotalRecords != "250" || p1.NextPageToken == "" {
		t.Fatalf("page 1: %d results, total %q, token %q; want 100, \"250\", a token", len(p1.Results), p1.TotalRecords, p1.NextPageToken)
	}
	p2 := e.list("?page_token=" + p1.NextPageToken)
	p3 := e.list("?page_token=" + p2.NextPageToken)
	if len(p3.Results) != 50 || p3.NextPageToken != "" || p3.TotalRecords != "250" {
		t.Errorf("last page: %d results, token %q, total %q; want 50, no token, \"250\"", len(p3.Results), p3.NextPageToken, p3.TotalRecords)
	}
	// The last page carries no next_page_token key at all.
	last := e.must(200, req{method: "GET", path: "/v2/users?page_token=" + p2.NextPageToken, key: adminKey})
	if strings.Contains(string(last.Body), "next_page_token") {
		t.Errorf("last page has next_page_token: %.100s", last.Body)
	}

	ident := e.list("?is_identified=true")
	for _, u := range ident.Results {
		if u.UID == "" || u.Email == "" || u.DisplayName == "" || len(u.Properties) == 0 || u.AppURL != AppURLPrefix+u.ID {
			t.Fatalf("identified user lacks uid, email, display name, properties or app_url: %+v", u)
		}
	}
	anon := e.list("?is_identified=false")
	for _, u := range anon.Results {
		if u.UID != "" || u.Email != "" || u.DisplayName != "" || u.AppURL != "" {
			t.Fatalf("anonymous user has uid, email, display name or app_url: %+v", u)
		}
	}
}

func filterUsers(us []User, keep func(User) bool) []User {
	var out []User
	for _, u := range us {
		if keep(u) {
			out = append(out, u)
		}
	}
	return out
}

func TestListFilters(t *testing.T) {
	e := newEnv(t, WithPageSize(2))
	put := func(u User) string {
		t.Helper()
		got, err := e.sim.PutUser(u)
		if err != nil {
			t.Fatalf("PutUser: %v", err)
		}
		return got.ID
	}
	alice := put(User{UID: "alice", Email: "Alice@Example.com", DisplayName: "Alice"})
	bob := put(User{UID: "bob", Email: "bob@example.com", DisplayName: "Bob"})
	anonAlice := put(User{DisplayName: "Alice"})
	carol := put(User{UID: "carol", Email: "alice@example.com", DisplayName: "Carol"})

	for _, tc := range []struct {
		query     string
		wantIDs   []string
		wantTotal string
	}{
		{"uid=alice", []string{alice}, "1"},
		{"uid=nobody", nil, "0"},
		{"email=alice%40example.com", []string{alice, carol}, "2"},
		{"display_name=Alice", []string{alice, anonAlice}, "2"},
		{"display_name=Alice&is_identified=false", []string{anonAlice}, "1"},
		{"is_identified=true", []string{alice, bob, carol}, "3"},
		{"is_identified=1", []string{alice, bob, carol}, "3"},
		{"uid=alice&is_identified=false", nil, "0"},
		{"email=bob%40example.com&display_name=Bob&uid=bob", []string{bob}, "1"},
		{"", []string{alice, bob, anonAlice, carol}, "4"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			e := e.with(t)
			ids, _ := e.listAll(tc.query)
			if diff := cmp.Diff(tc.wantIDs, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if got := e.list("?" + tc.query).TotalRecords; got != tc.wantTotal {
				t.Errorf("total_records %q, want %q", got, tc.wantTotal)
			}
		})
	}

	for _, tc := range []struct{ query, wantCode string }{
		{"is_identified=maybe", CodeInvalidArgument},
		{"include_schema=nope", CodeInvalidArgument},
		{"page_token=garbage", CodeInvalidArgument},
	} {
		t.Run("bad "+tc.query, func(t *testing.T) {
			e := e.with(t)
			r := e.must(400, req{method: "GET", path: "/v2/users?" + tc.query, key: adminKey})
			if got := r.apiError(t).Code; got != tc.wantCode {
				t.Errorf("code %q, want %q", got, tc.wantCode)
			}
		})
	}
}

func TestPageTokens(t *testing.T) {
	e := newEnv(t, WithPageSize(10), WithUsers(30), WithDeleteDelay(0))
	p1 := e.list("?is_identified=true")
	tok := p1.NextPageToken

	t.Run("rejected", func(t *testing.T) {
		e := e.with(t)
		other, err := New(WithSeed(99), WithUsers(30), WithPageSize(10))
		if err != nil {
			t.Fatal(err)
		}
		foreign := newEnvFrom(t, other).list("?is_identified=true").NextPageToken
		tampered := []byte(tok)
		tampered[len(tampered)/2] ^= 1
		for _, tc := range []struct {
			name, query, wantMsg string
		}{
			{"forged", "is_identified=true&page_token=" + url.QueryEscape("AQAAAAAAAAAAMTIzNDU2Nzg5MDEyMzQ1Njc"), "invalid page_token"},
			{"tampered", "is_identified=true&page_token=" + string(tampered), "invalid page_token"},
			{"other server", "is_identified=true&page_token=" + foreign, "invalid page_token"},
			{"filters dropped", "page_token=" + tok, "different filters"},
			{"filters changed", "is_identified=false&page_token=" + tok, "different filters"},
			{"filter added", "is_identified=true&uid=x&page_token=" + tok, "different filters"},
			{"too long", "page_token=" + strings.Repeat("A", 2000), "invalid page_token"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := e.with(t)
				r := e.must(400, req{method: "GET", path: "/v2/users?" + tc.query, key: adminKey})
				got := r.apiError(t)
				if got.Code != CodeInvalidArgument || !strings.Contains(got.Message, tc.wantMsg) {
					t.Errorf("got %+v, want code %s with %q", got, CodeInvalidArgument, tc.wantMsg)
				}
			})
		}
	})

	t.Run("valid while data changes", func(t *testing.T) {
		e := e.with(t)
		lastOfPage1 := p1.Results[len(p1.Results)-1].ID
		// Delete the last user of page 1 and the first of page 2, and
		// create new users; the token still continues after lastOfPage1.
		p2 := e.list("?is_identified=true&page_token=" + tok)
		e.must(200, req{method: "DELETE", path: "/v2/users/" + lastOfPage1, key: adminKey})
		e.must(200, req{method: "DELETE", path: "/v2/users/" + p2.Results[0].ID, key: adminKey})
		e.create(`{"uid":"newcomer"}`)
		e.create(`{"properties":{"anon":true}}`)

		var want []string
		for _, u := range e.sim.Users() {
			if u.UID != "" && u.ID > lastOfPage1 && len(want) < 10 {
				want = append(want, u.ID)
			}
		}
		got := e.list("?is_identified=true&page_token=" + tok)
		if diff := cmp.Diff(want, userIDs(got.Results)); diff != "" {
			t.Errorf("page 2 after changes (-want +got):\n%s", diff)
		}
		if got.TotalRecords != "29" {
			t.Errorf("total_records %q, want \"29\"", got.TotalRecords)
		}
		ids, _ := e.listAll("is_identified=true")
		if len(ids) != 29 || !slices.IsSorted(ids) {
			t.Errorf("full walk gave %d ids (sorted %v), want 29 sorted", len(ids), slices.IsSorted(ids))
		}
	})
}

func newEnvFrom(t *testing.T, sim *Server) *env {
	t.Helper()
	e := &env{t: t, sim: sim, clock: newFakeClock()}
	e.srv = newLoopbackServer(t, sim)
	return e
}

func TestGetUser(t *testing.T) {
	e := newEnv(t)
	id := e.create(`{"uid":"u1","display_name":"Una","email":"una@example.com",
		"properties":{"plan":"pro","seats":3,"mrr":1.5,"beta":true,"tags":["a","b"],"since":"2024-01-02T03:04:05Z","company":{"name":"x","size":3}},
		"schema":{"properties":{"seats":"real"}}}`)

	var got User
	e.must(200, req{method: "GET", path: "/v2/users/" + id, key: adminKey}).json(t, &got)
	want := User{
		ID: id, UID: "u1", DisplayName: "Una", Email: "una@example.com",
		Properties: map[string]any{"plan": "pro", "seats": 3.0, "mrr": 1.5, "beta": true, "tags": []any{"a", "b"},
			"since": "2024-01-02T03:04:05Z", "company": map[string]any{"name": "x", "size": 3.0}},
		AppURL: AppURLPrefix + id,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}

	var withSchema User
	e.must(200, req{method: "GET", path: "/v2/users/" + id + "?include_schema=true", key: adminKey}).json(t, &withSchema)
	want.Schema = &Schema{Properties: map[string]any{"plan": "str", "seats": "real", "mrr": "real", "beta": "bool",
		"tags": "strs", "since": "date", "company": map[string]any{"name": "str", "size": "int"}}}
	if diff := cmp.Diff(want, withSchema); diff != "" {
		t.Errorf("get include_schema (-want +got):\n%s", diff)
	}
	page := e.list("?include_schema=true")
	if diff := cmp.Diff([]User{want}, page.Results); diff != "" {
		t.Errorf("list include_schema (-want +got):\n%s", diff)
	}
	if p := e.list(""); p.Results[0].Schema != nil {
		t.Errorf("list without include_schema has a schema: %+v", p.Results[0].Schema)
	}

	raw := e.must(200, req{method: "GET", path: "/v2/users/" + id, key: adminKey})
	if !strings.Contains(string(raw.Body), `"is_being_deleted":false`) {
		t.Errorf("is_being_deleted missing: %s", raw.Body)
	}

	r := e.must(404, req{method: "GET", path: "/v2/users/0000", key: adminKey})
	if got := r.apiError(t).Code; got != CodeUserNotFound {
		t.Errorf("code %q, want %q", got, CodeUserNotFound)
	}
	e.must(400, req{method: "GET", path: "/v2/users/" + id + "?include_schema=sure", key: adminKey})
}

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	id := e.create(`{"uid":"alice","display_name":"Alice","properties":{"plan":"pro","seats":3}}`)
	raw := e.must(200, req{method: "POST", path: "/v2/users", key: adminKey, body: `{"uid":"alice","email":"a@example.com","properties":{"seats":4,"plan":null}}`})
	if got, want := compactJSON(t, raw.Body), `{"id":"`+id+`"}`; got != want {
		t.Errorf("upsert answered %s, want %s", got, want)
	}
	a1 := e.create(`{"properties":{"visits":1}}`)
	a2 := e.create(`{"properties":{"visits":1}}`)
	if a1 == a2 || a1 == id {
		t.Errorf("anonymous creates gave ids %s, %s (identified %s); want distinct", a1, a2, id)
	}
	want := []User{
		{ID: id, UID: "alice", DisplayName: "Alice", Email: "a@example.com", Properties: map[string]any{"seats": 4.0}, AppURL: AppURLPrefix + id},
		{ID: a1, Properties: map[string]any{"visits": 1.0}, AppURL: AppURLPrefix + a1},
		{ID: a2, Properties: map[string]any{"visits": 1.0}, AppURL: AppURLPrefix + a2},
	}
	if diff := cmp.Diff(want, e.sim.Users()); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

func TestCreateValidation(t *testing.T) {
	props := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"properties":{`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"p%d":%d`, i, i)
		}
		b.WriteString(`}}`)
		return b.String()
	}
	str := func(field string, n int, ch string) string {
		return fmt.Sprintf(`{%q:%q}`, field, strings.Repeat(ch, n))
	}
	for _, tc := range []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"empty body", "", 400, CodeRequiredField},
		{"whitespace body", "  \n", 400, CodeRequiredField},
		{"truncated", `{"uid":`, 400, CodeInvalidArgument},
		{"array", `[]`, 400, CodeInvalidArgument},
		{"null", `null`, 400, CodeInvalidArgument},
		{"string", `"x"`, 400, CodeInvalidArgument},
		{"uid number", `{"uid":1}`, 400, CodeInvalidArgument},
		{"unknown field", `{"uid":"x","nickname":"y"}`, 400, CodeInvalidArgument},
		{"trailing data", `{} {}`, 400, CodeInvalidArgument},
		{"properties not object", `{"properties":[1]}`, 400, CodeInvalidArgument},
		{"uid 256", str("uid", 256, "u"), 200, ""},
		{"uid 256 runes", str("uid", 256, "é"), 200, ""},
		{"uid 257", str("uid", 257, "u"), 400, CodeInvalidArgument},
		{"display_name 256", str("display_name", 256, "d"), 200, ""},
		{"display_name 257", str("display_name", 257, "d"), 400, CodeInvalidArgument},
		{"email 128", str("email", 128, "e"), 200, ""},
		{"email 129", str("email", 129, "e"), 400, CodeInvalidArgument},
		{"name starts with digit", `{"properties":{"1abc":1}}`, 400, CodeInvalidArgument},
		{"name starts with underscore", `{"properties":{"_x":1}}`, 400, CodeInvalidArgument},
		{"name with dash", `{"properties":{"a-b":1}}`, 400, CodeInvalidArgument},
		{"name with dot", `{"properties":{"a.b":1}}`, 400, CodeInvalidArgument},
		{"empty name", `{"properties":{"":1}}`, 400, CodeInvalidArgument},
		{"name 512", `{"properties":{"a` + strings.Repeat("b", 511) + `":1}}`, 200, ""},
		{"name 513", `{"properties":{"a` + strings.Repeat("b", 512) + `":1}}`, 400, CodeInvalidArgument},
		{"500 properties", props(500), 200, ""},
		{"501 properties", props(501), 400, CodeInvalidArgument},
		{"value 8192 bytes", `{"properties":{"v":"` + strings.Repeat("x", 8190) + `"}}`, 200, ""},
		{"value 8193 bytes", `{"properties":{"v":"` + strings.Repeat("x", 8191) + `"}}`, 400, CodeInvalidArgument},
		{"nested ok", `{"properties":{"company":{"name":"x","hq":{"city":"y"}}}}`, 200, ""},
		{"nested bad name", `{"properties":{"company":{"bad-name":1}}}`, 400, CodeInvalidArgument},
		{"nested in array bad name", `{"properties":{"list":[{"9":1}]}}`, 400, CodeInvalidArgument},
		{"nested path too long", `{"properties":{"a` + strings.Repeat("b", 300) + `":{"c` + strings.Repeat("d", 300) + `":1}}}`, 400, CodeInvalidArgument},
		{"schema ok", `{"properties":{"n":"1"},"schema":{"properties":{"n":"int","o":{"p":"bools"}}}}`, 200, ""},
		{"schema unknown type", `{"schema":{"properties":{"n":"integer"}}}`, 400, CodeInvalidArgument},
		{"schema bad value", `{"schema":{"properties":{"n":5}}}`, 400, CodeInvalidArgument},
		{"schema unknown field", `{"schema":{"types":{}}}`, 400, CodeInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.do(req{method: "POST", path: "/v2/users", key: adminKey, body: tc.body})
			if r.Status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", r.Status, tc.wantStatus, r.Body)
			}
			n := len(e.sim.Users())
			if tc.wantStatus != 200 {
				if got := r.apiError(t).Code; got != tc.wantCode {
					t.Errorf("code %q, want %q", got, tc.wantCode)
				}
				if n != 0 {
					t.Errorf("rejected request stored %d users", n)
				}
			} else if n != 1 {
				t.Errorf("store has %d users, want 1", n)
			}
		})
	}

	t.Run("too large", func(t *testing.T) {
		e := newEnv(t)
		body := `{"uid":"` + strings.Repeat("x", maxBodyBytes) + `"}`
		r := e.must(413, req{method: "POST", path: "/v2/users", key: adminKey, body: body})
		if got := r.apiError(t).Code; got != CodeRequestTooLarge {
			t.Errorf("code %q, want %q", got, CodeRequestTooLarge)
		}
	})
}

func TestUpdateUser(t *testing.T) {
	e := newEnv(t, WithDeleteDelay(time.Minute))
	alice := e.create(`{"uid":"alice","display_name":"Alice","properties":{"plan":"pro","seats":3}}`)
	anon := e.create(`{"properties":{"visits":1}}`)
	gone := e.create(`{"uid":"gone"}`)
	e.must(200, req{method: "DELETE", path: "/v2/users/" + gone, key: adminKey})

	for _, tc := range []struct {
		name       string
		id, body   string
		wantStatus int
		wantCode   string
	}{
		{"merge", alice, `{"display_name":"Alice B","email":"alice@example.com","properties":{"seats":4,"plan":null,"team":"red"}}`, 200, ""},
		{"same uid", alice, `{"uid":"alice"}`, 200, ""},
		{"change uid", alice, `{"uid":"alicia"}`, 400, CodeInvalidArgument},
		{"uid taken", anon, `{"uid":"alice"}`, 409, CodeConflict},
		{"identify anonymous", anon, `{"uid":"anna","display_name":"Anna"}`, 200, ""},
		{"unknown id", "0000000000000000000", `{"display_name":"x"}`, 404, CodeUserNotFound},
		{"being deleted", gone, `{"display_name":"x"}`, 404, CodeUserNotFound},
		{"malformed", alice, `{"display_name":`, 400, CodeInvalidArgument},
		{"too many after merge", alice, func() string {
			var b strings.Builder
			b.WriteString(`{"properties":{`)
			for i := range 499 {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"q%d":1`, i)
			}
			return b.String() + `}}`
		}(), 400, CodeInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			before := e.sim.Users()
			r := e.do(req{method: "POST", path: "/v2/users/" + tc.id, key: adminKey, body: tc.body})
			if r.Status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", r.Status, tc.wantStatus, r.Body)
			}
			if tc.wantStatus == 200 {
				if got, want := compactJSON(t, r.Body), `{"id":"`+tc.id+`"}`; got != want {
					t.Errorf("answered %s, want %s", got, want)
				}
				return
			}
			if got := r.apiError(t).Code; got != tc.wantCode {
				t.Errorf("code %q, want %q", got, tc.wantCode)
			}
			if diff := cmp.Diff(before, e.sim.Users()); diff != "" {
				t.Errorf("rejected update changed the store (-before +after):\n%s", diff)
			}
		})
	}

	want := []User{
		{ID: alice, UID: "alice", DisplayName: "Alice B", Email: "alice@example.com",
			Properties: map[string]any{"seats": 4.0, "team": "red"}, AppURL: AppURLPrefix + alice},
		{ID: anon, UID: "anna", DisplayName: "Anna", Properties: map[string]any{"visits": 1.0}, AppURL: AppURLPrefix + anon},
		{ID: gone, UID: "gone", IsBeingDeleted: true, AppURL: AppURLPrefix + gone},
	}
	if diff := cmp.Diff(want, e.sim.Users()); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	ids, _ := e.listAll("is_identified=true")
	if diff := cmp.Diff([]string{alice, anon, gone}, ids); diff != "" {
		t.Errorf("identified after identify (-want +got):\n%s", diff)
	}
	if ids, _ := e.listAll("is_identified=false"); len(ids) != 0 {
		t.Errorf("anonymous listing still has %v", ids)
	}
}

func TestDeleteUser(t *testing.T) {
	e := newEnv(t) // default delete delay
	a := e.create(`{"uid":"a"}`)
	b := e.create(`{"uid":"b"}`)
	c := e.create(`{"properties":{"x":1}}`)

	r := e.must(200, req{method: "DELETE", path: "/v2/users/" + a, key: adminKey})
	if got := compactJSON(t, r.Body); got != `{}` {
		t.Errorf("delete answered %s, want {}", got)
	}
	r = e.must(200, req{method: "DELETE", path: "/v2/users?uid=b", key: adminKey})
	if got := compactJSON(t, r.Body); got != `{}` {
		t.Errorf("delete by uid answered %s, want {}", got)
	}
	// Deleting again while the deletion runs is fine.
	e.must(200, req{method: "DELETE", path: "/v2/users/" + a, key: adminKey})
	e.must(200, req{method: "DELETE", path: "/v2/users?uid=b", key: adminKey})

	var got User
	e.must(200, req{method: "GET", path: "/v2/users/" + a, key: adminKey}).json(t, &got)
	if !got.IsBeingDeleted {
		t.Errorf("user %s right after delete: is_being_deleted false", a)
	}
	p := e.list("")
	if p.TotalRecords != "3" || !p.Results[0].IsBeingDeleted || !p.Results[1].IsBeingDeleted || p.Results[2].IsBeingDeleted {
		t.Errorf("listing during deletion: total %s, results %+v", p.TotalRecords, p.Results)
	}
	// A new user may take the uid of a user being deleted.
	a2 := e.create(`{"uid":"a"}`)
	if a2 == a {
		t.Errorf("create with the uid of a user being deleted updated it")
	}
	// Updating a user being deleted fails.
	e.must(404, req{method: "POST", path: "/v2/users/" + b, key: adminKey, body: `{"display_name":"x"}`})

	e.clock.Advance(DefaultDeleteDelay - time.Millisecond)
	e.must(200, req{method: "GET", path: "/v2/users/" + a, key: adminKey})
	e.clock.Advance(time.Millisecond)
	for _, id := range []string{a, b} {
		r := e.must(404, req{method: "GET", path: "/v2/users/" + id, key: adminKey})
		if code := r.apiError(t).Code; code != CodeUserNotFound {
			t.Errorf("code %q, want %q", code, CodeUserNotFound)
		}
	}
	if diff := cmp.Diff([]string{c, a2}, userIDs(e.sim.Users())); diff != "" {
		t.Errorf("users after deletion (-want +got):\n%s", diff)
	}
	if p := e.list(""); p.TotalRecords != "2" {
		t.Errorf("total_records %s, want 2", p.TotalRecords)
	}

	for _, tc := range []struct {
		name, path string
		wantStatus int
		wantCode   string
	}{
		{"unknown id", "/v2/users/123", 404, CodeUserNotFound},
		{"unknown uid", "/v2/users?uid=nobody", 404, CodeUserNotFound},
		{"purged id", "/v2/users/" + a, 404, CodeUserNotFound},
		{"no uid", "/v2/users", 400, CodeRequiredField},
		{"empty uid", "/v2/users?uid=", 400, CodeRequiredField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.must(tc.wantStatus, req{method: "DELETE", path: tc.path, key: adminKey})
			if code := r.apiError(t).Code; code != tc.wantCode {
				t.Errorf("code %q, want %q", code, tc.wantCode)
			}
		})
	}

	t.Run("no delay", func(t *testing.T) {
		e := newEnv(t, WithDeleteDelay(0))
		id := e.create(`{"uid":"z"}`)
		e.must(200, req{method: "DELETE", path: "/v2/users/" + id, key: adminKey})
		e.must(404, req{method: "GET", path: "/v2/users/" + id, key: adminKey})
	})
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	id := e.create(`{"uid":"x"}`)
	for _, tc := range []struct {
		name, method, path, auth, body string
		wantStatus                     int
		wantCode                       string
	}{
		{"no header", "GET", "/v2/users", "", "", 401, CodeUnauthorized},
		{"bearer scheme", "GET", "/v2/users", "Bearer " + adminKey, "", 401, CodeUnauthorized},
		{"unknown key", "GET", "/v2/users", "Basic nope", "", 401, CodeUnauthorized},
		{"empty key", "GET", "/v2/users", "Basic ", "", 401, CodeUnauthorized},
		{"lowercase scheme", "GET", "/v2/users", "basic " + adminKey, "", 200, ""},
		{"unknown key on create", "POST", "/v2/users", "Basic nope", `{}`, 401, CodeUnauthorized},
		{"standard list", "GET", "/v2/users", "Basic " + standardKey, "", 403, CodeForbidden},
		{"standard get", "GET", "/v2/users/" + id, "Basic " + standardKey, "", 403, CodeForbidden},
		{"standard delete", "DELETE", "/v2/users/" + id, "Basic " + standardKey, "", 403, CodeForbidden},
		{"standard delete uid", "DELETE", "/v2/users?uid=x", "Basic " + standardKey, "", 403, CodeForbidden},
		{"standard create", "POST", "/v2/users", "Basic " + standardKey, `{"uid":"s"}`, 200, ""},
		{"standard update", "POST", "/v2/users/" + id, "Basic " + standardKey, `{"display_name":"S"}`, 200, ""},
		{"architect list", "GET", "/v2/users", "Basic " + architectKey, "", 200, ""},
		{"architect get", "GET", "/v2/users/" + id, "Basic " + architectKey, "", 200, ""},
		{"architect delete", "DELETE", "/v2/users/" + id, "Basic " + architectKey, "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			h := map[string]string{}
			if tc.auth != "" {
				h["Authorization"] = tc.auth
			}
			r := e.must(tc.wantStatus, req{method: tc.method, path: tc.path, body: tc.body, headers: h})
			if tc.wantCode != "" {
				if code := r.apiError(t).Code; code != tc.wantCode {
					t.Errorf("code %q, want %q", code, tc.wantCode)
				}
			}
		})
	}

	t.Run("open mode", func(t *testing.T) {
		sim, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if !sim.OpenMode() {
			t.Error("OpenMode() = false with no keys")
		}
		o := newEnvFrom(t, sim)
		o.must(200, req{method: "GET", path: "/v2/users", key: "anything"})
		o.must(401, req{method: "GET", path: "/v2/users"})
	})
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t)
	post := func(t *testing.T, key, path, apiKey, body string) response {
		t.Helper()
		return e.with(t).do(req{method: "POST", path: path, key: apiKey, body: body, headers: map[string]string{"Idempotency-Key": key}})
	}
	first := post(t, "k1", "/v2/users", adminKey, `{"properties":{"n":1}}`)
	if first.Status != 200 {
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
	replay := post(t, "k1", "/v2/users", adminKey, `{"properties":{"n":1}}`)
	if replay.Status != 200 || string(replay.Body) != string(first.Body) || replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %s (replayed %q), want 200 %s replayed", replay.Status, replay.Body, replay.Header.Get("Idempotent-Replayed"), first.Body)
	}
	if n := len(e.sim.Users()); n != 1 {
		t.Errorf("anonymous create replayed: %d users, want 1", n)
	}

	for _, tc := range []struct {
		name, path, body string
	}{
		{"different body", "/v2/users", `{"properties":{"n":2}}`},
		{"different path", "/v2/users/123", `{"properties":{"n":1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, "k1", tc.path, adminKey, tc.body)
			if r.Status != 400 {
				t.Fatalf("status %d, want 400; %s", r.Status, r.Body)
			}
			if code := r.apiError(t).Code; code != CodeIdempotencyKeyReused {
				t.Errorf("code %q, want %q", code, CodeIdempotencyKeyReused)
			}
		})
	}

	// Keys are scoped per API key.
	other := post(t, "k1", "/v2/users", architectKey, `{"properties":{"n":1}}`)
	if other.Status != 200 || string(other.Body) == string(first.Body) {
		t.Errorf("same key, other API key: %d %s; want a new user", other.Status, other.Body)
	}

	// Error answers are stored too.
	bad := post(t, "k2", "/v2/users", adminKey, `{"properties":{"-":1}}`)
	again := post(t, "k2", "/v2/users", adminKey, `{"properties":{"-":1}}`)
	if bad.Status != 400 || again.Status != 400 || string(bad.Body) != string(again.Body) {
		t.Errorf("error replay: %d %s then %d %s", bad.Status, bad.Body, again.Status, again.Body)
	}

	// Keys expire after 24h on the server's clock.
	e.clock.Advance(IdempotencyKeyTTL - time.Second)
	if r := post(t, "k1", "/v2/users", adminKey, `{"properties":{"n":1}}`); string(r.Body) != string(first.Body) {
		t.Errorf("before expiry: %s, want replay %s", r.Body, first.Body)
	}
	e.clock.Advance(time.Second)
	if r := post(t, "k1", "/v2/users", adminKey, `{"properties":{"n":1}}`); r.Status != 200 || string(r.Body) == string(first.Body) {
		t.Errorf("after expiry: %d %s, want a new user", r.Status, r.Body)
	}
	if n := len(e.sim.Users()); n != 3 {
		t.Errorf("%d users, want 3", n)
	}

	r := post(t, strings.Repeat("k", 256), "/v2/users", adminKey, `{}`)
	if r.Status != 400 {
		t.Errorf("overlong key: status %d, want 400", r.Status)
	}

	// Idempotent updates replay too.
	id := e.create(`{"uid":"upd"}`)
	u1 := post(t, "k3", "/v2/users/"+id, adminKey, `{"display_name":"one"}`)
	e.must(200, req{method: "POST", path: "/v2/users/" + id, key: adminKey, body: `{"display_name":"two"}`})
	u2 := post(t, "k3", "/v2/users/"+id, adminKey, `{"display_name":"one"}`)
	if u1.Status != 200 || string(u1.Body) != string(u2.Body) || u2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("update replay: %d %s / %s", u1.Status, u1.Body, u2.Body)
	}
	var got User
	e.must(200, req{method: "GET", path: "/v2/users/" + id, key: adminKey}).json(t, &got)
	if got.DisplayName != "two" {
		t.Errorf("replayed update was applied again: display_name %q, want two", got.DisplayName)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		wantStatus   int
		wantCode     string
	}{
		{"GET", "/v2/other", 404, CodeResourceNotFound},
		{"GET", "/", 404, CodeResourceNotFound},
		{"PUT", "/v2/users", 405, CodeMethodNotAllowed},
		{"PATCH", "/v2/users/1", 405, CodeMethodNotAllowed},
		{"GET", "/_simulator/nothing", 404, CodeResourceNotFound},
		{"POST", "/_simulator/users", 405, CodeMethodNotAllowed},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			e := e.with(t)
			r := e.must(tc.wantStatus, req{method: tc.method, path: tc.path, key: adminKey})
			if code := r.apiError(t).Code; code != tc.wantCode {
				t.Errorf("code %q, want %q", code, tc.wantCode)
			}
		})
	}
}
