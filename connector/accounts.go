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

// stringField is one text field of an account-creation form.
func stringField(name, desc, placeholder string, required bool, order int32) *v2.ConnectorAccountCreationSchema_Field {
	return v2.ConnectorAccountCreationSchema_Field_builder{
		DisplayName: name,
		Description: desc,
		Placeholder: placeholder,
		Required:    required,
		Order:       order,
		StringField: v2.ConnectorAccountCreationSchema_StringField_builder{}.Build(),
	}.Build()
}

// accountCreationSchema is the form ConductorOne renders for a new v2 user.
func accountCreationSchema() *v2.ConnectorAccountCreationSchema {
	return v2.ConnectorAccountCreationSchema_builder{
		FieldMap: map[string]*v2.ConnectorAccountCreationSchema_Field{
			"login":        stringField("UID", "Your own id for the person; Fullstory's uid, which cannot change later", "employee-1234", true, 1),
			"email":        stringField("Email", "The person's email address", "jane@example.com", true, 2),
			"display_name": stringField("Display name", "Shown in Fullstory; defaults to the email", "Jane Doe", false, 3),
		},
	}.Build()
}

func invalidAccount(format string, args ...any) error {
	return uhttp.WrapErrors(codes.InvalidArgument, fmt.Sprintf("baton-fullstory: create account: "+format, args...))
}

// accountEmail is C1's primary email (else the first, else profile
// "email"), checked to be a plain address within Fullstory's limit.
func accountEmail(info *v2.AccountInfo) (string, error) {
	email := ""
	for _, e := range info.GetEmails() {
		if e.GetIsPrimary() || email == "" {
			email = strings.TrimSpace(e.GetAddress())
		}
		if e.GetIsPrimary() {
			break
		}
	}
	if email == "" {
		email, _ = resource.GetProfileStringValue(info.GetProfile(), "email")
		email = strings.TrimSpace(email)
	}
	switch {
	case email == "":
		return "", invalidAccount("an email address is required")
	case len(email) > maxEmailLen:
		return "", invalidAccount("the email is %d characters; Fullstory allows at most %d", len(email), maxEmailLen)
	}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return "", invalidAccount("%q is not an email address like jane@example.com", email)
	}
	return email, nil
}

// noCredentials says Fullstory accounts are created without credentials.
func noCredentials() (*v2.CredentialDetailsAccountProvisioning, annotations.Annotations, error) {
	return v2.CredentialDetailsAccountProvisioning_builder{
		SupportedCredentialOptions: []v2.CapabilityDetailCredentialOption{v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD},
		PreferredCredentialOption:  v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD,
	}.Build(), nil, nil
}

// checkUserType refuses to delete anything but a user.
func checkUserType(id *v2.ResourceId) error {
	if id.GetResourceType() != userResourceType.GetId() {
		return uhttp.WrapErrors(codes.InvalidArgument, fmt.Sprintf("baton-fullstory: delete: resource type %q cannot be deleted; only %q", id.GetResourceType(), userResourceType.GetId()))
	}
	return nil
}

// accountRequest is a validated create-account request.
type accountRequest struct {
	uid, email, displayName string
}

// parseAccountInfo reads C1's AccountInfo: login is the uid, then the
// email (see accountEmail) and profile "display_name".
func parseAccountInfo(info *v2.AccountInfo) (accountRequest, error) {
	req := accountRequest{uid: strings.TrimSpace(info.GetLogin())}
	if req.uid == "" {
		req.uid, _ = resource.GetProfileStringValue(info.GetProfile(), "login")
		req.uid = strings.TrimSpace(req.uid)
	}
	req.displayName, _ = resource.GetProfileStringValue(info.GetProfile(), "display_name")
	req.displayName = strings.TrimSpace(req.displayName)
	switch {
	case req.uid == "":
		return req, invalidAccount("the login (the Fullstory uid) is required")
	case len(req.uid) > maxUIDLen:
		return req, invalidAccount("the login is %d characters; Fullstory allows at most %d", len(req.uid), maxUIDLen)
	case len(req.displayName) > maxDisplayNameLen:
		return req, invalidAccount("the display name is %d characters; Fullstory allows at most %d", len(req.displayName), maxDisplayNameLen)
	}
	var err error
	req.email, err = accountEmail(info)
	return req, err
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
	return noCredentials()
}

// Delete starts Fullstory's deletion of the user and its recorded data. A
// user already gone or already being deleted is a success, so retries are safe.
func (b *userBuilder) Delete(ctx context.Context, id *v2.ResourceId, _ *v2.ResourceId) (annotations.Annotations, error) {
	if err := checkUserType(id); err != nil {
		return nil, err
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
