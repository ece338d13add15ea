package connector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"

	"github.com/conductorone/baton-fullstory/connector/fullstory"
	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"github.com/conductorone/baton-sdk/pkg/uhttp"
	"google.golang.org/grpc/codes"
)

// Limits Fullstory enforces on a user; checking them here gives a clearer
// error than Fullstory's 400 and sends nothing doomed.
const (
	maxUIDLen         = 256
	maxDisplayNameLen = 256
	maxEmailLen       = 128
)

// accountCreationSchema is the form ConductorOne renders for a new account.
func accountCreationSchema() *v2.ConnectorAccountCreationSchema {
	str := func(name, desc, placeholder string, required bool, order int32) *v2.ConnectorAccountCreationSchema_Field {
		return v2.ConnectorAccountCreationSchema_Field_builder{
			DisplayName: name,
			Description: desc,
			Placeholder: placeholder,
			Required:    required,
			Order:       order,
			StringField: v2.ConnectorAccountCreationSchema_StringField_builder{}.Build(),
		}.Build()
	}
	return v2.ConnectorAccountCreationSchema_builder{
		FieldMap: map[string]*v2.ConnectorAccountCreationSchema_Field{
			"login":        str("UID", "Your own id for the person; Fullstory's uid, which cannot change later", "employee-1234", true, 1),
			"email":        str("Email", "The person's email address", "jane@example.com", true, 2),
			"display_name": str("Display name", "Shown in Fullstory; defaults to the email", "Jane Doe", false, 3),
		},
	}.Build()
}

// accountRequest is a validated create-account request.
type accountRequest struct {
	uid, email, displayName string
}

// parseAccountInfo reads C1's AccountInfo: login is the uid, the primary
// email (else the first, else profile "email"), profile "display_name".
func parseAccountInfo(info *v2.AccountInfo) (accountRequest, error) {
	req := accountRequest{uid: strings.TrimSpace(info.GetLogin())}
	if req.uid == "" {
		req.uid, _ = resource.GetProfileStringValue(info.GetProfile(), "login")
		req.uid = strings.TrimSpace(req.uid)
	}
	for _, e := range info.GetEmails() {
		if e.GetIsPrimary() || req.email == "" {
			req.email = strings.TrimSpace(e.GetAddress())
		}
		if e.GetIsPrimary() {
			break
		}
	}
	if req.email == "" {
		req.email, _ = resource.GetProfileStringValue(info.GetProfile(), "email")
		req.email = strings.TrimSpace(req.email)
	}
	req.displayName, _ = resource.GetProfileStringValue(info.GetProfile(), "display_name")
	req.displayName = strings.TrimSpace(req.displayName)

	invalid := func(format string, args ...any) error {
		return uhttp.WrapErrors(codes.InvalidArgument, fmt.Sprintf("baton-fullstory: create account: "+format, args...))
	}
	switch {
	case req.uid == "":
		return req, invalid("the login (the Fullstory uid) is required")
	case len(req.uid) > maxUIDLen:
		return req, invalid("the login is %d characters; Fullstory allows at most %d", len(req.uid), maxUIDLen)
	case req.email == "":
		return req, invalid("an email address is required")
	case len(req.email) > maxEmailLen:
		return req, invalid("the email is %d characters; Fullstory allows at most %d", len(req.email), maxEmailLen)
	case len(req.displayName) > maxDisplayNameLen:
		return req, invalid("the display name is %d characters; Fullstory allows at most %d", len(req.displayName), maxDisplayNameLen)
	}
	if addr, err := mail.ParseAddress(req.email); err != nil || addr.Address != req.email {
		return req, invalid("%q is not an email address like jane@example.com", req.email)
	}
	return req, nil
}

// idempotencyKey derives the same key from the same request, so a retry of
// the same creation lands once in Fullstory.
func (r accountRequest) idempotencyKey() string {
	sum := sha256.Sum256([]byte("create-account\x00" + r.uid + "\x00" + strings.ToLower(r.email) + "\x00" + r.displayName))
	return "baton-fullstory-" + hex.EncodeToString(sum[:16])
}

// CreateAccount creates a Fullstory user for the person, or returns the
// existing one when the same person was created before. Fullstory's POST
// silently updates a user with the same uid, so the uid is looked up first:
// another person's record is never overwritten.
func (b *userBuilder) CreateAccount(ctx context.Context, info *v2.AccountInfo, _ *v2.LocalCredentialOptions) (connectorbuilder.CreateAccountResponse, []*v2.PlaintextData, annotations.Annotations, error) {
	req, err := parseAccountInfo(info)
	if err != nil {
		return nil, nil, nil, err
	}

	existing, err := b.findByUID(ctx, req.uid)
	if err != nil {
		return nil, nil, nil, err
	}
	if existing != nil {
		switch {
		case existing.IsBeingDeleted:
			return nil, nil, nil, uhttp.WrapErrors(codes.FailedPrecondition, fmt.Sprintf(
				"baton-fullstory: create account: the Fullstory user with uid %q (id %s) is being deleted; retry once the deletion has finished", req.uid, existing.ID))
		case !strings.EqualFold(existing.Email, req.email):
			return nil, nil, nil, uhttp.WrapErrors(codes.AlreadyExists, fmt.Sprintf(
				"baton-fullstory: create account: uid %q already belongs to Fullstory user %s with a different email; nothing was changed. Choose another login or fix the existing user in Fullstory", req.uid, existing.ID))
		}
		r, err := userResource(existing)
		if err != nil {
			return nil, nil, nil, err
		}
		return v2.CreateAccountResponse_AlreadyExistsResult_builder{Resource: r, IsCreateAccountResult: true}.Build(), nil, nil, nil
	}

	id, err := b.client.CreateUser(ctx, fullstory.UserRequest{UID: req.uid, Email: req.email, DisplayName: req.displayName}, req.idempotencyKey())
	if err != nil {
		return nil, nil, nil, err
	}
	created, err := b.client.GetUser(ctx, id)
	if err != nil {
		// The user exists; describe it from what was sent rather than fail.
		created = &fullstory.User{ID: id, UID: req.uid, Email: req.email, DisplayName: req.displayName}
	}
	r, err := userResource(created)
	if err != nil {
		return nil, nil, nil, err
	}
	return v2.CreateAccountResponse_SuccessResult_builder{Resource: r, IsCreateAccountResult: true}.Build(), nil, nil, nil
}

// findByUID returns the user whose uid is exactly uid, or nil.
func (b *userBuilder) findByUID(ctx context.Context, uid string) (*fullstory.User, error) {
	params := fullstory.ListUsersParams{UID: uid}
	for pages := 0; pages < 10; pages++ {
		page, err := b.client.ListUsers(ctx, params)
		if err != nil {
			return nil, err
		}
		for i := range page.Results {
			if page.Results[i].UID == uid {
				return &page.Results[i], nil
			}
		}
		if page.NextPageToken == "" || page.NextPageToken == params.PageToken {
			return nil, nil
		}
		params.PageToken = page.NextPageToken
	}
	return nil, fmt.Errorf("baton-fullstory: create account: looking up uid %q took too many pages", uid)
}

// CreateAccountCapabilityDetails says Fullstory users have no credentials.
func (b *userBuilder) CreateAccountCapabilityDetails(context.Context) (*v2.CredentialDetailsAccountProvisioning, annotations.Annotations, error) {
	return v2.CredentialDetailsAccountProvisioning_builder{
		SupportedCredentialOptions: []v2.CapabilityDetailCredentialOption{v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD},
		PreferredCredentialOption:  v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD,
	}.Build(), nil, nil
}

// Delete starts Fullstory's deletion of the user and its recorded data. A
// user already gone or already being deleted is a success, so retries are safe.
func (b *userBuilder) Delete(ctx context.Context, id *v2.ResourceId, _ *v2.ResourceId) (annotations.Annotations, error) {
	if id.GetResourceType() != userResourceType.GetId() {
		return nil, uhttp.WrapErrors(codes.InvalidArgument, fmt.Sprintf("baton-fullstory: delete: resource type %q cannot be deleted; only %q", id.GetResourceType(), userResourceType.GetId()))
	}
	u, err := b.client.GetUser(ctx, id.GetResource())
	switch {
	case fullstory.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case u.IsBeingDeleted:
		return nil, nil
	}
	if err := b.client.DeleteUser(ctx, id.GetResource()); err != nil && !fullstory.IsNotFound(err) {
		return nil, err
	}
	return nil, nil
}
