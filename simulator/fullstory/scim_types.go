package fullstory

import (
	"slices"
	"time"
)

// SCIM constants: the service's path prefix and the schema URNs of
// RFC 7643/7644 it speaks.
const (
	SCIMPathPrefix                  = "/scim/v2"
	SCIMUserSchema                  = "urn:ietf:params:scim:schemas:core:2.0:User"
	SCIMListResponseSchema          = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SCIMPatchOpSchema               = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SCIMErrorSchema                 = "urn:ietf:params:scim:api:messages:2.0:Error"
	SCIMServiceProviderConfigSchema = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	// SCIMContentType is the media type of every SCIM answer.
	SCIMContentType = "application/scim+json"
	// SCIMLocationPrefix is the prefix of every teammate's meta.location
	// (the id follows). It names Fullstory's public SCIM base, not the
	// simulator's address: clients address teammates by id under their
	// configured base URL.
	SCIMLocationPrefix = "https://app.fullstory.com" + SCIMPathPrefix + "/Users/"
)

// Teammate is a person who logs in to Fullstory, as a SCIM 2.0 User
// (RFC 7643 section 4.1) in the JSON form the SCIM API answers.
type Teammate struct {
	// Schemas is always [SCIMUserSchema] on teammates the simulator
	// returns; PutTeammate ignores it.
	Schemas     []string        `json:"schemas"`
	ID          string          `json:"id"`
	ExternalID  string          `json:"externalId,omitempty"`
	UserName    string          `json:"userName"`
	Name        *TeammateName   `json:"name,omitempty"`
	DisplayName string          `json:"displayName,omitempty"`
	Emails      []TeammateEmail `json:"emails,omitempty"`
	Active      bool            `json:"active"`
	Meta        TeammateMeta    `json:"meta"`
}

// TeammateName is the SCIM "name" complex attribute.
type TeammateName struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	Formatted  string `json:"formatted,omitempty"`
}

// TeammateEmail is one value of the SCIM "emails" attribute.
type TeammateEmail struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// TeammateMeta is the SCIM "meta" attribute. ResourceType is always
// "User" and Location is SCIMLocationPrefix + id.
type TeammateMeta struct {
	ResourceType string    `json:"resourceType"`
	Created      time.Time `json:"created"`
	LastModified time.Time `json:"lastModified"`
	Location     string    `json:"location"`
}

// clone returns a deep copy of t.
func (t Teammate) clone() Teammate {
	t.Schemas = slices.Clone(t.Schemas)
	if t.Name != nil {
		n := *t.Name
		t.Name = &n
	}
	t.Emails = slices.Clone(t.Emails)
	return t
}

// sameContent reports whether a and b differ only in meta and schemas.
func (t Teammate) sameContent(o Teammate) bool {
	if t.ID != o.ID || t.ExternalID != o.ExternalID || t.UserName != o.UserName ||
		t.DisplayName != o.DisplayName || t.Active != o.Active || !slices.Equal(t.Emails, o.Emails) {
		return false
	}
	if (t.Name == nil) != (o.Name == nil) {
		return false
	}
	return t.Name == nil || *t.Name == *o.Name
}
