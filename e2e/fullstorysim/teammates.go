package fullstorysim

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// SCIMPath is the SCIM 2.0 service's prefix on the simulator (and on
// Fullstory: https://app.fullstory.com/scim/v2).
const SCIMPath = "/scim/v2"

// Teammate is a SCIM teammate (someone who logs in to Fullstory) as the
// simulator's admin dump GET /_simulator/teammates shows it.
type Teammate struct {
	ID          string          `json:"id"`
	ExternalID  string          `json:"externalId,omitempty"`
	UserName    string          `json:"userName"`
	Name        *TeammateName   `json:"name,omitempty"`
	DisplayName string          `json:"displayName,omitempty"`
	Emails      []TeammateEmail `json:"emails,omitempty"`
	Active      bool            `json:"active"`
	Meta        TeammateMeta    `json:"meta"`
}

// TeammateName is SCIM's name attribute.
type TeammateName struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	Formatted  string `json:"formatted,omitempty"`
}

// TeammateEmail is one of SCIM's emails.
type TeammateEmail struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// TeammateMeta is SCIM's meta attribute; LastModified moves on every change.
type TeammateMeta struct {
	ResourceType string    `json:"resourceType"`
	Created      time.Time `json:"created"`
	LastModified time.Time `json:"lastModified"`
	Location     string    `json:"location"`
}

// WithSCIMToken makes the SCIM service accept bearer token tok (and only the
// tokens given this way). Repeatable.
func WithSCIMToken(tok string) Option {
	return func(o *options) error {
		if tok == "" {
			return errors.New("fullstorysim: empty SCIM token")
		}
		o.scimTokens = append(o.scimTokens, tok)
		return nil
	}
}

// WithTeammates generates n teammates at start (from the seed WithUsers
// gives). The simulator's own default is 20.
func WithTeammates(n int) Option {
	return func(o *options) error { o.teammates = &n; return nil }
}

// WithSCIMMaxPageSize caps a SCIM list page at n teammates, whatever count
// the client asks for.
func WithSCIMMaxPageSize(n int) Option {
	return func(o *options) error { o.scimMaxPageSize = n; return nil }
}

// SCIMInternalURL is the SCIM base URL as other containers on the network
// reach it, e.g. the connector's BATON_SCIM_BASE_URL.
func (c *Container) SCIMInternalURL() string { return c.InternalURL() + SCIMPath }

// Teammates dumps the SCIM teammates, sorted by id.
func (c *Container) Teammates(ctx context.Context) ([]Teammate, error) {
	var out []Teammate
	err := c.admin.Do(ctx, http.MethodGet, "/_simulator/teammates", nil, &out)
	return out, err
}
