package connector

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/conductorone/baton-fullstory/connector/fullstory"
	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/pagination"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
)

// listAll drives List the way baton's syncer does, returning every resource
// and the number of calls, or the first error.
func listAll(t *testing.T, b *userBuilder) ([]*v2.Resource, int, error) {
	t.Helper()
	var all []*v2.Resource
	token := ""
	for calls := 1; calls < 100; calls++ {
		rs, res, err := b.List(context.Background(), nil, resource.SyncOpAttrs{PageToken: pagination.Token{Token: token}})
		if err != nil {
			return all, calls, err
		}
		all = append(all, rs...)
		if res.NextPageToken == "" {
			return all, calls, nil
		}
		if res.NextPageToken == token {
			t.Fatalf("List returned the page token it was given")
		}
		token = res.NextPageToken
	}
	t.Fatal("List never finished")
	return nil, 0, nil
}

func page(token string, users ...string) string {
	next := ""
	if token != "" {
		next = fmt.Sprintf(`,"next_page_token":%q`, token)
	}
	return fmt.Sprintf(`{"results":[%s],"total_records":"%d"%s}`, strings.Join(users, ","), len(users), next)
}

func user(id string) string {
	return fmt.Sprintf(`{"id":%q,"uid":"uid-%s","email":"%s@example.com","is_being_deleted":false}`, id, id, id)
}

func ids(rs []*v2.Resource) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.GetId().GetResource())
	}
	return out
}

func TestListFollowsPagesAndSendsFiltersEachTime(t *testing.T) {
	c := newTestConnector(t, false,
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true", Status: 200, Body: page("A", user("1"), user("2"))},
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true&page_token=A", Status: 200, Body: page("B")},
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true&page_token=B", Status: 200, Body: page("", user("3"))},
	)
	rs, calls, err := listAll(t, newUserBuilder(c.client, false))
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if diff := cmp.Diff([]string{"1", "2", "3"}, ids(rs)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	if calls != 3 {
		t.Errorf("got %d List calls, want 3 (one per page, the empty one included)", calls)
	}
}

// TestListKeepsPropertiesExact follows a user's properties from Fullstory's
// JSON to the profile's JSON text: numbers as written, keys sorted.
func TestListKeepsPropertiesExact(t *testing.T) {
	c := newTestConnector(t, false,
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true", Status: 200, Body: page("",
			`{"id":"1","uid":"u1","is_being_deleted":false,"properties":{"plan":"pro","account":12345678901234567890,"ltv":1.50,"company":{"size":1e3}}}`)},
	)
	rs, _, err := listAll(t, newUserBuilder(c.client, false))
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	got := map[string]any{}
	for _, r := range rs {
		got = r.GetProfile().AsMap()
	}
	want := map[string]any{"id": "1", "uid": "u1",
		"properties": `{"account":12345678901234567890,"company":{"size":1e3},"ltv":1.50,"plan":"pro"}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("profile (-want +got):\n%s", diff)
	}
}

func TestListWithAnonymousUsersSendsNoFilter(t *testing.T) {
	c := newTestConnector(t, true,
		step{Method: "GET", Path: "/v2/users", Status: 200, Body: page("", user("1"), `{"id":"anon-1","is_being_deleted":false}`)},
	)
	rs, _, err := listAll(t, newUserBuilder(c.client, true))
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if diff := cmp.Diff([]string{"1", "anon-1"}, ids(rs)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestListStopsOnATokenLoop(t *testing.T) {
	c := newTestConnector(t, false,
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true", Status: 200, Body: page("A", user("1"))},
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true&page_token=A", Status: 200, Body: page("B", user("2"))},
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true&page_token=B", Status: 200, Body: page("A", user("3"))},
	)
	_, calls, err := listAll(t, newUserBuilder(c.client, false))
	if err == nil || !strings.Contains(err.Error(), `returned page token "A" twice`) {
		t.Fatalf("got %v, want a token-loop error", err)
	}
	if calls != 3 {
		t.Errorf("loop detected after %d calls, want 3", calls)
	}
}

func TestListSameTokenBackIsALoop(t *testing.T) {
	c := newTestConnector(t, false,
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true", Status: 200, Body: page("A", user("1"))},
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true&page_token=A", Status: 200, Body: page("A", user("2"))},
	)
	if _, _, err := listAll(t, newUserBuilder(c.client, false)); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("got %v, want a token-loop error", err)
	}
}

func TestListCollapsesDuplicatesAndRejectsMissingIDs(t *testing.T) {
	c := newTestConnector(t, false,
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true", Status: 200, Body: page("", user("1"), user("1"), user("2"))},
	)
	rs, _, err := listAll(t, newUserBuilder(c.client, false))
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if diff := cmp.Diff([]string{"1", "2"}, ids(rs)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}

	c = newTestConnector(t, false,
		step{Method: "GET", Path: "/v2/users", Query: "is_identified=true", Status: 200, Body: page("", `{"uid":"x","is_being_deleted":false}`)},
	)
	if _, _, err := listAll(t, newUserBuilder(c.client, false)); err == nil || !strings.Contains(err.Error(), "without an id") {
		t.Fatalf("got %v, want a missing-id error", err)
	}
}

func TestListRejectsACorruptPageToken(t *testing.T) {
	c := newTestConnector(t, false)
	_, _, err := newUserBuilder(c.client, false).List(context.Background(), nil, resource.SyncOpAttrs{PageToken: pagination.Token{Token: "not-ours"}})
	if err == nil || !strings.Contains(err.Error(), "page token is corrupt") {
		t.Fatalf("got %v, want a corrupt-token error", err)
	}
}

func TestPageStateRemembersOnlyRecentTokens(t *testing.T) {
	st := pageState{}
	var err error
	for i := 0; i < recentTokens+5; i++ {
		if st, err = st.next(fmt.Sprintf("t%d", i), false); err != nil {
			t.Fatalf("next %d: %v", i, err)
		}
	}
	if len(st.Seen) != recentTokens || st.Page != recentTokens+5 {
		t.Errorf("got %d remembered tokens at page %d, want %d at %d", len(st.Seen), st.Page, recentTokens, recentTokens+5)
	}
	back, err := decodePageState(st.encode())
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if diff := cmp.Diff(st, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestPageStateStopsEndlessEmptyPages(t *testing.T) {
	st := pageState{}
	var err error
	run := func(prefix string) {
		t.Helper()
		for i := 0; i < maxEmptyPages; i++ {
			if st, err = st.next(fmt.Sprintf("%s%d", prefix, i), true); err != nil {
				t.Fatalf("empty page %s%d: %v", prefix, i, err)
			}
		}
	}
	run("a") // a run of maxEmptyPages empty pages is accepted
	if st, err = st.next("full", false); err != nil || st.Empty != 0 {
		t.Fatalf("a page with users: state %+v, err %v; want the run reset", st, err)
	}
	run("b")
	_, err = st.next("one-too-many", true)
	if want := fmt.Sprintf("%d empty pages in a row", maxEmptyPages+1); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error containing %q", err, want)
	}
}

func TestUserResource(t *testing.T) {
	userTrait := func(login, email string, st v2.UserTrait_Status_Status, details string) *v2.UserTrait {
		b := v2.UserTrait_builder{
			Login:       login,
			Status:      v2.UserTrait_Status_builder{Status: st, Details: details}.Build(),
			AccountType: v2.UserTrait_ACCOUNT_TYPE_HUMAN,
		}
		if email != "" {
			b.Emails = []*v2.UserTrait_Email{v2.UserTrait_Email_builder{Address: email, IsPrimary: true}.Build()}
		}
		return b.Build()
	}
	type want struct {
		name    string
		trait   *v2.UserTrait
		status  v2.Status_ResourceStatus
		profile map[string]any
	}
	for _, tt := range []struct {
		name string
		in   fullstory.User
		want want
	}{
		{"full user", fullstory.User{ID: "1", UID: "u1", DisplayName: "Jane", Email: "j@x.io", Properties: map[string]any{"seats": float64(3), "plan": "pro"}},
			want{"Jane", userTrait("u1", "j@x.io", v2.UserTrait_Status_STATUS_ENABLED, ""), v2.Status_RESOURCE_STATUS_ENABLED,
				map[string]any{"id": "1", "uid": "u1", "properties": `{"plan":"pro","seats":3}`}}},
		{"name falls back to email", fullstory.User{ID: "2", UID: "u2", Email: "k@x.io"},
			want{"k@x.io", userTrait("u2", "k@x.io", v2.UserTrait_Status_STATUS_ENABLED, ""), v2.Status_RESOURCE_STATUS_ENABLED,
				map[string]any{"id": "2", "uid": "u2"}}},
		{"then uid", fullstory.User{ID: "3", UID: "u3"},
			want{"u3", userTrait("u3", "", v2.UserTrait_Status_STATUS_ENABLED, ""), v2.Status_RESOURCE_STATUS_ENABLED,
				map[string]any{"id": "3", "uid": "u3"}}},
		{"then id, disabled while being deleted", fullstory.User{ID: "4", IsBeingDeleted: true},
			want{"4", userTrait("", "", v2.UserTrait_Status_STATUS_DISABLED, "being deleted in Fullstory"), v2.Status_RESOURCE_STATUS_DISABLED,
				map[string]any{"id": "4"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := userResource(&tt.in)
			if err != nil {
				t.Fatalf("userResource: %v", err)
			}
			trait, err := resource.GetUserTrait(r)
			if err != nil {
				t.Fatalf("GetUserTrait: %v", err)
			}
			got := want{r.GetDisplayName(), trait, r.GetStatus().GetStatus(), r.GetProfile().AsMap()}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform(), cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("resource mismatch (-want +got):\n%s", diff)
			}
			if id := r.GetId(); id.GetResourceType() != "user" || id.GetResource() != tt.in.ID {
				t.Errorf("got id %v, want user/%s", id, tt.in.ID)
			}
		})
	}
}
