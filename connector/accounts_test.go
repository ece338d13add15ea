package connector

import (
	"context"
	"net/http"
	"strings"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

func accountInfo(login, email, displayName string) *v2.AccountInfo {
	b := v2.AccountInfo_builder{Login: login}
	if email != "" {
		b.Emails = []*v2.AccountInfo_Email{v2.AccountInfo_Email_builder{Address: email, IsPrimary: true}.Build()}
	}
	if displayName != "" {
		b.Profile, _ = structpb.NewStruct(map[string]any{"display_name": displayName})
	}
	return b.Build()
}

const janeCreate = `{"uid":"jane-1","display_name":"Jane Doe","email":"jane@example.com"}`

func lookup(uid string, status int, body string) step {
	return step{Method: "GET", Path: "/v2/users", Query: "uid=" + uid, Status: status, Body: body}
}

func TestCreateAccountCreatesAndReturnsTheUser(t *testing.T) {
	var keys []string
	post := step{Method: "POST", Path: "/v2/users", Status: 200, Body: `{"id":"fs-9"}`,
		Check: func(t testing.TB, r *http.Request, body string) {
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			if body != janeCreate {
				t.Errorf("got body %s, want %s", body, janeCreate)
			}
		}}
	get := step{Method: "GET", Path: "/v2/users/fs-9", Status: 200, Body: `{"id":"fs-9","uid":"jane-1","display_name":"Jane Doe","email":"jane@example.com","is_being_deleted":false}`}
	c := newTestConnector(t, false,
		lookup("jane-1", 200, page("")), post, get,
		// The same request again (a C1 retry before the first landed) sends the same key.
		lookup("jane-1", 200, page("")), post, get,
	)
	b := newUserBuilder(c.client, false)
	for i := 0; i < 2; i++ {
		resp, _, _, err := b.CreateAccount(context.Background(), accountInfo("jane-1", "jane@example.com", "Jane Doe"), nil)
		if err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		success, ok := resp.(*v2.CreateAccountResponse_SuccessResult)
		if !ok || !success.GetIsCreateAccountResult() {
			t.Fatalf("got %T, want a SuccessResult", resp)
		}
		if got := success.GetResource().GetId().GetResource(); got != "fs-9" {
			t.Errorf("got resource id %q, want fs-9", got)
		}
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Errorf("got idempotency keys %q, want the same non-empty key twice", keys)
	}
}

func TestCreateAccountWhenTheUIDExists(t *testing.T) {
	existing := `{"id":"fs-1","uid":"jane-1","email":"Jane@Example.com","is_being_deleted":false}`
	t.Run("same email is already-exists", func(t *testing.T) {
		c := newTestConnector(t, false, lookup("jane-1", 200, page("", existing)))
		resp, _, _, err := newUserBuilder(c.client, false).CreateAccount(context.Background(), accountInfo("jane-1", "jane@example.com", ""), nil)
		if err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		exists, ok := resp.(*v2.CreateAccountResponse_AlreadyExistsResult)
		if !ok || exists.GetResource().GetId().GetResource() != "fs-1" || !exists.GetIsCreateAccountResult() {
			t.Fatalf("got %v, want AlreadyExistsResult for fs-1", resp)
		}
	})
	t.Run("different email is refused and nothing is sent", func(t *testing.T) {
		// No POST step: the scripted server fails the test if one arrives.
		c := newTestConnector(t, false, lookup("jane-1", 200, page("", existing)))
		_, _, _, err := newUserBuilder(c.client, false).CreateAccount(context.Background(), accountInfo("jane-1", "other@example.com", ""), nil)
		if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), "different email; nothing was changed") {
			t.Fatalf("got %v, want an AlreadyExists conflict", err)
		}
	})
	t.Run("a user being deleted is refused", func(t *testing.T) {
		c := newTestConnector(t, false, lookup("jane-1", 200, page("", `{"id":"fs-1","uid":"jane-1","email":"jane@example.com","is_being_deleted":true}`)))
		_, _, _, err := newUserBuilder(c.client, false).CreateAccount(context.Background(), accountInfo("jane-1", "jane@example.com", ""), nil)
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("got %v, want FailedPrecondition", err)
		}
	})
	t.Run("a partial uid match is not the user", func(t *testing.T) {
		c := newTestConnector(t, false,
			lookup("jane-1", 200, page("", `{"id":"fs-2","uid":"jane-10","email":"x@example.com","is_being_deleted":false}`)),
			step{Method: "POST", Path: "/v2/users", Status: 200, Body: `{"id":"fs-3"}`},
			step{Method: "GET", Path: "/v2/users/fs-3", Status: 200, Body: `{"id":"fs-3","uid":"jane-1","email":"jane@example.com","is_being_deleted":false}`},
		)
		if _, _, _, err := newUserBuilder(c.client, false).CreateAccount(context.Background(), accountInfo("jane-1", "jane@example.com", ""), nil); err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
	})
}

func TestCreateAccountRefusesBadInput(t *testing.T) {
	for _, tt := range []struct {
		name     string
		info     *v2.AccountInfo
		wantPart string
	}{
		{"missing login", accountInfo("", "jane@example.com", ""), "the login (the Fullstory uid) is required"},
		{"missing email", accountInfo("jane-1", "", ""), "an email address is required"},
		{"malformed email", accountInfo("jane-1", "not-an-email", ""), `"not-an-email" is not an email address`},
		{"email with a name", accountInfo("jane-1", "Jane <jane@example.com>", ""), "is not an email address"},
		{"uid too long", accountInfo(strings.Repeat("u", 257), "jane@example.com", ""), "at most 256"},
		{"email too long", accountInfo("jane-1", strings.Repeat("e", 120)+"@example.com", ""), "at most 128"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestConnector(t, false) // no steps: nothing may be sent
			_, _, _, err := newUserBuilder(c.client, false).CreateAccount(context.Background(), tt.info, nil)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.wantPart) {
				t.Fatalf("got %v, want InvalidArgument containing %q", err, tt.wantPart)
			}
		})
	}
}

func TestCreateAccountRidesOutARateLimitAndReportsPermission(t *testing.T) {
	c := newTestConnector(t, false,
		lookup("jane-1", 429, `{"code":"too_many_requests","message":"slow"}`),
		lookup("jane-1", 200, page("")),
		step{Method: "POST", Path: "/v2/users", Status: 429, Header: map[string]string{"Retry-After": "1"}, Body: `{"code":"too_many_requests","message":"slow"}`},
		step{Method: "POST", Path: "/v2/users", Status: 200, Body: `{"id":"fs-9"}`},
		step{Method: "GET", Path: "/v2/users/fs-9", Status: 200, Body: `{"id":"fs-9","uid":"jane-1","email":"jane@example.com","is_being_deleted":false}`},
	)
	if _, _, _, err := newUserBuilder(c.client, false).CreateAccount(context.Background(), accountInfo("jane-1", "jane@example.com", ""), nil); err != nil {
		t.Fatalf("CreateAccount after 429s: %v", err)
	}

	c = newTestConnector(t, false, lookup("jane-1", 403, `{"code":"forbidden","message":"standard key"}`))
	_, _, _, err := newUserBuilder(c.client, false).CreateAccount(context.Background(), accountInfo("jane-1", "jane@example.com", ""), nil)
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "needs Admin or Architect permission") {
		t.Fatalf("got %v, want PermissionDenied naming the permission", err)
	}
}

func TestDeleteIsSafeToRetry(t *testing.T) {
	id := v2.ResourceId_builder{ResourceType: "user", Resource: "fs-1"}.Build()
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"live user is deleted", []step{
			{Method: "GET", Path: "/v2/users/fs-1", Status: 200, Body: `{"id":"fs-1","is_being_deleted":false}`},
			{Method: "DELETE", Path: "/v2/users/fs-1", Status: 200, Body: `{}`},
		}},
		{"already gone", []step{
			{Method: "GET", Path: "/v2/users/fs-1", Status: 404, Body: `{"code":"user_not_found","message":"no"}`},
		}},
		{"already being deleted", []step{
			{Method: "GET", Path: "/v2/users/fs-1", Status: 200, Body: `{"id":"fs-1","is_being_deleted":true}`},
		}},
		{"gone between get and delete", []step{
			{Method: "GET", Path: "/v2/users/fs-1", Status: 200, Body: `{"id":"fs-1","is_being_deleted":false}`},
			{Method: "DELETE", Path: "/v2/users/fs-1", Status: 404, Body: `{"code":"user_not_found","message":"no"}`},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestConnector(t, false, tt.steps...)
			if _, err := newUserBuilder(c.client, false).Delete(context.Background(), id, nil); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		})
	}

	c := newTestConnector(t, false, step{Method: "GET", Path: "/v2/users/fs-1", Status: 403, Body: `{"code":"forbidden","message":"no"}`})
	if _, err := newUserBuilder(c.client, false).Delete(context.Background(), id, nil); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("Delete with a standard key = %v, want PermissionDenied", err)
	}
	c = newTestConnector(t, false)
	_, err := newUserBuilder(c.client, false).Delete(context.Background(), v2.ResourceId_builder{ResourceType: "group", Resource: "g"}.Build(), nil)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Delete of a group = %v, want InvalidArgument", err)
	}
}

func TestAccountCreationSchemaAndCapability(t *testing.T) {
	fields := accountCreationSchema().GetFieldMap()
	required := map[string]bool{}
	for name, f := range fields {
		required[name] = f.GetRequired()
	}
	if diff := cmp.Diff(map[string]bool{"login": true, "email": true, "display_name": false}, required); diff != "" {
		t.Errorf("schema required fields (-want +got):\n%s", diff)
	}
	details, _, _ := newUserBuilder(nil, false).CreateAccountCapabilityDetails(context.Background())
	if got := details.GetPreferredCredentialOption(); got != v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD {
		t.Errorf("got preferred credential %v, want NO_PASSWORD", got)
	}
}
