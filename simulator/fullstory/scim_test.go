package fullstory

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// stored returns t as the server stores it at time now (created and last
// modified now unless set).
func stored(t Teammate, now time.Time) Teammate {
	t.Schemas = []string{SCIMUserSchema}
	t.Meta.ResourceType = "User"
	t.Meta.Location = SCIMLocationPrefix + t.ID
	if t.Meta.Created.IsZero() {
		t.Meta.Created = now
	}
	if t.Meta.LastModified.IsZero() {
		t.Meta.LastModified = now
	}
	return t
}

func TestSCIMAuth(t *testing.T) {
	e := newSCIMEnv(t, WithTeammates(3))
	const wantHeader = `Bearer realm="fullstory-simulator SCIM"`
	for _, tc := range []struct {
		name, auth string
		want       int
		detail     string
	}{
		{"no header", "-", 401, `missing or malformed Authorization header; want "Bearer <SCIM token>"`},
		{"empty bearer", "Bearer ", 401, `missing or malformed Authorization header; want "Bearer <SCIM token>"`},
		{"basic scheme", "Basic " + scimToken, 401, `missing or malformed Authorization header; want "Bearer <SCIM token>"`},
		{"wrong token", "Bearer nope", 401, "invalid SCIM token"},
		{"token prefix", "Bearer " + scimToken[:5], 401, "invalid SCIM token"},
		{"API key is not a SCIM token", "Bearer " + adminKey, 401, "invalid SCIM token"},
		{"first token", "Bearer " + scimToken, 200, ""},
		{"second token", "Bearer " + scimToken2, 200, ""},
		{"scheme in lower case", "bearer " + scimToken, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			for _, path := range []string{"/scim/v2/Users", "/scim/v2/ServiceProviderConfig", "/scim/v2/Users/unknown", "/scim/v2/Nope"} {
				r := e.scim(scimReq{method: "GET", path: path, auth: tc.auth})
				if tc.want == 401 {
					checkSCIMError(t, r, 401, "", tc.detail)
					if got := r.Header.Get("WWW-Authenticate"); got != wantHeader {
						t.Errorf("%s: WWW-Authenticate %q, want %q", path, got, wantHeader)
					}
				} else if path == "/scim/v2/Users" && r.Status != 200 {
					t.Errorf("%s: status %d, want 200", path, r.Status)
				} else if r.Status == 401 {
					t.Errorf("%s: 401 with a good token", path)
				}
			}
		})
	}
	// The SCIM token does not open the v2 API.
	e.must(401, req{method: "GET", path: "/v2/users", headers: map[string]string{"Authorization": "Basic " + scimToken}})

	t.Run("open mode", func(t *testing.T) {
		open := newEnv(t, WithTeammates(1))
		if !open.sim.SCIMOpenMode() {
			t.Error("SCIMOpenMode false without tokens")
		}
		if e.sim.SCIMOpenMode() {
			t.Error("SCIMOpenMode true with tokens")
		}
		open.scimMust(200, scimReq{method: "GET", path: "/scim/v2/Users", auth: "Bearer anything"})
		checkSCIMError(t, open.scim(scimReq{method: "GET", path: "/scim/v2/Users", auth: "-"}), 401, "", "")
		checkSCIMError(t, open.scim(scimReq{method: "GET", path: "/scim/v2/Users", auth: "Basic x"}), 401, "", "")
	})
}

func TestSCIMRoutingErrors(t *testing.T) {
	e := newSCIMEnv(t)
	for _, tc := range []struct {
		method, path string
		want         int
		detail       string
	}{
		{"GET", "/scim/v2/Groups", 404, "no SCIM route for GET /scim/v2/Groups"},
		{"GET", "/scim/v2", 404, "no SCIM route for GET /scim/v2"},
		{"DELETE", "/scim/v2/Users", 405, "method DELETE not allowed on /scim/v2/Users"},
		{"POST", "/scim/v2/Users/x", 405, "method POST not allowed on /scim/v2/Users/x"},
		{"PUT", "/scim/v2/ServiceProviderConfig", 405, "method PUT not allowed on /scim/v2/ServiceProviderConfig"},
		{"GET", "/scim/v2/Users/does-not-exist", 404, `teammate "does-not-exist" not found`},
		{"PUT", "/scim/v2/Users/does-not-exist", 404, `teammate "does-not-exist" not found`},
		{"PATCH", "/scim/v2/Users/does-not-exist", 404, `teammate "does-not-exist" not found`},
		{"DELETE", "/scim/v2/Users/does-not-exist", 404, `teammate "does-not-exist" not found`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			e := e.with(t)
			body := ""
			switch tc.method {
			case "PUT":
				body = `{"schemas":["` + SCIMUserSchema + `"],"userName":"x@example.com"}`
			case "PATCH":
				body = `{"schemas":["` + SCIMPatchOpSchema + `"],"Operations":[{"op":"replace","path":"active","value":false}]}`
			}
			checkSCIMError(t, e.scim(scimReq{method: tc.method, path: tc.path, body: body}), tc.want, "", tc.detail)
		})
	}
	// Outside the prefix the v2 API's error form stays.
	r := e.do(req{method: "GET", path: "/scim/v2x", key: adminKey})
	if r.Status != 404 || r.apiError(t).Code != CodeResourceNotFound {
		t.Errorf("/scim/v2x: %d %s, want a v2 404", r.Status, r.Body)
	}
}

func TestSCIMGetUser(t *testing.T) {
	e := newSCIMEnv(t, WithTeammates(8))
	for _, want := range e.sim.Teammates() {
		var got Teammate
		r := e.scimMust(200, scimReq{method: "GET", path: "/scim/v2/Users/" + want.ID})
		r.json(t, &got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET %s (-dump +API):\n%s", want.ID, diff)
		}
	}
}

func TestSCIMCreate(t *testing.T) {
	e := newSCIMEnv(t)
	now := e.clock.Now()
	body := `{"schemas":["` + SCIMUserSchema + `"],"userName":"Grace@Example.com","externalId":"okta-1",
		"name":{"givenName":"Grace","familyName":"Hopper","middleName":"Brewster"},"displayName":"Grace Hopper",
		"emails":[{"value":"grace@example.com","type":"work","primary":true},{"value":"g@home.example","type":"home"}],
		"active":true,"title":"Rear Admiral","id":"ignored","meta":{"created":"2001-01-01T00:00:00Z"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Navy"}}`
	r := e.scimMust(201, scimReq{method: "POST", path: "/scim/v2/Users", body: body})
	var got Teammate
	r.json(t, &got)
	want := stored(Teammate{
		ID: got.ID, UserName: "Grace@Example.com", ExternalID: "okta-1",
		Name:        &TeammateName{GivenName: "Grace", FamilyName: "Hopper"},
		DisplayName: "Grace Hopper",
		Emails:      []TeammateEmail{{Value: "grace@example.com", Type: "work", Primary: true}, {Value: "g@home.example", Type: "home"}},
		Active:      true,
	}, now)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("created teammate (-want +got):\n%s", diff)
	}
	if got.ID == "ignored" || !validID(got.ID) {
		t.Errorf("id %q", got.ID)
	}
	if loc := r.Header.Get("Location"); loc != want.Meta.Location {
		t.Errorf("Location %q, want %q", loc, want.Meta.Location)
	}
	if diff := cmp.Diff([]Teammate{want}, e.sim.Teammates()); diff != "" {
		t.Errorf("dump (-want +got):\n%s", diff)
	}

	// Minimal body with application/json: active defaults to true; an
	// email-less teammate is fine; ids increase.
	e.clock.Advance(time.Minute)
	min := e.scimCreate(`{"schemas":["` + SCIMUserSchema + `"],"userName":"min@example.com"}`)
	if diff := cmp.Diff(stored(Teammate{ID: min.ID, UserName: "min@example.com", Active: true}, e.clock.Now()), min); diff != "" {
		t.Errorf("minimal teammate (-want +got):\n%s", diff)
	}
	if min.ID <= got.ID {
		t.Errorf("second id %s not after first %s", min.ID, got.ID)
	}
	inactive := e.scimCreate(`{"schemas":["` + SCIMUserSchema + `"],"userName":"off@example.com","active":"False"}`)
	if inactive.Active {
		t.Error(`"active":"False" created an active teammate`)
	}

	for _, tc := range []struct {
		name, body, contentType string
		status                  int
		scimType, detail        string
	}{
		{"duplicate userName", `{"schemas":["` + SCIMUserSchema + `"],"userName":"grace@example.COM"}`, "", 409, "uniqueness",
			fmt.Sprintf(`userName "grace@example.COM" is already taken by teammate %s`, got.ID)},
		{"application/json duplicate", `{"schemas":["` + SCIMUserSchema + `"],"userName":"min@example.com"}`, "application/json; charset=utf-8", 409, "uniqueness", ""},
		{"no userName", `{"schemas":["` + SCIMUserSchema + `"]}`, "", 400, "invalidValue", "userName is required"},
		{"blank userName", `{"schemas":["` + SCIMUserSchema + `"],"userName":"  "}`, "", 400, "invalidValue", "userName is required"},
		{"no schemas", `{"userName":"a@example.com"}`, "", 400, "invalidSyntax", `schemas must contain "` + SCIMUserSchema + `"`},
		{"malformed", `{"schemas":`, "", 400, "invalidSyntax", ""},
		{"not an object", `["x"]`, "", 400, "invalidSyntax", "request body must be a JSON object"},
		{"trailing data", `{"schemas":["` + SCIMUserSchema + `"],"userName":"t@example.com"} {}`, "", 400, "invalidSyntax", "malformed JSON body: unexpected data after the object"},
		{"wrong type", `{"schemas":["` + SCIMUserSchema + `"],"userName":5}`, "", 400, "invalidSyntax", ""},
		{"bad active", `{"schemas":["` + SCIMUserSchema + `"],"userName":"b@example.com","active":"yes"}`, "", 400, "invalidValue", `active must be a boolean, not "yes"`},
		{"two primaries", `{"schemas":["` + SCIMUserSchema + `"],"userName":"p@example.com","emails":[{"value":"a@x","primary":true},{"value":"b@x","primary":true}]}`, "", 400, "invalidValue", "2 emails have primary true; at most one may"},
		{"email without value", `{"schemas":["` + SCIMUserSchema + `"],"userName":"v@example.com","emails":[{"type":"work"}]}`, "", 400, "invalidValue", "emails[0].value is required"},
		{"long userName", `{"schemas":["` + SCIMUserSchema + `"],"userName":"` + strings.Repeat("a", 257) + `"}`, "", 400, "invalidValue", "userName is 257 characters; the limit is 256"},
		{"empty body", "", "", 400, "invalidSyntax", "request body is required"},
		{"form body", `userName=x`, "application/x-www-form-urlencoded", 415, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			r := e.scim(scimReq{method: "POST", path: "/scim/v2/Users", body: tc.body, contentType: tc.contentType})
			checkSCIMError(t, r, tc.status, tc.scimType, tc.detail)
		})
	}
	// No Content-Type at all is accepted.
	e.scimMust(201, scimReq{method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + SCIMUserSchema + `"],"userName":"noct@example.com"}`, contentType: "-"})
	if n := len(e.sim.Teammates()); n != 4 {
		t.Errorf("%d teammates after the failures, want 4", n)
	}
}

func TestSCIMReplace(t *testing.T) {
	e := newSCIMEnv(t)
	created := e.clock.Now()
	a := mustPut(t, e.sim, Teammate{UserName: "a@example.com", ExternalID: "x", DisplayName: "A", Active: false,
		Name: &TeammateName{GivenName: "A"}, Emails: []TeammateEmail{{Value: "a@example.com", Primary: true}}})
	b := mustPut(t, e.sim, Teammate{UserName: "b@example.com", Active: true})
	e.clock.Advance(time.Hour)

	// Absent attributes are cleared, but active keeps its value.
	var got Teammate
	e.scimMust(200, scimReq{method: "PUT", path: "/scim/v2/Users/" + a.ID,
		body: `{"schemas":["` + SCIMUserSchema + `"],"id":"` + a.ID + `","userName":"A2@example.com","displayName":"A Two"}`}).json(t, &got)
	want := stored(Teammate{ID: a.ID, UserName: "A2@example.com", DisplayName: "A Two", Active: false,
		Meta: TeammateMeta{Created: created, LastModified: e.clock.Now()}}, e.clock.Now())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PUT (-want +got):\n%s", diff)
	}
	var before Teammate
	e.scimMust(200, scimReq{method: "PUT", path: "/scim/v2/Users/" + a.ID,
		body: `{"schemas":["` + SCIMUserSchema + `"],"userName":"a2@example.com","active":true}`}).json(t, &before)
	want = stored(Teammate{ID: a.ID, UserName: "a2@example.com", Active: true,
		Meta: TeammateMeta{Created: created, LastModified: e.clock.Now()}}, e.clock.Now())
	if diff := cmp.Diff(want, before); diff != "" {
		t.Errorf("PUT active true, userName in new case (-want +got):\n%s", diff)
	}
	// Replacing with the same content does not touch lastModified.
	e.clock.Advance(time.Hour)
	var again Teammate
	e.scimMust(200, scimReq{method: "PUT", path: "/scim/v2/Users/" + a.ID,
		body: `{"schemas":["` + SCIMUserSchema + `"],"userName":"a2@example.com"}`}).json(t, &again)
	if diff := cmp.Diff(before, again); diff != "" {
		t.Errorf("no-op PUT changed the teammate (-before +after):\n%s", diff)
	}

	checkSCIMError(t, e.scim(scimReq{method: "PUT", path: "/scim/v2/Users/" + a.ID,
		body: `{"schemas":["` + SCIMUserSchema + `"],"userName":"B@example.com"}`}), 409, "uniqueness",
		fmt.Sprintf(`userName "B@example.com" is already taken by teammate %s`, b.ID))
	checkSCIMError(t, e.scim(scimReq{method: "PUT", path: "/scim/v2/Users/" + a.ID,
		body: `{"schemas":["` + SCIMUserSchema + `"],"id":"` + b.ID + `","userName":"a2@example.com"}`}), 400, "mutability", "")
	checkSCIMError(t, e.scim(scimReq{method: "PUT", path: "/scim/v2/Users/" + a.ID,
		body: `{"schemas":["` + SCIMUserSchema + `"]}`}), 400, "invalidValue", "userName is required")
	if diff := cmp.Diff([]Teammate{before, b}, e.sim.Teammates()); diff != "" {
		t.Errorf("failed PUTs changed the store (-want +got):\n%s", diff)
	}
}

func TestSCIMDelete(t *testing.T) {
	e := newSCIMEnv(t, WithTeammates(3))
	ts := e.sim.Teammates()
	e.scimMust(204, scimReq{method: "DELETE", path: "/scim/v2/Users/" + ts[1].ID})
	checkSCIMError(t, e.scim(scimReq{method: "GET", path: "/scim/v2/Users/" + ts[1].ID}), 404, "", fmt.Sprintf("teammate %q not found", ts[1].ID))
	checkSCIMError(t, e.scim(scimReq{method: "DELETE", path: "/scim/v2/Users/" + ts[1].ID}), 404, "", "")
	if diff := cmp.Diff([]Teammate{ts[0], ts[2]}, e.sim.Teammates()); diff != "" {
		t.Errorf("after delete (-want +got):\n%s", diff)
	}
	// The userName is free again.
	e.scimCreate(`{"schemas":["` + SCIMUserSchema + `"],"userName":"` + ts[1].UserName + `"}`)
}

func TestSCIMList(t *testing.T) {
	e := newSCIMEnv(t, WithTeammates(12), WithSCIMPageSize(5), WithSCIMMaxPageSize(8))
	all := e.sim.Teammates()
	ids := teammateIDs(all)
	for _, tc := range []struct {
		name, query    string
		wantStart      int
		wantIDs        []string
		wantTotal      int
		wantItemsCount int
	}{
		{"defaults", "", 1, ids[:5], 12, 5},
		{"count", "?count=3", 1, ids[:3], 12, 3},
		{"count above the maximum is capped", "?count=100", 1, ids[:8], 12, 8},
		{"second capped page", "?startIndex=9&count=100", 9, ids[8:], 12, 4},
		{"middle", "?startIndex=4&count=2", 4, ids[3:5], 12, 2},
		{"last partial page", "?startIndex=11&count=5", 11, ids[10:], 12, 2},
		{"past the end", "?startIndex=13", 13, nil, 12, 0},
		{"far past the end", "?startIndex=1000000", 1000000, nil, 12, 0},
		{"startIndex 0 counts as 1", "?startIndex=0&count=2", 1, ids[:2], 12, 2},
		{"negative startIndex counts as 1", "?startIndex=-7&count=2", 1, ids[:2], 12, 2},
		{"count 0: totals only", "?count=0", 1, nil, 12, 0},
		{"negative count counts as 0", "?count=-3", 1, nil, 12, 0},
		{"other parameters ignored", "?attributes=userName&sortBy=userName&excludedAttributes=emails&count=2", 1, ids[:2], 12, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			got := e.scimList(tc.query)
			want := scimList{Schemas: []string{SCIMListResponseSchema}, TotalResults: tc.wantTotal, StartIndex: tc.wantStart, ItemsPerPage: tc.wantItemsCount}
			for _, id := range tc.wantIDs {
				for _, tm := range all {
					if tm.ID == id {
						want.Resources = append(want.Resources, tm)
					}
				}
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("list %s (-want +got):\n%s", tc.query, diff)
			}
		})
	}
	// Resources is always present, an empty array when there are none.
	r := e.scimMust(200, scimReq{method: "GET", path: "/scim/v2/Users?count=0"})
	if !strings.Contains(string(r.Body), `"Resources":[]`) {
		t.Errorf("empty page %s lacks \"Resources\":[]", r.Body)
	}
	for _, q := range []string{"?startIndex=x", "?count=1.5", "?count=99999999999999999999"} {
		checkSCIMError(t, e.scim(scimReq{method: "GET", path: "/scim/v2/Users" + q}), 400, "invalidValue", "")
	}
}

// TestSCIMListPagesWhileChanging walks the list by startIndex while
// teammates come and go, as a client must cope with: totals change
// between pages and a deletion shifts later teammates back by one.
func TestSCIMListPagesWhileChanging(t *testing.T) {
	e := newSCIMEnv(t, WithTeammates(7), WithSCIMMaxPageSize(3))
	ids := teammateIDs(e.sim.Teammates())

	p1 := e.scimList("?startIndex=1&count=10")
	if diff := cmp.Diff(ids[:3], teammateIDs(p1.Resources)); diff != "" || p1.TotalResults != 7 || p1.ItemsPerPage != 3 {
		t.Fatalf("page 1: total %d, items %d, ids diff %s", p1.TotalResults, p1.ItemsPerPage, diff)
	}
	// A new teammate sorts last; one of page 1 goes away.
	extra := e.scimCreate(`{"schemas":["` + SCIMUserSchema + `"],"userName":"late@example.com"}`)
	e.scimMust(204, scimReq{method: "DELETE", path: "/scim/v2/Users/" + ids[0]})

	p2 := e.scimList("?startIndex=4&count=10")
	if diff := cmp.Diff(ids[4:7], teammateIDs(p2.Resources)); diff != "" {
		t.Errorf("page 2 ids (-want +got):\n%s", diff)
	}
	if p2.TotalResults != 7 || p2.StartIndex != 4 || p2.ItemsPerPage != 3 {
		t.Errorf("page 2: total %d start %d items %d, want 7 4 3", p2.TotalResults, p2.StartIndex, p2.ItemsPerPage)
	}
	p3 := e.scimList("?startIndex=7&count=10")
	if diff := cmp.Diff([]string{extra.ID}, teammateIDs(p3.Resources)); diff != "" {
		t.Errorf("page 3 ids (-want +got):\n%s", diff)
	}
	// ids[3] was skipped by the shift: a client that pages by startIndex
	// needs to re-read or dedupe, which is the point of this scenario.
	e.scimMust(201, scimReq{method: "POST", path: "/scim/v2/Users", body: `{"schemas":["` + SCIMUserSchema + `"],"userName":"later@example.com"}`})
	if p := e.scimList("?startIndex=1&count=0"); p.TotalResults != 8 {
		t.Errorf("total %d after another create, want 8", p.TotalResults)
	}
}

func TestSCIMFilter(t *testing.T) {
	e := newSCIMEnv(t, WithTeammates(8))
	all := e.sim.Teammates()
	mixed := all[6] // i%8 == 6: mixed-case userName
	if mixed.UserName == strings.ToLower(mixed.UserName) {
		t.Fatalf("teammate 6 userName %q is not mixed case", mixed.UserName)
	}
	for _, tc := range []struct {
		name, filter string
		want         []Teammate
		wantTotal    int
		query        string
	}{
		{"exact", `userName eq "` + all[2].UserName + `"`, all[2:3], 1, ""},
		{"case-insensitive value", `userName eq "` + strings.ToLower(mixed.UserName) + `"`, []Teammate{mixed}, 1, ""},
		{"upper-case value", `userName eq "` + strings.ToUpper(all[1].UserName) + `"`, all[1:2], 1, ""},
		{"attribute and operator in any case", `USERNAME EQ "` + all[3].UserName + `"`, all[3:4], 1, ""},
		{"qualified attribute", `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "` + all[4].UserName + `"`, all[4:5], 1, ""},
		{"extra spaces", `  userName   eq   "` + all[0].UserName + `"  `, all[:1], 1, ""},
		{"escaped quote", `userName eq "no\"body@example.com"`, nil, 0, ""},
		{"no match", `userName eq "nobody@example.com"`, nil, 0, ""},
		{"count 0", `userName eq "` + all[2].UserName + `"`, nil, 1, "&count=0"},
		{"startIndex past the match", `userName eq "` + all[2].UserName + `"`, nil, 1, "&startIndex=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			got := e.scimList("?filter=" + url.QueryEscape(tc.filter) + tc.query)
			if diff := cmp.Diff(tc.want, got.Resources, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("resources (-want +got):\n%s", diff)
			}
			if got.TotalResults != tc.wantTotal || got.ItemsPerPage != len(tc.want) {
				t.Errorf("totalResults %d itemsPerPage %d, want %d %d", got.TotalResults, got.ItemsPerPage, tc.wantTotal, len(tc.want))
			}
		})
	}
	for _, f := range []string{
		`userName sw "a"`,
		`userName co "a"`,
		`emails.value eq "a@example.com"`,
		`externalId eq "x"`,
		`userName pr`,
		`userName eq "a" or userName eq "b"`,
		`(userName eq "a")`,
		`userName eq 5`,
		`userName eq true`,
		`userName eq null`,
		`userName eq "unterminated`,
		`userName`,
		`userName eq`,
	} {
		t.Run("invalid "+f, func(t *testing.T) {
			e := e.with(t)
			r := e.scim(scimReq{method: "GET", path: "/scim/v2/Users?filter=" + url.QueryEscape(f)})
			got := checkSCIMError(t, r, 400, "invalidFilter", "")
			if !strings.Contains(got.Detail, `userName eq "..."`) {
				t.Errorf("detail %q does not say which filter is supported", got.Detail)
			}
		})
	}
}

func TestSCIMServiceProviderConfig(t *testing.T) {
	e := newSCIMEnv(t, WithSCIMMaxPageSize(50))
	r := e.scimMust(200, scimReq{method: "GET", path: "/scim/v2/ServiceProviderConfig"})
	want := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],` +
		`"patch":{"supported":true},` +
		`"bulk":{"supported":false,"maxOperations":0,"maxPayloadSize":0},` +
		`"filter":{"supported":true,"maxResults":50},` +
		`"changePassword":{"supported":false},"sort":{"supported":false},"etag":{"supported":false},` +
		`"authenticationSchemes":[{"type":"oauthbearertoken","name":"OAuth Bearer Token",` +
		`"description":"Authentication with the SCIM token generated in Fullstory's SSO settings, sent as \"Authorization: Bearer \u003ctoken\u003e\"",` +
		`"specUri":"https://www.rfc-editor.org/info/rfc6750","primary":true}],` +
		`"meta":{"resourceType":"ServiceProviderConfig","location":"https://app.fullstory.com/scim/v2/ServiceProviderConfig"}}`
	if diff := cmp.Diff(want, compactJSON(t, r.Body)); diff != "" {
		t.Errorf("ServiceProviderConfig (-want +got):\n%s", diff)
	}
}

func TestSCIMPatch(t *testing.T) {
	base := Teammate{
		ID: "tm-ada", UserName: "ada@example.com", ExternalID: "ext-1",
		Name:        &TeammateName{GivenName: "Ada", FamilyName: "Lovelace", Formatted: "Ada Lovelace"},
		DisplayName: "Ada Lovelace",
		Emails:      []TeammateEmail{{Value: "ada@example.com", Type: "work", Primary: true}, {Value: "ada@home.example", Type: "home"}},
		Active:      true,
	}
	patch := func(ops string) string {
		return `{"schemas":["` + SCIMPatchOpSchema + `"],"Operations":` + ops + `}`
	}
	with := func(f func(t *Teammate)) Teammate {
		c := base.clone()
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		body string
		want Teammate
	}{
		{"replace active", patch(`[{"op":"replace","path":"active","value":false}]`),
			with(func(t *Teammate) { t.Active = false })},
		{"valueless active (Okta)", patch(`[{"op":"replace","value":{"active":false}}]`),
			with(func(t *Teammate) { t.Active = false })},
		{"Azure style: capitalised op, string boolean", patch(`[{"op":"Replace","path":"active","value":"False"}]`),
			with(func(t *Teammate) { t.Active = false })},
		{"replace displayName", patch(`[{"op":"replace","path":"displayName","value":"Countess"}]`),
			with(func(t *Teammate) { t.DisplayName = "Countess" })},
		{"qualified path", patch(`[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:displayName","value":"Q"}]`),
			with(func(t *Teammate) { t.DisplayName = "Q" })},
		{"add name.givenName", patch(`[{"op":"add","path":"name.givenName","value":"Augusta"}]`),
			with(func(t *Teammate) { t.Name.GivenName = "Augusta" })},
		{"replace name keeps unnamed parts", patch(`[{"op":"replace","path":"name","value":{"familyName":"King"}}]`),
			with(func(t *Teammate) { t.Name.FamilyName = "King" })},
		{"valueless dotted and nested keys", patch(`[{"op":"replace","value":{"name.givenName":"A","name":{"familyName":"B"},"displayName":"A B"}}]`),
			with(func(t *Teammate) { t.Name.GivenName, t.Name.FamilyName, t.DisplayName = "A", "B", "A B" })},
		{"valueless ignores what it does not keep", patch(`[{"op":"add","value":{"title":"Analyst","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Maths"},"schemas":["x"],"meta":{},"id":"tm-ada","active":false}}]`),
			with(func(t *Teammate) { t.Active = false })},
		{"add email: appended, becomes the only primary", patch(`[{"op":"add","path":"emails","value":[{"value":"ada@new.example","type":"other","primary":true}]}]`),
			with(func(t *Teammate) {
				t.Emails = []TeammateEmail{{Value: "ada@example.com", Type: "work"}, {Value: "ada@home.example", Type: "home"}, {Value: "ada@new.example", Type: "other", Primary: true}}
			})},
		{"add existing email value replaces it", patch(`[{"op":"add","path":"emails","value":{"value":"ADA@home.example","type":"personal"}}]`),
			with(func(t *Teammate) { t.Emails[1] = TeammateEmail{Value: "ADA@home.example", Type: "personal"} })},
		{"replace emails", patch(`[{"op":"replace","path":"emails","value":[{"value":"only@example.com","type":"work","primary":"true"}]}]`),
			with(func(t *Teammate) {
				t.Emails = []TeammateEmail{{Value: "only@example.com", Type: "work", Primary: true}}
			})},
		{"replace emails[type eq work].value", patch(`[{"op":"replace","path":"emails[type eq \"work\"].value","value":"ada@work.example"}]`),
			with(func(t *Teammate) { t.Emails[0].Value = "ada@work.example" })},
		{"replace emails[type eq other].value adds one (Azure)", patch(`[{"op":"replace","path":"emails[type eq \"other\"].value","value":"o@example.com"}]`),
			with(func(t *Teammate) { t.Emails = append(t.Emails, TeammateEmail{Value: "o@example.com", Type: "other"}) })},
		{"replace emails[value eq ...] with an object", patch(`[{"op":"replace","path":"emails[value eq \"ada@home.example\"]","value":{"primary":true}}]`),
			with(func(t *Teammate) { t.Emails[0].Primary, t.Emails[1].Primary = false, true })},
		{"replace emails[primary eq true].type", patch(`[{"op":"replace","path":"emails[primary eq true].type","value":"corp"}]`),
			with(func(t *Teammate) { t.Emails[0].Type = "corp" })},
		{"remove emails[type eq home]", patch(`[{"op":"remove","path":"emails[type eq \"home\"]"}]`),
			with(func(t *Teammate) { t.Emails = t.Emails[:1] })},
		{"remove emails", patch(`[{"op":"remove","path":"emails"}]`),
			with(func(t *Teammate) { t.Emails = nil })},
		{"remove displayName and name", patch(`[{"op":"remove","path":"displayName"},{"op":"remove","path":"name"}]`),
			with(func(t *Teammate) { t.DisplayName, t.Name = "", nil })},
		{"removing every name part drops name", patch(`[{"op":"remove","path":"name.givenName"},{"op":"remove","path":"name.familyName"},{"op":"replace","path":"name.formatted","value":null}]`),
			with(func(t *Teammate) { t.Name = nil })},
		{"several operations", patch(`[{"op":"replace","path":"userName","value":"countess@example.com"},{"op":"remove","path":"externalId"},{"op":"add","path":"externalId","value":"ext-2"}]`),
			with(func(t *Teammate) { t.UserName, t.ExternalID = "countess@example.com", "ext-2" })},
		{"own userName in another case", patch(`[{"op":"replace","path":"userName","value":"ADA@example.com"}]`),
			with(func(t *Teammate) { t.UserName = "ADA@example.com" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSCIMEnv(t)
			created := e.clock.Now()
			mustPut(t, e.sim, base)
			mustPut(t, e.sim, Teammate{ID: "tm-other", UserName: "other@example.com", Active: true})
			e.clock.Advance(time.Minute)
			var got Teammate
			e.scimMust(200, scimReq{method: "PATCH", path: "/scim/v2/Users/tm-ada", body: tc.body}).json(t, &got)
			want := stored(tc.want, created)
			want.Meta.LastModified = e.clock.Now()
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("PATCH answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, e.sim.Teammates()[0]); diff != "" {
				t.Errorf("stored teammate (-want +got):\n%s", diff)
			}
		})
	}

	for _, tc := range []struct {
		name, body, scimType, detail string
		status                       int
	}{
		{"no schemas", `{"Operations":[{"op":"replace","path":"active","value":false}]}`, "invalidSyntax", `schemas must contain "` + SCIMPatchOpSchema + `"`, 400},
		{"no operations", patch(`[]`), "invalidSyntax", "Operations must hold at least one operation", 400},
		{"unknown op", patch(`[{"op":"move","path":"active","value":false}]`), "invalidSyntax", `Operations[0]: op "move" is not add, replace or remove`, 400},
		{"unsupported attribute", patch(`[{"op":"replace","path":"title","value":"x"}]`), "invalidPath", `Operations[0]: path "title" names an attribute the simulator does not support`, 400},
		{"multi-valued without filter", patch(`[{"op":"replace","path":"emails.value","value":"x@example.com"}]`), "invalidPath", "", 400},
		{"filter on a single-valued attribute", patch(`[{"op":"replace","path":"name[givenName eq \"Ada\"]","value":"x"}]`), "invalidPath", "", 400},
		{"unbalanced path", patch(`[{"op":"replace","path":"emails]type[","value":"x"}]`), "invalidPath", "", 400},
		{"sub-attribute of a simple attribute", patch(`[{"op":"replace","path":"active.value","value":true}]`), "invalidPath", "", 400},
		{"bad value filter", patch(`[{"op":"replace","path":"emails[type sw \"w\"].value","value":"x"}]`), "invalidFilter", "", 400},
		{"remove without path", patch(`[{"op":"remove"}]`), "noTarget", "Operations[0]: remove needs a path", 400},
		{"remove with no match", patch(`[{"op":"remove","path":"emails[type eq \"fax\"]"}]`), "noTarget", "Operations[0]: no email matches the filter", 400},
		{"replace value filter with no match", patch(`[{"op":"replace","path":"emails[value eq \"nobody@example.com\"].type","value":"x"}]`), "noTarget", "", 400},
		{"bad active", patch(`[{"op":"replace","path":"active","value":"maybe"}]`), "invalidValue", `Operations[0]: active must be a boolean, not "maybe"`, 400},
		{"replace without value", patch(`[{"op":"replace","path":"active"}]`), "invalidSyntax", "Operations[0]: replace needs a value", 400},
		{"valueless non-object", patch(`[{"op":"replace","value":false}]`), "invalidSyntax", "", 400},
		{"remove active", patch(`[{"op":"remove","path":"active"}]`), "mutability", "", 400},
		{"remove userName", patch(`[{"op":"remove","path":"userName"}]`), "mutability", "", 400},
		{"replace id", patch(`[{"op":"replace","path":"id","value":"x"}]`), "mutability", "Operations[0]: id is read-only", 400},
		{"valueless different id", patch(`[{"op":"replace","value":{"id":"x"}}]`), "mutability", "", 400},
		{"replace meta", patch(`[{"op":"replace","path":"meta","value":{}}]`), "mutability", "", 400},
		{"empty userName", patch(`[{"op":"replace","path":"userName","value":""}]`), "invalidValue", "userName is required", 400},
		{"userName not a string", patch(`[{"op":"replace","path":"userName","value":7}]`), "invalidValue", "", 400},
		{"email without value", patch(`[{"op":"add","path":"emails","value":[{"type":"x"}]}]`), "invalidValue", "emails[2].value is required", 400},
		{"two primaries in one add", patch(`[{"op":"add","path":"emails","value":[{"value":"a@x","primary":true},{"value":"b@x","primary":true}]}]`), "invalidValue", "", 400},
		{"taken userName", patch(`[{"op":"replace","path":"userName","value":"OTHER@example.com"}]`), "uniqueness", `userName "OTHER@example.com" is already taken by teammate tm-other`, 409},
		{"all or nothing", patch(`[{"op":"replace","path":"displayName","value":"changed"},{"op":"replace","path":"active","value":1}]`), "invalidValue", "", 400},
		{"operations not a list", `{"schemas":["` + SCIMPatchOpSchema + `"],"Operations":{}}`, "invalidSyntax", "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSCIMEnv(t)
			mustPut(t, e.sim, base)
			mustPut(t, e.sim, Teammate{ID: "tm-other", UserName: "other@example.com", Active: true})
			before := e.sim.Teammates()
			e.clock.Advance(time.Minute)
			r := e.scim(scimReq{method: "PATCH", path: "/scim/v2/Users/tm-ada", body: tc.body})
			checkSCIMError(t, r, tc.status, tc.scimType, tc.detail)
			if diff := cmp.Diff(before, e.sim.Teammates()); diff != "" {
				t.Errorf("a failed PATCH changed the store (-before +after):\n%s", diff)
			}
		})
	}

	t.Run("no-op keeps lastModified", func(t *testing.T) {
		e := newSCIMEnv(t)
		mustPut(t, e.sim, base)
		before := e.sim.Teammates()
		e.clock.Advance(time.Minute)
		e.scimMust(200, scimReq{method: "PATCH", path: "/scim/v2/Users/tm-ada", body: patch(`[{"op":"replace","path":"active","value":true}]`)})
		if diff := cmp.Diff(before, e.sim.Teammates()); diff != "" {
			t.Errorf("no-op PATCH changed the teammate (-before +after):\n%s", diff)
		}
	})
}

func TestSCIMFaults(t *testing.T) {
	e := newSCIMEnv(t, WithTeammates(2), WithFaults(Faults{RateLimitRPS: 2}))
	get := scimReq{method: "GET", path: "/scim/v2/Users"}
	e.scimMust(200, get)
	e.do(req{method: "GET", path: "/v2/users", key: adminKey}) // the v2 API and SCIM share one bucket
	r := e.scim(get)
	checkSCIMError(t, r, 429, "", "rate limit exceeded")
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want \"1\"", got)
	}
	// The v2 API keeps its own error form under the same limit.
	if r := e.do(req{method: "GET", path: "/v2/users", key: adminKey}); r.Status != 429 || r.apiError(t).Code != CodeTooManyRequests {
		t.Errorf("v2 under the limit: %d %s", r.Status, r.Body)
	}
	e.clock.Advance(time.Second)
	e.scimMust(200, get)

	want := []RequestLogEntry{
		{Method: "GET", Path: "/scim/v2/Users", Status: 200},
		{Method: "GET", Path: "/v2/users", Status: 200},
		{Method: "GET", Path: "/scim/v2/Users", Status: 429},
		{Method: "GET", Path: "/v2/users", Status: 429},
		{Method: "GET", Path: "/scim/v2/Users", Status: 200},
	}
	if diff := cmp.Diff(want, e.sim.Requests()); diff != "" {
		t.Errorf("request log (-want +got):\n%s", diff)
	}

	e.sim.SetFaults(Faults{ErrorRate: 1})
	seen := map[int]bool{}
	for range 20 {
		r := e.scim(scimReq{method: "GET", path: "/scim/v2/Users/x"})
		seen[r.Status] = true
		switch r.Status {
		case 500:
			checkSCIMError(t, r, 500, "", "internal server error (injected fault)")
		case 503:
			checkSCIMError(t, r, 503, "", "service unavailable (injected fault)")
			if r.Header.Get("Retry-After") != "1" {
				t.Errorf("503 Retry-After %q", r.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("status %d under error rate 1", r.Status)
		}
	}
	if !seen[500] || !seen[503] {
		t.Errorf("statuses seen %v, want both 500 and 503", seen)
	}

	e.sim.ClearRequests()
	e.sim.SetFaults(Faults{DropRate: 1})
	hr, _ := http.NewRequest("GET", e.srv.URL+"/scim/v2/Users", nil)
	hr.Header.Set("Authorization", "Bearer "+scimToken)
	if resp, err := e.srv.Client().Do(hr); err == nil {
		resp.Body.Close()
		t.Errorf("dropped request answered %d", resp.StatusCode)
	}
	if l := waitRequests(t, e.sim, 1); !cmp.Equal(l[0], RequestLogEntry{Method: "GET", Path: "/scim/v2/Users", Status: 0}) {
		t.Errorf("dropped request logged as %+v", l[0])
	}
}
