//go:build consumer

package contracts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pact-foundation/pact-go/v2/consumer"
	"github.com/pact-foundation/pact-go/v2/matchers"

	"github.com/conductorone/baton-fullstory/connector/restclient"
	"github.com/conductorone/baton-fullstory/connector/scim"
)

// The SCIM contract: each test below is one interaction of the connector's
// SCIM client (connector/scim) with Fullstory's SCIM API, merged into
// <pact-dir>/baton-fullstory-scim-fullstory-scim.json. As in
// consumer_test.go, the real client sends the request and the test checks
// what it made of the example answer.

// newSCIMPact returns a mock SCIM provider for one interaction.
func newSCIMPact(t *testing.T) *consumer.V4HTTPMockProvider {
	t.Helper()
	p, err := consumer.NewV4Pact(consumer.MockHTTPProviderConfig{
		Consumer: scimConsumerName,
		Provider: scimProviderName,
		PactDir:  *pactDir,
		LogDir:   t.TempDir(),
		Host:     "127.0.0.1",
	})
	if err != nil {
		t.Fatalf("new pact: %v", err)
	}
	return p
}

// newSCIMClient is the connector's SCIM client with the mock server's
// address plus /scim/v2 as its base URL, as Fullstory's is. One attempt
// per call: every interaction is exactly one request.
func newSCIMClient(cfg consumer.MockServerConfig, token string) (*scim.Client, error) {
	return scim.NewClient(context.Background(), fmt.Sprintf("http://%s:%d%s", cfg.Host, cfg.Port, scimBasePath), token,
		restclient.WithRetryPolicy(restclient.RetryPolicy{MaxAttempts: 1}),
		restclient.WithSleep(func(context.Context, time.Duration) error { return nil }))
}

// scimRequest sets the headers every SCIM request carries: the bearer
// token and an Accept that puts SCIM's media type first. (Pact splits
// Accept at commas and matches each value on its own, so a regex cannot
// say "contains application/scim+json"; the list is pinned exactly.)
func scimRequest(b *consumer.V4RequestBuilder, token string) *consumer.V4RequestBuilder {
	return b.Header("Authorization", regex("Bearer "+token, reBearer)).
		Header("Accept", matchers.S(scimAccept))
}

// scimBody sets a SCIM JSON request body and its Content-Type.
func scimBody(b *consumer.V4RequestBuilder, body jsonMap) *consumer.V4RequestBuilder {
	return b.Header("Content-Type", regex("application/scim+json", reSCIMJSON)).JSONBody(body)
}

func scimResponse(b *consumer.V4ResponseBuilder) *consumer.V4ResponseBuilder {
	return b.Header("Content-Type", regex("application/scim+json", reSCIMJSON))
}

// teammateBody is the expected JSON of a teammate: types and patterns,
// with t as the example. Attributes t leaves empty are not expected.
func teammateBody(t fixtureTeammate) jsonMap {
	m := jsonMap{
		"id":       stringMatching(t.ID, reSCIMID),
		"userName": like(t.UserName),
		"active":   like(t.Active),
	}
	if t.ExternalID != "" {
		m["externalId"] = like(t.ExternalID)
	}
	if t.Name != nil {
		m["name"] = jsonMap{"givenName": like(t.Name.GivenName), "familyName": like(t.Name.FamilyName)}
	}
	if t.DisplayName != "" {
		m["displayName"] = like(t.DisplayName)
	}
	if len(t.Emails) > 0 {
		e := t.Emails[0]
		m["emails"] = eachLike(jsonMap{
			"value":   stringMatching(e.Value, reEmail),
			"type":    like(e.Type),
			"primary": like(e.Primary),
		}, 1)
	}
	return m
}

// pinnedTeammate is teammateBody with the id and active pinned: the
// teammate the provider state names, in the state it names.
func pinnedTeammate(t fixtureTeammate) jsonMap {
	m := teammateBody(t)
	m["id"] = t.ID
	m["active"] = t.Active
	return m
}

// pinnedPage is the expected Resources of a page of exactly these
// teammates: a provider that ignores startIndex, the filter or its own
// page cap answers other teammates (or more of them) and fails.
func pinnedPage(ts []fixtureTeammate) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = pinnedTeammate(t)
	}
	return out
}

// clientTeammate is what the client should decode from teammateBody(t).
func clientTeammate(t fixtureTeammate) scim.User {
	active := t.Active
	u := scim.User{ID: t.ID, ExternalID: t.ExternalID, UserName: t.UserName, DisplayName: t.DisplayName, Active: &active}
	if t.Name != nil {
		u.Name = &scim.Name{GivenName: t.Name.GivenName, FamilyName: t.Name.FamilyName}
	}
	for _, e := range t.Emails {
		u.Emails = append(u.Emails, scim.Email{Value: e.Value, Type: e.Type, Primary: e.Primary})
	}
	return u
}

func clientTeammates(ts []fixtureTeammate) []scim.User {
	out := make([]scim.User, len(ts))
	for i, t := range ts {
		out[i] = clientTeammate(t)
	}
	return out
}

// scimErrorBody is SCIM's error JSON (RFC 7644 section 3.12): the error
// schema, status as a string, scimType exactly when given, detail by type.
func scimErrorBody(status int, scimType, detail string) jsonMap {
	m := jsonMap{
		"schemas": []any{scimErrorSchema},
		"status":  strconv.Itoa(status),
		"detail":  like(detail),
	}
	if scimType != "" {
		m["scimType"] = scimType
	}
	return m
}

func teammatesParams(ts ...fixtureTeammate) map[string]any {
	list := make([]any, len(ts))
	for i, t := range ts {
		list[i] = t
	}
	return map[string]any{"teammates": list}
}

// otherTeammates share the single-teammate states with the teammate the
// state names, so a provider that ignores a filter or an id answers
// something else.
var otherTeammates = []fixtureTeammate{
	teammate("7e0a000000009001", "Other", "One", "other1@example.com"),
	teammate("7e0a000000009002", "Other", "Two", "other2@example.com"),
}

func withOthers(t ...fixtureTeammate) []fixtureTeammate {
	return append(append([]fixtureTeammate(nil), t...), otherTeammates...)
}

func listQuery(b *consumer.V4RequestBuilder, startIndex, count int) *consumer.V4RequestBuilder {
	return b.Query("startIndex", matchers.S(strconv.Itoa(startIndex))).
		Query("count", matchers.S(strconv.Itoa(count)))
}

// userNameFilter is the filter FindByUserName sends, matched exactly.
// (pact-go hands a plain query value to the FFI JSON-escaped, so the
// quotes would arrive as \"; a regex matcher travels as JSON and keeps
// them, and an anchored, quoted regex is equality.)
func userNameFilter(userName string) matchers.Matcher {
	f := fmt.Sprintf("userName eq %q", userName)
	return regex(f, "^"+regexp.QuoteMeta(f)+"$")
}

// scimErrorView is the part of *scim.APIError a contract pins.
type scimErrorView struct {
	Status     int
	SCIMType   string
	Detail     string
	RetryAfter time.Duration
}

func checkSCIMError(err error, want scimErrorView) error {
	var apiErr *scim.APIError
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("got error %v, want a *scim.APIError", err)
	}
	got := scimErrorView{Status: apiErr.Status, SCIMType: apiErr.SCIMType, Detail: apiErr.Detail, RetryAfter: apiErr.RetryAfter}
	if diff := cmp.Diff(want, got); diff != "" {
		return fmt.Errorf("SCIM error mismatch (-want +got):\n%s", diff)
	}
	return nil
}

func checkListResponse(got *scim.ListResponse, want scim.ListResponse) error {
	if diff := cmp.Diff(&want, got); diff != "" {
		return fmt.Errorf("list response mismatch (-want +got):\n%s", diff)
	}
	return nil
}

func checkTeammate(got *scim.User, want scim.User) error {
	if diff := cmp.Diff(&want, got); diff != "" {
		return fmt.Errorf("teammate mismatch (-want +got):\n%s", diff)
	}
	return nil
}

func TestSCIMListFirstPage(t *testing.T) {
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateTeammatesOnePage, teammatesParams(onePageTeammates...))).
		UponReceiving("a request for the first page of teammates (startIndex=1, count=100)").
		WithRequest(http.MethodGet, scimUsersPath, func(b *consumer.V4RequestBuilder) {
			listQuery(scimRequest(b, scimToken), 1, scimCount)
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			scimResponse(b).JSONBody(jsonMap{
				"totalResults": matchers.Integer(1),
				"startIndex":   1,
				"itemsPerPage": matchers.Integer(1),
				"Resources":    eachLike(teammateBody(onePageTeammates[0]), 1),
			})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		page, err := c.ListUsers(context.Background(), 1, scimCount)
		if err != nil {
			return err
		}
		return checkListResponse(page, scim.ListResponse{
			TotalResults: 1, StartIndex: 1, ItemsPerPage: 1,
			Resources: clientTeammates(onePageTeammates[:1]),
		})
	})
}

// cappedPage is the interaction for one page of stateTeammatesCapped.
func cappedPage(t *testing.T, description string, startIndex int, want []fixtureTeammate) {
	t.Helper()
	params := teammatesParams(cappedTeammates...)
	params["max_page_size"] = cappedPageSize
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateTeammatesCapped, params)).
		UponReceiving(description).
		WithRequest(http.MethodGet, scimUsersPath, func(b *consumer.V4RequestBuilder) {
			listQuery(scimRequest(b, scimToken), startIndex, scimCount)
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			scimResponse(b).JSONBody(jsonMap{
				"totalResults": len(cappedTeammates),
				"startIndex":   startIndex,
				"itemsPerPage": len(want),
				"Resources":    pinnedPage(want),
			})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		page, err := c.ListUsers(context.Background(), startIndex, scimCount)
		if err != nil {
			return err
		}
		return checkListResponse(page, scim.ListResponse{
			TotalResults: len(cappedTeammates), StartIndex: startIndex, ItemsPerPage: len(want),
			Resources: clientTeammates(want),
		})
	})
}

func TestSCIMListFewerThanAsked(t *testing.T) {
	cappedPage(t, "a request for the first page of teammates, answered with fewer than asked (two of 100)",
		1, cappedTeammates[0:2])
}

// The connector starts the next page after what the previous page actually
// returned: startIndex 1 + 2 teammates = 3.
func TestSCIMListNextPage(t *testing.T) {
	cappedPage(t, "a request for the next page of teammates, startIndex after the previous page's teammates",
		1+cappedPageSize, cappedTeammates[2:4])
}

func TestSCIMListLastPage(t *testing.T) {
	cappedPage(t, "a request for the last page of teammates (an inactive teammate without name or emails)",
		1+2*cappedPageSize, cappedTeammates[4:])
}

func TestSCIMFindByUserName(t *testing.T) {
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateTeammateExists, teammatesParams(withOthers(existingTeammate)...))).
		UponReceiving("a request for the teammates with userName "+existingUserName).
		WithRequest(http.MethodGet, scimUsersPath, func(b *consumer.V4RequestBuilder) {
			scimRequest(b, scimToken).Query("filter", userNameFilter(existingUserName))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			scimResponse(b).JSONBody(jsonMap{
				"totalResults": 1,
				"Resources":    pinnedPage([]fixtureTeammate{existingTeammate}),
			})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		u, err := c.FindByUserName(context.Background(), existingUserName)
		if err != nil {
			return err
		}
		if u == nil {
			return fmt.Errorf("FindByUserName(%q) found nobody", existingUserName)
		}
		return checkTeammate(u, clientTeammate(existingTeammate))
	})
}

func TestSCIMFindByUserNameNone(t *testing.T) {
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateNoTeammateNamed, teammatesParams(withOthers(existingTeammate)...))).
		UponReceiving("a request for the teammates with a userName nobody has").
		WithRequest(http.MethodGet, scimUsersPath, func(b *consumer.V4RequestBuilder) {
			scimRequest(b, scimToken).Query("filter", userNameFilter(newUserName))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			scimResponse(b).JSONBody(jsonMap{
				"totalResults": 0,
				"Resources":    []any{},
			})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		u, err := c.FindByUserName(context.Background(), newUserName)
		if err != nil {
			return err
		}
		if u != nil {
			return fmt.Errorf("FindByUserName(%q) = %+v, want nobody", newUserName, u)
		}
		return nil
	})
}

func TestSCIMGetUser(t *testing.T) {
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateTeammateExists, teammatesParams(withOthers(existingTeammate)...))).
		UponReceiving("a request for the teammate with id "+existingTeammateID).
		WithRequest(http.MethodGet, scimUsersPath+"/"+existingTeammateID, func(b *consumer.V4RequestBuilder) {
			scimRequest(b, scimToken)
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			scimResponse(b).JSONBody(pinnedTeammate(existingTeammate))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		u, err := c.GetUser(context.Background(), existingTeammateID)
		if err != nil {
			return err
		}
		return checkTeammate(u, clientTeammate(existingTeammate))
	})
}

// newTeammateRequest is the teammate the connector's account creation
// posts: userName = email, the name from the profile, one primary work
// email, active.
func newTeammateRequest(userName string) scim.User {
	active := true
	return scim.User{
		UserName:    userName,
		Name:        &scim.Name{GivenName: newGivenName, FamilyName: newFamilyName},
		DisplayName: newGivenName + " " + newFamilyName,
		Emails:      []scim.Email{{Value: userName, Type: "work", Primary: true}},
		Active:      &active,
	}
}

// createBody is the JSON of newTeammateRequest(userName): the schema and
// active pinned, the rest by type and pattern.
func createBody(userName string) jsonMap {
	return jsonMap{
		"schemas":     []any{scimUserSchema},
		"userName":    stringMatching(userName, reEmail),
		"name":        jsonMap{"givenName": like(newGivenName), "familyName": like(newFamilyName)},
		"displayName": like(newGivenName + " " + newFamilyName),
		"emails": eachLike(jsonMap{
			"value":   stringMatching(userName, reEmail),
			"type":    like("work"),
			"primary": like(true),
		}, 1),
		"active": true,
	}
}

func TestSCIMCreateUser(t *testing.T) {
	created := teammate(createdTeammateID, newGivenName, newFamilyName, newUserName)
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateNoTeammateNamed, teammatesParams(withOthers(existingTeammate)...))).
		UponReceiving("a request to create a teammate").
		WithRequest(http.MethodPost, scimUsersPath, func(b *consumer.V4RequestBuilder) {
			scimBody(scimRequest(b, scimToken), createBody(newUserName))
		}).
		WillRespondWith(http.StatusCreated, func(b *consumer.V4ResponseBuilder) {
			// The provider picks the id; the teammate is the one asked for.
			body := teammateBody(created)
			body["userName"] = newUserName
			body["active"] = true
			scimResponse(b).JSONBody(body)
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		u, err := c.CreateUser(context.Background(), newTeammateRequest(newUserName))
		if err != nil {
			return err
		}
		return checkTeammate(u, clientTeammate(created))
	})
}

func TestSCIMCreateDuplicate(t *testing.T) {
	const detail = `userName "ada@example.com" is already taken`
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateTeammateExists, teammatesParams(withOthers(existingTeammate)...))).
		UponReceiving("a request to create a teammate whose userName is taken").
		WithRequest(http.MethodPost, scimUsersPath, func(b *consumer.V4RequestBuilder) {
			scimBody(scimRequest(b, scimToken), createBody(existingUserName))
		}).
		WillRespondWith(http.StatusConflict, func(b *consumer.V4ResponseBuilder) {
			scimResponse(b).JSONBody(scimErrorBody(http.StatusConflict, "uniqueness", detail))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		_, err = c.CreateUser(context.Background(), newTeammateRequest(existingUserName))
		if !scim.IsConflict(err) {
			return fmt.Errorf("got error %v, want a 409", err)
		}
		return checkSCIMError(err, scimErrorView{Status: http.StatusConflict, SCIMType: "uniqueness", Detail: detail})
	})
}

// patchActive is the PATCH body SetActive sends.
func patchActive(active bool) jsonMap {
	return jsonMap{
		"schemas":    []any{scimPatchOpSchema},
		"Operations": []any{jsonMap{"op": "replace", "path": "active", "value": active}},
	}
}

// setActive is the interaction of SetActive(id, active) on the teammate
// the state names; the answer (which the client does not read) pins the
// teammate's new active value, so a provider that ignored the PATCH fails.
func setActive(t *testing.T, state string, tm fixtureTeammate, active bool, description string) {
	t.Helper()
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(state, teammatesParams(withOthers(tm)...))).
		UponReceiving(description).
		WithRequest(http.MethodPatch, scimUsersPath+"/"+tm.ID, func(b *consumer.V4RequestBuilder) {
			scimBody(scimRequest(b, scimToken), patchActive(active))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			want := tm
			want.Active = active
			scimResponse(b).JSONBody(pinnedTeammate(want))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		return c.SetActive(context.Background(), tm.ID, active)
	})
}

func TestSCIMDeactivate(t *testing.T) {
	setActive(t, stateTeammateExists, existingTeammate, false,
		"a request to deactivate the teammate with id "+existingTeammateID+" (PATCH active false)")
}

func TestSCIMReactivate(t *testing.T) {
	setActive(t, stateTeammateInactive, inactiveTeammate, true,
		"a request to reactivate the teammate with id "+inactiveTeammateID+" (PATCH active true)")
}

func TestSCIMGetMissing(t *testing.T) {
	const detail = "teammate not found"
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateNoTeammateWithID, teammatesParams(withOthers(existingTeammate)...))).
		UponReceiving("a request for a teammate that does not exist").
		WithRequest(http.MethodGet, scimUsersPath+"/"+missingTeammateID, func(b *consumer.V4RequestBuilder) {
			scimRequest(b, scimToken)
		}).
		WillRespondWith(http.StatusNotFound, func(b *consumer.V4ResponseBuilder) {
			scimResponse(b).JSONBody(scimErrorBody(http.StatusNotFound, "", detail))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		_, err = c.GetUser(context.Background(), missingTeammateID)
		if !scim.IsNotFound(err) {
			return fmt.Errorf("got error %v, want a 404", err)
		}
		return checkSCIMError(err, scimErrorView{Status: http.StatusNotFound, Detail: detail})
	})
}

func TestSCIMDeactivateMissing(t *testing.T) {
	const detail = "teammate not found"
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateNoTeammateWithID, teammatesParams(withOthers(existingTeammate)...))).
		UponReceiving("a request to deactivate a teammate that does not exist").
		WithRequest(http.MethodPatch, scimUsersPath+"/"+missingTeammateID, func(b *consumer.V4RequestBuilder) {
			scimBody(scimRequest(b, scimToken), patchActive(false))
		}).
		WillRespondWith(http.StatusNotFound, func(b *consumer.V4ResponseBuilder) {
			scimResponse(b).JSONBody(scimErrorBody(http.StatusNotFound, "", detail))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		err = c.SetActive(context.Background(), missingTeammateID, false)
		if !scim.IsNotFound(err) {
			return fmt.Errorf("got error %v, want a 404", err)
		}
		return checkSCIMError(err, scimErrorView{Status: http.StatusNotFound, Detail: detail})
	})
}

// TestSCIMUnauthorized is the connector's Validate in SCIM mode: one
// teammate, with a token Fullstory does not know.
func TestSCIMUnauthorized(t *testing.T) {
	const detail = "invalid SCIM token"
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateSCIMTokenRevoked, teammatesParams(existingTeammate))).
		UponReceiving("a request with a SCIM token that is not valid").
		WithRequest(http.MethodGet, scimUsersPath, func(b *consumer.V4RequestBuilder) {
			listQuery(scimRequest(b, revokedSCIMToken), 1, 1)
		}).
		WillRespondWith(http.StatusUnauthorized, func(b *consumer.V4ResponseBuilder) {
			scimResponse(b).JSONBody(scimErrorBody(http.StatusUnauthorized, "", detail))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, revokedSCIMToken)
		if err != nil {
			return err
		}
		_, err = c.ListUsers(context.Background(), 1, 1)
		return checkSCIMError(err, scimErrorView{Status: http.StatusUnauthorized, Detail: detail})
	})
}

func TestSCIMRateLimited(t *testing.T) {
	const detail = "rate limit exceeded"
	i := newSCIMPact(t).AddInteraction().
		GivenWithParameter(given(stateSCIMRateLimited, teammatesParams(existingTeammate))).
		UponReceiving("a request for teammates over the rate limit, answered 429 with Retry-After").
		WithRequest(http.MethodGet, scimUsersPath, func(b *consumer.V4RequestBuilder) {
			listQuery(scimRequest(b, scimToken), 1, scimCount)
		}).
		WillRespondWith(http.StatusTooManyRequests, func(b *consumer.V4ResponseBuilder) {
			scimResponse(b).
				Header("Retry-After", regex("1", reRetryAfter)).
				JSONBody(scimErrorBody(http.StatusTooManyRequests, "", detail))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newSCIMClient(cfg, scimToken)
		if err != nil {
			return err
		}
		_, err = c.ListUsers(context.Background(), 1, scimCount)
		return checkSCIMError(err, scimErrorView{Status: http.StatusTooManyRequests, Detail: detail, RetryAfter: time.Second})
	})
}
