package connector

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/conductorone/baton-fullstory/connector/fullstory"
	"github.com/conductorone/baton-fullstory/connector/scim"
	"github.com/conductorone/baton-fullstory/internal/httpscript"
	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/pagination"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
)

const scimToken = "scim-test-token"

func newSCIMConnector(t *testing.T, steps ...step) *Connector {
	t.Helper()
	base := httpscript.Server(t, "Bearer "+scimToken, steps...)
	c, err := New(context.Background(), Options{
		SCIMBaseURL: base + "/scim/v2",
		SCIMToken:   scimToken,
		ClientOptions: []fullstory.ClientOption{
			fullstory.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}),
			fullstory.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }),
		},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func scimList(total, start int, users ...string) string {
	return fmt.Sprintf(`{"schemas":["%s"],"totalResults":%d,"startIndex":%d,"itemsPerPage":%d,"Resources":[%s]}`,
		scim.SchemaListResponse, total, start, len(users), strings.Join(users, ","))
}

func teammate(id string, active bool) string {
	return fmt.Sprintf(`{"id":%q,"userName":"%s@example.com","active":%t}`, id, id, active)
}

func listTeammates(t *testing.T, c *Connector) ([]*v2.Resource, error) {
	t.Helper()
	b := newTeammateBuilder(c.scim)
	var all []*v2.Resource
	token := ""
	for i := 0; i < 50; i++ {
		rs, res, err := b.List(context.Background(), nil, resource.SyncOpAttrs{PageToken: pagination.Token{Token: token}})
		if err != nil {
			return all, err
		}
		all = append(all, rs...)
		if res.NextPageToken == "" {
			return all, nil
		}
		token = res.NextPageToken
	}
	t.Fatal("listing never ended")
	return nil, nil
}

func scimPage(start int, body string) step {
	return step{Method: "GET", Path: "/scim/v2/Users", Query: fmt.Sprintf("count=100&startIndex=%d", start), Status: 200,
		Header: map[string]string{"Content-Type": "application/scim+json"}, Body: body}
}

func TestTeammatesPageByWhatWasReturned(t *testing.T) {
	// The server returns fewer than asked; the next page starts after what came back.
	c := newSCIMConnector(t,
		scimPage(1, scimList(5, 1, teammate("a", true), teammate("b", true))),
		scimPage(3, scimList(5, 3, teammate("c", true), teammate("d", true), teammate("e", true))),
	)
	rs, err := listTeammates(t, c)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, ids(rs)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestTeammatesSurviveChangingTotals(t *testing.T) {
	c := newSCIMConnector(t,
		scimPage(1, scimList(3, 1, teammate("a", true), teammate("b", true))),
		// A teammate was added meanwhile: the total grew, so keep going.
		scimPage(3, scimList(5, 3, teammate("c", true), teammate("d", true))),
		scimPage(5, scimList(5, 5, teammate("e", true))),
	)
	rs, err := listTeammates(t, c)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, ids(rs)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}

	// A teammate was removed meanwhile: an empty page ends the listing.
	c = newSCIMConnector(t,
		scimPage(1, scimList(4, 1, teammate("a", true), teammate("b", true))),
		scimPage(3, scimList(3, 3)),
	)
	if rs, err = listTeammates(t, c); err != nil || len(rs) != 2 {
		t.Fatalf("list with a shrinking total = %d resources, %v; want 2, nil", len(rs), err)
	}
}

func TestTeammatesRetryRateLimitsAndDecodeSCIMErrors(t *testing.T) {
	c := newSCIMConnector(t,
		step{Method: "GET", Path: "/scim/v2/Users", Query: "count=100&startIndex=1", Status: 429, Header: map[string]string{"Retry-After": "2"},
			Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"429","detail":"slow down"}`},
		scimPage(1, scimList(1, 1, teammate("a", true))),
	)
	if rs, err := listTeammates(t, c); err != nil || len(rs) != 1 {
		t.Fatalf("list after a 429 = %d, %v; want 1, nil", len(rs), err)
	}

	c = newSCIMConnector(t,
		step{Method: "GET", Path: "/scim/v2/Users", Query: "count=1&startIndex=1", Status: 401,
			Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"bad token"}`},
	)
	_, err := c.Validate(context.Background())
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "Fullstory rejected the SCIM token") || !strings.Contains(err.Error(), "bad token") {
		t.Fatalf("Validate with a bad token = %v", err)
	}
	if strings.Contains(err.Error(), scimToken) {
		t.Errorf("error %q contains the token", err)
	}
}

func TestTeammateResource(t *testing.T) {
	type got struct {
		Name, Login, Status string
		Emails              []string
		Profile             map[string]any
	}
	describe := func(t *testing.T, u scim.User) got {
		r, err := teammateResource(&u)
		if err != nil {
			t.Fatalf("teammateResource: %v", err)
		}
		trait, err := resource.GetUserTrait(r)
		if err != nil {
			t.Fatalf("trait: %v", err)
		}
		g := got{Name: r.GetDisplayName(), Login: trait.GetLogin(), Status: r.GetStatus().GetStatus().String(), Profile: r.GetProfile().AsMap()}
		for _, e := range trait.GetEmails() {
			g.Emails = append(g.Emails, fmt.Sprintf("%s primary=%t", e.GetAddress(), e.GetIsPrimary()))
		}
		return g
	}
	no := false
	for _, tt := range []struct {
		name string
		in   scim.User
		want got
	}{
		{"display name, several emails", scim.User{ID: "1", ExternalID: "okta-1", UserName: "ann@x.io", DisplayName: "Ann A", Name: &scim.Name{GivenName: "Ann", FamilyName: "A"},
			Emails: []scim.Email{{Value: "ann@home.io"}, {Value: "ann@x.io", Primary: true}}},
			got{"Ann A", "ann@x.io", "RESOURCE_STATUS_ENABLED", []string{"ann@x.io primary=true", "ann@home.io primary=false"},
				map[string]any{"scim_id": "1", "user_name": "ann@x.io", "active": true, "external_id": "okta-1", "display_name": "Ann A", "given_name": "Ann", "family_name": "A", "email": "ann@x.io"}}},
		{"names when no display name, first email", scim.User{ID: "2", UserName: "bob", Name: &scim.Name{GivenName: "Bob", FamilyName: "B"}, Emails: []scim.Email{{Value: "bob@x.io"}}},
			got{"Bob B", "bob", "RESOURCE_STATUS_ENABLED", []string{"bob@x.io primary=true"},
				map[string]any{"scim_id": "2", "user_name": "bob", "active": true, "given_name": "Bob", "family_name": "B", "email": "bob@x.io"}}},
		{"no emails: userName, inactive", scim.User{ID: "3", UserName: "cy@x.io", Active: &no},
			got{"cy@x.io", "cy@x.io", "RESOURCE_STATUS_DISABLED", []string{"cy@x.io primary=true"},
				map[string]any{"scim_id": "3", "user_name": "cy@x.io", "active": false, "email": "cy@x.io"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, describe(t, tt.in), protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func findStep(userName, body string) step {
	return step{Method: "GET", Path: "/scim/v2/Users", Query: "filter=" + strings.ReplaceAll(fmt.Sprintf("userName+eq+%%22%s%%22", strings.ReplaceAll(userName, "@", "%40")), " ", "+"),
		Status: 200, Body: body}
}

func TestCreateTeammate(t *testing.T) {
	info := accountInfo("", "jane@example.com", "")
	info.SetProfile(mustStruct(t, map[string]any{"given_name": "Jane", "family_name": "Doe"}))

	t.Run("new teammate is posted", func(t *testing.T) {
		c := newSCIMConnector(t,
			findStep("jane@example.com", scimList(0, 1)),
			step{Method: "POST", Path: "/scim/v2/Users", Status: 201, Body: `{"id":"t-1","userName":"jane@example.com","active":true}`,
				Check: func(t testing.TB, r *http.Request, body string) {
					want := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane@example.com","name":{"givenName":"Jane","familyName":"Doe"},"displayName":"Jane Doe","emails":[{"value":"jane@example.com","type":"work","primary":true}],"active":true}`
					if body != want {
						t.Errorf("got body %s, want %s", body, want)
					}
					if ct := r.Header.Get("Content-Type"); ct != "application/scim+json" {
						t.Errorf("got Content-Type %q", ct)
					}
				}},
		)
		resp, _, _, err := newTeammateBuilder(c.scim).CreateAccount(context.Background(), info, nil)
		if _, ok := resp.(*v2.CreateAccountResponse_SuccessResult); err != nil || !ok {
			t.Fatalf("CreateAccount = %T, %v; want SuccessResult", resp, err)
		}
	})
	t.Run("existing active teammate is returned, nothing posted", func(t *testing.T) {
		c := newSCIMConnector(t, findStep("jane@example.com", scimList(1, 1, `{"id":"t-1","userName":"Jane@Example.com","active":true}`)))
		resp, _, _, err := newTeammateBuilder(c.scim).CreateAccount(context.Background(), info, nil)
		if _, ok := resp.(*v2.CreateAccountResponse_AlreadyExistsResult); err != nil || !ok {
			t.Fatalf("CreateAccount = %T, %v; want AlreadyExistsResult", resp, err)
		}
	})
	t.Run("existing inactive teammate is reactivated", func(t *testing.T) {
		c := newSCIMConnector(t,
			findStep("jane@example.com", scimList(1, 1, `{"id":"t-1","userName":"jane@example.com","active":false}`)),
			step{Method: "PATCH", Path: "/scim/v2/Users/t-1", Status: 200, Body: `{"id":"t-1","userName":"jane@example.com","active":true}`,
				Check: func(t testing.TB, _ *http.Request, body string) {
					if want := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":true}]}`; body != want {
						t.Errorf("got body %s, want %s", body, want)
					}
				}},
		)
		resp, _, _, err := newTeammateBuilder(c.scim).CreateAccount(context.Background(), info, nil)
		exists, ok := resp.(*v2.CreateAccountResponse_AlreadyExistsResult)
		if err != nil || !ok || exists.GetResource().GetStatus().GetStatus() != v2.Status_RESOURCE_STATUS_ENABLED {
			t.Fatalf("CreateAccount = %v, %v; want an enabled AlreadyExistsResult", resp, err)
		}
	})
	t.Run("a create racing another answers the winner", func(t *testing.T) {
		c := newSCIMConnector(t,
			findStep("jane@example.com", scimList(0, 1)),
			step{Method: "POST", Path: "/scim/v2/Users", Status: 409, Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"taken"}`},
			findStep("jane@example.com", scimList(1, 1, `{"id":"t-9","userName":"jane@example.com","active":true}`)),
		)
		resp, _, _, err := newTeammateBuilder(c.scim).CreateAccount(context.Background(), info, nil)
		exists, ok := resp.(*v2.CreateAccountResponse_AlreadyExistsResult)
		if err != nil || !ok || exists.GetResource().GetId().GetResource() != "t-9" {
			t.Fatalf("CreateAccount = %v, %v; want AlreadyExists t-9", resp, err)
		}
	})
	t.Run("bad email sends nothing", func(t *testing.T) {
		c := newSCIMConnector(t)
		_, _, _, err := newTeammateBuilder(c.scim).CreateAccount(context.Background(), accountInfo("", "nope", ""), nil)
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("got %v, want InvalidArgument", err)
		}
	})
}

func TestDeactivateTeammate(t *testing.T) {
	id := v2.ResourceId_builder{ResourceType: "user", Resource: "t-1"}.Build()
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"active is deactivated", []step{
			{Method: "GET", Path: "/scim/v2/Users/t-1", Status: 200, Body: `{"id":"t-1","userName":"a@x.io","active":true}`},
			{Method: "PATCH", Path: "/scim/v2/Users/t-1", Status: 200, Body: `{"id":"t-1","userName":"a@x.io","active":false}`,
				Check: func(t testing.TB, _ *http.Request, body string) {
					if !strings.Contains(body, `"path":"active","value":false`) {
						t.Errorf("PATCH body %s does not set active false", body)
					}
				}},
		}},
		{"inactive is left alone", []step{
			{Method: "GET", Path: "/scim/v2/Users/t-1", Status: 200, Body: `{"id":"t-1","userName":"a@x.io","active":false}`},
		}},
		{"missing is done", []step{
			{Method: "GET", Path: "/scim/v2/Users/t-1", Status: 404, Body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"no"}`},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newSCIMConnector(t, tt.steps...)
			if _, err := newTeammateBuilder(c.scim).Delete(context.Background(), id, nil); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		})
	}
}
