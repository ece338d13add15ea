package connector

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/conductorone/baton-fullstory/connector/fullstory"
	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
)

// maxPages stops a listing that never ends (a loop longer than recentTokens).
// At Fullstory's 100 users a page it is 100 million users.
const maxPages = 1_000_000

type userBuilder struct {
	client           *fullstory.Client
	includeAnonymous bool
	ahead            prefetcher
}

func newUserBuilder(client *fullstory.Client, includeAnonymous bool) *userBuilder {
	return &userBuilder{client: client, includeAnonymous: includeAnonymous}
}

func (b *userBuilder) ResourceType(context.Context) *v2.ResourceType {
	return userResourceType
}

// List returns one Fullstory page per call; baton drives the loop. While
// baton stores a page, the next ones are already being fetched (see
// prefetcher), so a sync waits on Fullstory and on baton's storage at the
// same time rather than in turn.
func (b *userBuilder) List(ctx context.Context, _ *v2.ResourceId, opts resource.SyncOpAttrs) ([]*v2.Resource, *resource.SyncOpResults, error) {
	token := opts.PageToken.Token
	p, ok, err := b.ahead.take(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		if token == "" {
			p, ok = b.ahead.takeFirst()
		}
		if !ok {
			p = b.listPage(ctx, token)
		}
		if p.err == nil && p.next != "" {
			b.ahead.start(ctx, p.next, b.listPage)
		}
	}
	if p.err != nil {
		return nil, nil, p.err
	}
	return p.resources, &resource.SyncOpResults{NextPageToken: p.next}, nil
}

// validate fetches the first page, as the sync's first List would, so a
// wrong or under-privileged key fails at start-up. The page is kept for
// that List (see prefetcher.keepFirst): the sync does not ask for it again.
func (b *userBuilder) validate(ctx context.Context) error {
	p := b.listPage(ctx, "")
	if p.err != nil {
		return p.err
	}
	b.ahead.keepFirst(p)
	return nil
}

// listedPage is one List answer: the resources of a page and baton's token
// for the next one, or the error that ends the listing.
type listedPage struct {
	resources []*v2.Resource
	next      string
	err       error
}

// listPage fetches the page that baton's token names and turns it into
// resources. It depends on nothing but the token (and Fullstory).
func (b *userBuilder) listPage(ctx context.Context, token string) listedPage {
	st, err := decodePageState(token)
	if err != nil {
		return listedPage{err: err}
	}
	if st.Page >= maxPages {
		return listedPage{err: fmt.Errorf("baton-fullstory: list users: more than %d pages; stopping", maxPages)}
	}
	params := fullstory.ListUsersParams{PageToken: st.Token}
	if !b.includeAnonymous {
		// Ask Fullstory for identified users only rather than filtering here.
		identified := true
		params.IsIdentified = &identified
	}
	page, err := b.client.ListUsers(ctx, params)
	if err != nil {
		return listedPage{err: err}
	}

	rv := make([]*v2.Resource, 0, len(page.Results))
	seen := make(map[string]struct{}, len(page.Results))
	for i := range page.Results {
		u := &page.Results[i]
		if u.ID == "" {
			return listedPage{err: fmt.Errorf("baton-fullstory: list users: Fullstory returned a user without an id on page %d", st.Page+1)}
		}
		if _, dup := seen[u.ID]; dup {
			continue // a page listing a user twice yields one account
		}
		seen[u.ID] = struct{}{}
		if !b.includeAnonymous && u.UID == "" {
			continue // defensive: the filter above should exclude them
		}
		r, err := userResource(u)
		if err != nil {
			return listedPage{err: err}
		}
		rv = append(rv, r)
	}

	out := listedPage{resources: rv}
	if page.NextPageToken != "" {
		next, err := st.next(page.NextPageToken, len(page.Results) == 0)
		if err != nil {
			return listedPage{err: err}
		}
		out.next = next.encode()
	}
	return out
}

func (b *userBuilder) Entitlements(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Entitlement, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

func (b *userBuilder) Grants(context.Context, *v2.Resource, resource.SyncOpAttrs) ([]*v2.Grant, *resource.SyncOpResults, error) {
	return nil, &resource.SyncOpResults{}, nil
}

// Get fetches one user for targeted sync.
func (b *userBuilder) Get(ctx context.Context, id *v2.ResourceId, _ *v2.ResourceId) (*v2.Resource, annotations.Annotations, error) {
	u, err := b.client.GetUser(ctx, id.GetResource())
	if err != nil {
		return nil, nil, err
	}
	r, err := userResource(u)
	return r, nil, err
}

// displayName falls back from the name to the email, the uid, then the id.
func displayName(u *fullstory.User) string {
	for _, s := range []string{u.DisplayName, u.Email, u.UID} {
		if s != "" {
			return s
		}
	}
	return u.ID
}

// propertiesJSON renders a user's custom properties as one compact JSON
// object (keys sorted, numbers as Fullstory wrote them) for the profile.
// One string rather than a nested struct because baton-sdk decodes every
// stored profile, 10,000 at a time, while it syncs: a nested struct costs
// about 80 allocations per user and put a 100k-user sync over its memory
// budget (bench/README.md).
func propertiesJSON(props map[string]any) (string, error) {
	b, err := json.Marshal(props)
	if err != nil {
		return "", fmt.Errorf("properties: %w", err)
	}
	return string(b), nil
}

// userResource turns a Fullstory user into a baton user resource. The
// profile holds id, uid and properties; name, email and status are in the
// user trait already.
func userResource(u *fullstory.User) (*v2.Resource, error) {
	profile := map[string]any{"id": u.ID}
	if u.UID != "" {
		profile["uid"] = u.UID
	}
	if len(u.Properties) > 0 {
		props, err := propertiesJSON(u.Properties)
		if err != nil {
			return nil, fmt.Errorf("baton-fullstory: user %s: %w", u.ID, err)
		}
		profile["properties"] = props
	}

	var traits []resource.UserTraitOption
	if u.Email != "" {
		traits = append(traits, resource.WithEmail(u.Email, true))
	}
	if u.UID != "" {
		traits = append(traits, resource.WithUserLogin(u.UID))
	}
	if u.IsBeingDeleted {
		// Setting the trait status keeps trait and resource status in step.
		traits = append(traits, resource.WithDetailedStatus(v2.UserTrait_Status_STATUS_DISABLED, "being deleted in Fullstory")) //nolint:staticcheck // see above
	} else {
		traits = append(traits, resource.WithStatus(v2.UserTrait_Status_STATUS_ENABLED)) //nolint:staticcheck // see above
	}

	r, err := resource.NewUserResource(displayName(u), userResourceType, u.ID, traits, resource.WithResourceProfile(profile))
	if err != nil {
		return nil, fmt.Errorf("baton-fullstory: user %s: %w", u.ID, err)
	}
	return r, nil
}
