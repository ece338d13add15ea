package fullstorysim

import (
	"context"
	"errors"
	"net/http"

	fssim "github.com/conductorone/baton-fullstory/simulator/fullstory"
)

// SCIMPath is the SCIM 2.0 service's prefix on the simulator (and on
// Fullstory: https://app.fullstory.com/scim/v2).
const SCIMPath = fssim.SCIMPathPrefix

// SCIMUserSchema is the schema URN every teammate lists in Schemas.
const SCIMUserSchema = fssim.SCIMUserSchema

// The simulator library's SCIM types: a Teammate is someone who logs in to
// Fullstory, as the simulator's admin dump GET /_simulator/teammates shows it.
type (
	Teammate      = fssim.Teammate
	TeammateName  = fssim.TeammateName
	TeammateEmail = fssim.TeammateEmail
	TeammateMeta  = fssim.TeammateMeta
)

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
