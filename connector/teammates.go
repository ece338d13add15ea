package connector

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/conductorone/baton-fullstory/connector/scim"
	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"github.com/conductorone/baton-sdk/pkg/uhttp"
	"google.golang.org/grpc/codes"
)

// scimPageSize is what each SCIM page asks for; servers may return fewer.
const scimPageSize = 100

// teammateBuilder syncs and provisions Fullstory teammates through SCIM. It
// serves the same `user` resource type as the v2 users builder: a connector
// is configured for one source or the other.
type teammateBuilder struct {
	client *scim.Client
}

func newTeammateBuilder(client *scim.Client) *teammateBuilder {
	return &teammateBuilder{client: client}
}

func (b *teammateBuilder) ResourceType(context.Context) *v2.ResourceType {
	return userResourceType
}

// scimPageState is baton's page token in SCIM mode: where the next page starts.
type scimPageState struct {
	StartIndex int `json:"i"`
}

func decodeSCIMPageState(raw string) (scimPageState, error) {
	st := scimPageState{StartIndex: 1}
	if raw == "" {
		return st, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil || st.StartIndex < 1 {
		return scimPageState{}, fmt.Errorf("baton-fullstory: list teammates: the sync's page token is corrupt; start a new sync")
	}
	return st, nil
}

func (st scimPageState) encode() string {
	b, _ := json.Marshal(st) // a struct of one int always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// List fetches one SCIM page. The next page starts after what this page
// actually returned (a server may return fewer than asked), and the listing
// ends on an empty page or once past the total this page reports, so totals
// that change between pages neither stop it early nor loop it.
func (b *teammateBuilder) List(ctx context.Context, _ *v2.ResourceId, opts resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	st, err := decodeSCIMPageState(opts.PageToken.Token)
	if err != nil {
		return nil, nil, err
	}
	page, err := b.client.ListUsers(ctx, st.StartIndex, scimPageSize)
	if err != nil {
		return nil, nil, err
	}
	rv := make([]*v2.Resource, 0, len(page.Resources))
	seen := make(map[string]struct{}, len(page.Resources))
	for i := range page.Resources {
		u := &page.Resources[i]
		if u.ID == "" {
			return nil, nil, fmt.Errorf("baton-fullstory: list teammates: Fullstory returned a teammate without an id at index %d", st.StartIndex+i)
		}
		if _, dup := seen[u.ID]; dup {
			continue
		}
		seen[u.ID] = struct{}{}
		r, err := teammateResource(u)
		if err != nil {
			return nil, nil, err
		}
		rv = append(rv, r)
	}
	results := &resource.SyncOpResults{}
	next := st.StartIndex + len(page.Resources)
	if len(page.Resources) > 0 && next <= page.TotalResults {
		results.NextPageToken = scimPageState{StartIndex: next}.encode()
	}
	return rv, results, nil
}

func (b *teammateBuilder) Entitlements(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

func (b *teammateBuilder) Grants(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

// Get fetches one teammate for targeted sync.
func (b *teammateBuilder) Get(ctx context.Context, id *v2.ResourceId, _ *v2.ResourceId) (*v2.Resource, annotations.Annotations, error) {
	u, err := b.client.GetUser(ctx, id.GetResource())
	if err != nil {
		return nil, nil, err
	}
	r, err := teammateResource(u)
	return r, nil, err
}

// teammateName is displayName, else given and family name, else userName.
func teammateName(u *scim.User) string {
	if n := strings.TrimSpace(u.DisplayName); n != "" {
		return n
	}
	if u.Name != nil {
		if n := strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName); n != "" {
			return n
		}
		if n := strings.TrimSpace(u.Name.Formatted); n != "" {
			return n
		}
	}
	return u.UserName
}

// teammateEmail is the primary email, else the first, else the userName
// (Fullstory's SCIM userNames are email addresses).
func teammateEmail(u *scim.User) string {
	for _, e := range u.Emails {
		if e.Primary && e.Value != "" {
			return e.Value
		}
	}
	for _, e := range u.Emails {
		if e.Value != "" {
			return e.Value
		}
	}
	if strings.Contains(u.UserName, "@") {
		return u.UserName
	}
	return ""
}

// teammateResource turns a SCIM user into a baton user resource.
func teammateResource(u *scim.User) (*v2.Resource, error) {
	profile := map[string]any{"scim_id": u.ID, "user_name": u.UserName, "active": u.IsActive()}
	if u.ExternalID != "" {
		profile["external_id"] = u.ExternalID
	}
	if u.DisplayName != "" {
		profile["display_name"] = u.DisplayName
	}
	if u.Name != nil {
		if u.Name.GivenName != "" {
			profile["given_name"] = u.Name.GivenName
		}
		if u.Name.FamilyName != "" {
			profile["family_name"] = u.Name.FamilyName
		}
	}
	var traits []resource.UserTraitOption
	if email := teammateEmail(u); email != "" {
		traits = append(traits, resource.WithEmail(email, true))
		profile["email"] = email
	}
	for _, e := range u.Emails {
		if e.Value != "" && e.Value != profile["email"] {
			traits = append(traits, resource.WithEmail(e.Value, false))
		}
	}
	if u.UserName != "" {
		traits = append(traits, resource.WithUserLogin(u.UserName))
	}
	if u.IsActive() {
		traits = append(traits, resource.WithStatus(v2.UserTrait_Status_STATUS_ENABLED)) //nolint:staticcheck // keeps trait and resource status in step
	} else {
		traits = append(traits, resource.WithDetailedStatus(v2.UserTrait_Status_STATUS_DISABLED, "deactivated in Fullstory")) //nolint:staticcheck // see above
	}
	r, err := resource.NewUserResource(teammateName(u), userResourceType, u.ID, traits, resource.WithResourceProfile(profile))
	if err != nil {
		return nil, fmt.Errorf("baton-fullstory: teammate %s: %w", u.ID, err)
	}
	return r, nil
}

// teammateAccountSchema is the form ConductorOne renders for a new teammate.
func teammateAccountSchema() *v2.ConnectorAccountCreationSchema {
	return v2.ConnectorAccountCreationSchema_builder{
		FieldMap: map[string]*v2.ConnectorAccountCreationSchema_Field{
			"email":       stringField("Email", "The teammate's email address; also their SCIM userName", "jane@example.com", true, 1),
			"given_name":  stringField("Given name", "First name", "Jane", false, 2),
			"family_name": stringField("Family name", "Last name", "Doe", false, 3),
		},
	}.Build()
}

// CreateAccount creates a teammate, or returns the existing one with that
// userName, reactivating it when it was deactivated: never a duplicate.
func (b *teammateBuilder) CreateAccount(ctx context.Context, info *v2.AccountInfo, _ *v2.LocalCredentialOptions) (connectorbuilder.CreateAccountResponse, []*v2.PlaintextData, annotations.Annotations, error) {
	email, err := accountEmail(info)
	if err != nil {
		return nil, nil, nil, err
	}
	given, _ := resource.GetProfileStringValue(info.GetProfile(), "given_name")
	family, _ := resource.GetProfileStringValue(info.GetProfile(), "family_name")

	existing, err := b.client.FindByUserName(ctx, email)
	if err != nil {
		return nil, nil, nil, err
	}
	if existing == nil {
		active := true
		req := scim.User{UserName: email, Emails: []scim.Email{{Value: email, Type: "work", Primary: true}}, Active: &active}
		if given != "" || family != "" {
			req.Name = &scim.Name{GivenName: strings.TrimSpace(given), FamilyName: strings.TrimSpace(family)}
			req.DisplayName = strings.TrimSpace(given + " " + family)
		}
		created, err := b.client.CreateUser(ctx, req)
		if err == nil {
			r, err := teammateResource(created)
			if err != nil {
				return nil, nil, nil, err
			}
			return v2.CreateAccountResponse_SuccessResult_builder{Resource: r, IsCreateAccountResult: true}.Build(), nil, nil, nil
		}
		if !scim.IsConflict(err) {
			return nil, nil, nil, err
		}
		// Someone created it since the lookup: fall through to it.
		if existing, err = b.client.FindByUserName(ctx, email); err != nil {
			return nil, nil, nil, err
		}
		if existing == nil {
			return nil, nil, nil, uhttp.WrapErrors(codes.Aborted, fmt.Sprintf("baton-fullstory: create teammate: Fullstory reported %q as taken but no teammate has that userName; retry", email))
		}
	}
	if !existing.IsActive() {
		if err := b.client.SetActive(ctx, existing.ID, true); err != nil {
			return nil, nil, nil, err
		}
		active := true
		existing.Active = &active
	}
	r, err := teammateResource(existing)
	if err != nil {
		return nil, nil, nil, err
	}
	return v2.CreateAccountResponse_AlreadyExistsResult_builder{Resource: r, IsCreateAccountResult: true}.Build(), nil, nil, nil
}

func (b *teammateBuilder) CreateAccountCapabilityDetails(ctx context.Context) (*v2.CredentialDetailsAccountProvisioning, annotations.Annotations, error) {
	return noCredentials()
}

// Delete deactivates the teammate, the way Fullstory's SCIM deprovisioning
// works; an inactive or missing teammate is already done.
func (b *teammateBuilder) Delete(ctx context.Context, id *v2.ResourceId, _ *v2.ResourceId) (annotations.Annotations, error) {
	if err := checkUserType(id); err != nil {
		return nil, err
	}
	u, err := b.client.GetUser(ctx, id.GetResource())
	switch {
	case scim.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case !u.IsActive():
		return nil, nil
	}
	if err := b.client.SetActive(ctx, u.ID, false); err != nil && !scim.IsNotFound(err) {
		return nil, err
	}
	return nil, nil
}
