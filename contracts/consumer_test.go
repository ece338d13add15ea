//go:build consumer

package contracts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pact-foundation/pact-go/v2/consumer"
	"github.com/pact-foundation/pact-go/v2/matchers"
	"github.com/pact-foundation/pact-go/v2/models"

	"github.com/conductorone/baton-fullstory/connector/fullstory"
)

// Each test below is one interaction: the real connector/fullstory client
// sends one request to Pact's mock server, which checks it against the
// expected request and answers the example response; the test then checks
// what the client made of the answer. A passing test merges its interaction
// into <pact-dir>/baton-fullstory-fullstory.json.

var (
	like      = matchers.Like
	regex     = matchers.Regex
	eachLike  = matchers.EachLike
	fromState = matchers.FromProviderState
)

type jsonMap = map[string]any

// newPact returns a mock provider for one interaction.
func newPact(t *testing.T) *consumer.V4HTTPMockProvider {
	t.Helper()
	p, err := consumer.NewV4Pact(consumer.MockHTTPProviderConfig{
		Consumer: consumerName,
		Provider: providerName,
		PactDir:  *pactDir,
		LogDir:   t.TempDir(),
		Host:     "127.0.0.1",
	})
	if err != nil {
		t.Fatalf("new pact: %v", err)
	}
	return p
}

// newClient is the connector's client pointed at the mock server. One
// attempt per call: every interaction is exactly one request.
func newClient(cfg consumer.MockServerConfig, apiKey string) (*fullstory.Client, error) {
	return fullstory.NewClient(context.Background(), fmt.Sprintf("http://%s:%d", cfg.Host, cfg.Port), apiKey,
		fullstory.WithRetryPolicy(fullstory.RetryPolicy{MaxAttempts: 1}),
		fullstory.WithSleep(func(context.Context, time.Duration) error { return nil }))
}

// stringMatching is a JSON string matching re. Pact's regex matcher alone
// also accepts a number whose digits match (it compares the text), so it
// is combined with a type matcher: "5" passes, 5 does not. pact-go's
// Matcher interface is sealed, so this is the FFI's integration JSON.
func stringMatching(example, re string) map[string]any {
	return map[string]any{
		"pact:matcher:type": []any{
			map[string]any{"pact:matcher:type": "type"},
			map[string]any{"pact:matcher:type": "regex", "regex": re},
		},
		"value": example,
	}
}

// given adds a provider state with its parameters. pact-go hands each
// top-level value to the FFI as text that is parsed as JSON when it can be,
// so a top-level "1000000000000000042" would turn into a (rounded) number:
// keep strings inside objects.
func given(name string, params map[string]any) models.ProviderState {
	return models.ProviderState{Name: name, Parameters: params}
}

func authorization(key string) matchers.Matcher {
	return regex("Basic "+key, reAuthorization)
}

// userBody is the expected JSON of a user: types and patterns, with u as
// the example. Fields u leaves empty are not expected (anonymous users have
// no uid, name or email).
func userBody(u fixtureUser) jsonMap {
	m := jsonMap{
		"id":               stringMatching(u.ID, reUserID),
		"is_being_deleted": like(false),
	}
	if u.UID != "" {
		m["uid"] = like(u.UID)
	}
	if u.DisplayName != "" {
		m["display_name"] = like(u.DisplayName)
	}
	if u.Email != "" {
		m["email"] = stringMatching(u.Email, reEmail)
	}
	if len(u.Properties) > 0 {
		m["properties"] = like(u.Properties)
	}
	return m
}

// exactPage is the expected results of a page that continues from a page
// token: exactly these users, by id, each shaped like userBody. The state
// names the users and the page size, and the simulator pages in id order,
// so a page token the provider ignored (or a client sending it under
// another name) returns other users and fails verification. Pact cannot
// say "no next_page_token"; pinning the page is what catches it.
func exactPage(users []fixtureUser) []any {
	out := make([]any, len(users))
	for i, u := range users {
		m := userBody(u)
		m["id"] = u.ID // equality
		out[i] = m
	}
	return out
}

func clientUsers(users []fixtureUser) []fullstory.User {
	out := make([]fullstory.User, len(users))
	for i, u := range users {
		out[i] = clientUser(u)
	}
	return out
}

// clientUser is what the client should decode from userBody(u).
func clientUser(u fixtureUser) fullstory.User {
	return fullstory.User{ID: u.ID, UID: u.UID, DisplayName: u.DisplayName, Email: u.Email, Properties: u.Properties}
}

// errorBody is Fullstory's error JSON with an exact code.
func errorBody(code, message string) jsonMap {
	return jsonMap{"code": code, "message": like(message)}
}

func jsonResponse(b *consumer.V4ResponseBuilder) *consumer.V4ResponseBuilder {
	return b.Header("Content-Type", regex("application/json", reJSON))
}

func pagedParams() map[string]any {
	users := make([]any, len(pagedUsers))
	for i, u := range pagedUsers {
		users[i] = u
	}
	return map[string]any{"page_size": pagedPageSize, "users": users}
}

func userParams(u fixtureUser) map[string]any { return map[string]any{"user": u} }

// apiErrorView is the part of *fullstory.APIError a contract pins.
type apiErrorView struct {
	Status     int
	Code       string
	RetryAfter time.Duration
}

func asAPIError(err error) (apiErrorView, error) {
	var apiErr *fullstory.APIError
	if !errors.As(err, &apiErr) {
		return apiErrorView{}, fmt.Errorf("got error %v, want a *fullstory.APIError", err)
	}
	return apiErrorView{Status: apiErr.Status, Code: apiErr.Code, RetryAfter: apiErr.RetryAfter}, nil
}

// checkAPIError compares the error a call returned with want.
func checkAPIError(err error, want apiErrorView) error {
	got, convErr := asAPIError(err)
	if convErr != nil {
		return convErr
	}
	if diff := cmp.Diff(want, got); diff != "" {
		return fmt.Errorf("API error mismatch (-want +got):\n%s", diff)
	}
	return nil
}

func checkPage(got *fullstory.ListUsersPage, want fullstory.ListUsersPage) error {
	if diff := cmp.Diff(&want, got); diff != "" {
		return fmt.Errorf("page mismatch (-want +got):\n%s", diff)
	}
	return nil
}

// run executes the interaction. The client's error is kept apart from the
// mock server's verdict: pact-go reports the mismatches of the request
// (which header, query parameter or body field differed) only when the
// test function itself succeeds.
func run(t *testing.T, i *consumer.V4InteractionWithResponse, test func(consumer.MockServerConfig) error) {
	t.Helper()
	var clientErr error
	if err := i.ExecuteTest(t, func(cfg consumer.MockServerConfig) error {
		clientErr = test(cfg)
		return nil
	}); err != nil {
		t.Errorf("the request did not match the contract: %v", err)
	}
	if clientErr != nil {
		t.Errorf("the client's result: %v", clientErr)
	}
}

func TestListUsersFirstPage(t *testing.T) {
	i := newPact(t).AddInteraction().
		GivenWithParameter(given(stateUsersSpanPages, pagedParams())).
		UponReceiving("a request for the first page of users").
		WithRequest(http.MethodGet, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(jsonMap{
				"results":         eachLike(userBody(pagedUsers[0]), 1),
				"total_records":   stringMatching("5", reTotalRecords),
				"next_page_token": like("first-page-token-example"),
			})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		page, err := c.ListUsers(context.Background(), fullstory.ListUsersParams{})
		if err != nil {
			return err
		}
		return checkPage(page, fullstory.ListUsersPage{
			Results:       []fullstory.User{clientUser(pagedUsers[0])},
			TotalRecords:  5,
			NextPageToken: "first-page-token-example",
		})
	})
}

func TestListUsersNextPage(t *testing.T) {
	const token = "first-page-token-example"
	i := newPact(t).AddInteraction().
		GivenWithParameter(given(stateUsersSpanPages, pagedParams())).
		UponReceiving("a request for the next page of users with a page token").
		WithRequest(http.MethodGet, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey)).
				Query("page_token", fromState("${"+valueFirstPageToken+"}", token))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(jsonMap{
				"results":         exactPage(pagedUsers[2:4]),
				"total_records":   stringMatching("5", reTotalRecords),
				"next_page_token": like("second-page-token-example"),
			})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		page, err := c.ListUsers(context.Background(), fullstory.ListUsersParams{PageToken: token})
		if err != nil {
			return err
		}
		return checkPage(page, fullstory.ListUsersPage{
			Results:       clientUsers(pagedUsers[2:4]),
			TotalRecords:  5,
			NextPageToken: "second-page-token-example",
		})
	})
}

func TestListUsersLastPage(t *testing.T) {
	const token = "second-page-token-example"
	i := newPact(t).AddInteraction().
		GivenWithParameter(given(stateUsersSpanPages, pagedParams())).
		UponReceiving("a request for the last page of users (no next_page_token)").
		WithRequest(http.MethodGet, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey)).
				Query("page_token", fromState("${"+valueSecondPageToken+"}", token))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			// The last page holds the anonymous user: an id, no uid.
			jsonResponse(b).JSONBody(jsonMap{
				"results":       exactPage(pagedUsers[4:]),
				"total_records": stringMatching("5", reTotalRecords),
			})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		page, err := c.ListUsers(context.Background(), fullstory.ListUsersParams{PageToken: token})
		if err != nil {
			return err
		}
		return checkPage(page, fullstory.ListUsersPage{
			Results:      clientUsers(pagedUsers[4:]),
			TotalRecords: 5,
		})
	})
}

func TestListIdentifiedUsers(t *testing.T) {
	i := newPact(t).AddInteraction().
		GivenWithParameter(given(stateUsersSpanPages, pagedParams())).
		UponReceiving("a request for the first page of identified users").
		WithRequest(http.MethodGet, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey)).
				Query("is_identified", matchers.S("true"))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(jsonMap{
				"results":         eachLike(userBody(pagedUsers[0]), 1),
				"total_records":   stringMatching("4", reTotalRecords),
				"next_page_token": like("identified-page-token-example"),
			})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		identified := true
		page, err := c.ListUsers(context.Background(), fullstory.ListUsersParams{IsIdentified: &identified})
		if err != nil {
			return err
		}
		return checkPage(page, fullstory.ListUsersPage{
			Results:       []fullstory.User{clientUser(pagedUsers[0])},
			TotalRecords:  4,
			NextPageToken: "identified-page-token-example",
		})
	})
}

func TestListIdentifiedUsersNextPage(t *testing.T) {
	const token = "identified-page-token-example"
	i := newPact(t).AddInteraction().
		GivenWithParameter(given(stateUsersSpanPages, pagedParams())).
		UponReceiving("a request for the next page of identified users, filter repeated with the page token").
		WithRequest(http.MethodGet, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey)).
				Query("is_identified", matchers.S("true")).
				Query("page_token", fromState("${"+valueIdentifiedPageToken+"}", token))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(jsonMap{
				"results":       exactPage(pagedUsers[2:4]),
				"total_records": stringMatching("4", reTotalRecords),
			})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		identified := true
		page, err := c.ListUsers(context.Background(), fullstory.ListUsersParams{IsIdentified: &identified, PageToken: token})
		if err != nil {
			return err
		}
		return checkPage(page, fullstory.ListUsersPage{
			Results:      clientUsers(pagedUsers[2:4]),
			TotalRecords: 4,
		})
	})
}

func TestListUsersByUID(t *testing.T) {
	i := newPact(t).AddInteraction().
		GivenWithParameter(given(stateUserExists, userParams(existingUser))).
		UponReceiving("a request for the users with uid "+existingUID).
		WithRequest(http.MethodGet, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey)).
				Query("uid", matchers.S(existingUID))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(jsonMap{
				"results":       eachLike(userBody(existingUser), 1),
				"total_records": stringMatching("1", reTotalRecords),
			})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		page, err := c.ListUsers(context.Background(), fullstory.ListUsersParams{UID: existingUID})
		if err != nil {
			return err
		}
		return checkPage(page, fullstory.ListUsersPage{
			Results:      []fullstory.User{clientUser(existingUser)},
			TotalRecords: 1,
		})
	})
}

func TestGetUser(t *testing.T) {
	i := newPact(t).AddInteraction().
		GivenWithParameter(given(stateUserExists, userParams(existingUser))).
		UponReceiving("a request for the user with id "+existingID).
		WithRequest(http.MethodGet, "/v2/users/"+existingID, func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(userBody(existingUser))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		u, err := c.GetUser(context.Background(), existingID)
		if err != nil {
			return err
		}
		want := clientUser(existingUser)
		if diff := cmp.Diff(&want, u); diff != "" {
			return fmt.Errorf("user mismatch (-want +got):\n%s", diff)
		}
		return nil
	})
}

// newUserRequest is the body the connector sends to create an account.
var newUserRequest = fullstory.UserRequest{UID: newUID, DisplayName: newDisplayName, Email: newEmail}

func TestCreateUser(t *testing.T) {
	i := newPact(t).AddInteraction().
		Given(stateNoUserWithUID).
		UponReceiving("a request to create a user").
		WithRequest(http.MethodPost, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey)).
				Header("Content-Type", regex("application/json", reJSON)).
				Header("Idempotency-Key", regex(createKey, reIdempotencyKey)).
				JSONBody(jsonMap{
					"uid":          like(newUID),
					"display_name": like(newDisplayName),
					"email":        stringMatching(newEmail, reEmail),
				})
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(jsonMap{"id": stringMatching(createdID, reUserID)})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		id, err := c.CreateUser(context.Background(), newUserRequest, createKey)
		if err != nil {
			return err
		}
		if id != createdID {
			return fmt.Errorf("got id %q, want %q", id, createdID)
		}
		return nil
	})
}

func TestCreateUserReplayed(t *testing.T) {
	// The body must be the one first sent with the key, so it is exact.
	body := jsonMap{"uid": newUID, "display_name": newDisplayName, "email": newEmail}
	i := newPact(t).AddInteraction().
		GivenWithParameter(given(stateCreateAnswered, map[string]any{
			"request": map[string]any{
				"idempotency_key": replayCreateKey,
				"body":            map[string]any{"uid": newUID, "display_name": newDisplayName, "email": newEmail},
			},
			"answer": map[string]any{"id": createdID},
		})).
		UponReceiving("a create replayed with the same Idempotency-Key, answered with the first answer").
		WithRequest(http.MethodPost, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey)).
				Header("Content-Type", regex("application/json", reJSON)).
				Header("Idempotency-Key", matchers.S(replayCreateKey)).
				JSONBody(body)
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			// Exactly the first answer's id: a provider that created the
			// user again would answer another id.
			jsonResponse(b).JSONBody(jsonMap{"id": createdID})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		id, err := c.CreateUser(context.Background(), newUserRequest, replayCreateKey)
		if err != nil {
			return err
		}
		if id != createdID {
			return fmt.Errorf("got id %q, want %q", id, createdID)
		}
		return nil
	})
}

func TestUpdateUser(t *testing.T) {
	i := newPact(t).AddInteraction().
		GivenWithParameter(given(stateUserExists, userParams(existingUser))).
		UponReceiving("a request to update the user with id "+existingID).
		WithRequest(http.MethodPost, "/v2/users/"+existingID, func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey)).
				Header("Content-Type", regex("application/json", reJSON)).
				Header("Idempotency-Key", regex(updateKey, reIdempotencyKey)).
				JSONBody(jsonMap{
					"display_name": like("Ada King"),
					"email":        stringMatching("ada.king@example.com", reEmail),
				})
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(jsonMap{"id": stringMatching(existingID, reUserID)})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		id, err := c.UpdateUser(context.Background(), existingID,
			fullstory.UserRequest{DisplayName: "Ada King", Email: "ada.king@example.com"}, updateKey)
		if err != nil {
			return err
		}
		if id != existingID {
			return fmt.Errorf("got id %q, want %q", id, existingID)
		}
		return nil
	})
}

func TestDeleteUser(t *testing.T) {
	i := newPact(t).AddInteraction().
		GivenWithParameter(given(stateUserExists, userParams(existingUser))).
		UponReceiving("a request to delete the user with id "+existingID).
		WithRequest(http.MethodDelete, "/v2/users/"+existingID, func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey))
		}).
		WillRespondWith(http.StatusOK, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(jsonMap{})
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		return c.DeleteUser(context.Background(), existingID)
	})
}

func TestDeleteMissingUser(t *testing.T) {
	i := newPact(t).AddInteraction().
		Given(stateNoUserWithID).
		UponReceiving("a request to delete a user that does not exist").
		WithRequest(http.MethodDelete, "/v2/users/"+missingID, func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey))
		}).
		WillRespondWith(http.StatusNotFound, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(errorBody(fullstory.CodeUserNotFound, "user not found"))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		err = c.DeleteUser(context.Background(), missingID)
		if !fullstory.IsNotFound(err) {
			return fmt.Errorf("got error %v, want a 404", err)
		}
		return checkAPIError(err, apiErrorView{Status: http.StatusNotFound, Code: fullstory.CodeUserNotFound})
	})
}

func TestGetMissingUser(t *testing.T) {
	i := newPact(t).AddInteraction().
		Given(stateNoUserWithID).
		UponReceiving("a request for a user that does not exist").
		WithRequest(http.MethodGet, "/v2/users/"+missingID, func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey))
		}).
		WillRespondWith(http.StatusNotFound, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(errorBody(fullstory.CodeUserNotFound, "user not found"))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		_, err = c.GetUser(context.Background(), missingID)
		return checkAPIError(err, apiErrorView{Status: http.StatusNotFound, Code: fullstory.CodeUserNotFound})
	})
}

func TestUnauthorized(t *testing.T) {
	i := newPact(t).AddInteraction().
		Given(stateRevokedKey).
		UponReceiving("a request with an API key that is not valid").
		WithRequest(http.MethodGet, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(revokedKey))
		}).
		WillRespondWith(http.StatusUnauthorized, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(errorBody(fullstory.CodeUnauthorized, "invalid API key"))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, revokedKey)
		if err != nil {
			return err
		}
		_, err = c.ListUsers(context.Background(), fullstory.ListUsersParams{})
		return checkAPIError(err, apiErrorView{Status: http.StatusUnauthorized, Code: fullstory.CodeUnauthorized})
	})
}

func TestForbidden(t *testing.T) {
	i := newPact(t).AddInteraction().
		Given(stateStandardKey).
		UponReceiving("a request to list users with a standard API key").
		WithRequest(http.MethodGet, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(standardKey))
		}).
		WillRespondWith(http.StatusForbidden, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(errorBody(fullstory.CodeForbidden, "the standard role may not list users"))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, standardKey)
		if err != nil {
			return err
		}
		_, err = c.ListUsers(context.Background(), fullstory.ListUsersParams{})
		if !fullstory.IsForbidden(err) {
			return fmt.Errorf("got error %v, want a 403", err)
		}
		return checkAPIError(err, apiErrorView{Status: http.StatusForbidden, Code: fullstory.CodeForbidden})
	})
}

func TestRateLimited(t *testing.T) {
	i := newPact(t).AddInteraction().
		Given(stateRateLimited).
		UponReceiving("a request over the rate limit, answered 429 with Retry-After").
		WithRequest(http.MethodGet, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey))
		}).
		WillRespondWith(http.StatusTooManyRequests, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).
				Header("Retry-After", regex("1", reRetryAfter)).
				JSONBody(errorBody(fullstory.CodeTooManyRequests, "rate limit exceeded"))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		_, err = c.ListUsers(context.Background(), fullstory.ListUsersParams{})
		return checkAPIError(err, apiErrorView{Status: http.StatusTooManyRequests, Code: fullstory.CodeTooManyRequests, RetryAfter: time.Second})
	})
}

func TestServerError(t *testing.T) {
	i := newPact(t).AddInteraction().
		Given(stateServerError).
		UponReceiving("a request the API fails with 500").
		WithRequest(http.MethodGet, "/v2/users", func(b *consumer.V4RequestBuilder) {
			b.Header("Authorization", authorization(adminKey))
		}).
		WillRespondWith(http.StatusInternalServerError, func(b *consumer.V4ResponseBuilder) {
			jsonResponse(b).JSONBody(errorBody(fullstory.CodeServerError, "internal server error"))
		})
	run(t, i, func(cfg consumer.MockServerConfig) error {
		c, err := newClient(cfg, adminKey)
		if err != nil {
			return err
		}
		_, err = c.ListUsers(context.Background(), fullstory.ListUsersParams{})
		return checkAPIError(err, apiErrorView{Status: http.StatusInternalServerError, Code: fullstory.CodeServerError})
	})
}
