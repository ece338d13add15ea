package contracts

// Names and data shared by the consumer tests, the provider verification
// and the coverage test. The consumer writes them into the pact file as
// examples and provider-state parameters; the provider reads them back from
// the pact file, so a value changed here changes the contract.

const (
	consumerName = "baton-fullstory"
	providerName = "fullstory"
	// pactFileName is what pact-go names the file: <consumer>-<provider>.json.
	pactFileName = consumerName + "-" + providerName + ".json"
	// committedPactDir holds the committed pact files, relative to this
	// package's directory (go test runs in it).
	committedPactDir = "pacts"
)

// API keys the consumer sends. The provider verification configures the
// simulator with adminKey (admin role) and standardKey (standard role);
// revokedKey is unknown to it.
const (
	adminKey    = "pact-admin-key"
	standardKey = "pact-standard-key"
	revokedKey  = "pact-revoked-key"
)

// Users the interactions talk about.
const (
	existingID      = "1000000000000000001"
	existingUID     = "u-1"
	missingID       = "1999999999999999999"
	newUID          = "u-new"
	newDisplayName  = "Nia New"
	newEmail        = "nia.new@example.com"
	createdID       = "1000000000000000042" // example id of a created user
	createKey       = "baton-fullstory-0123456789abcdef0123456789abcdef"
	replayCreateKey = "baton-fullstory-fedcba9876543210fedcba9876543210"
	updateKey       = "baton-fullstory-00112233445566778899aabbccddeeff"
)

// Provider states. Each names the data the interaction needs; its
// parameters (when any) carry that data exactly, and the provider
// verification seeds the simulator from them.
const (
	// Five users (four identified, then one anonymous) and a page size of
	// two: three pages unfiltered, two pages with is_identified=true. The
	// provider returns the page tokens (first_page_token, second_page_token,
	// identified_page_token) for the next-page interactions.
	stateUsersSpanPages = "five users exist, two to a page (three pages unfiltered, two identified)"
	stateUserExists     = "a user with id " + existingID + " and uid " + existingUID + " exists"
	stateNoUserWithID   = "no user with id " + missingID + " exists"
	stateNoUserWithUID  = "no user with uid " + newUID + " exists"
	// The first create with replayCreateKey was answered with createdID and
	// that user has since been erased, so only a replay of the stored
	// answer can return createdID again.
	stateCreateAnswered = "a create of uid " + newUID + " with Idempotency-Key " + replayCreateKey + " was answered with id " + createdID + " and the user erased since"
	stateRevokedKey     = "the API key " + revokedKey + " is not valid"
	stateStandardKey    = "the API key " + standardKey + " has the standard role"
	stateRateLimited    = "the API key " + adminKey + " has used up its rate limit"
	stateServerError    = "the API fails with an internal error"
)

// Provider-state values the consumer injects into requests with Pact's
// fromProviderState. (libpact_ffi 0.4.28's verifier applies these
// generators to requests only, never to expected responses.)
const (
	valueFirstPageToken      = "first_page_token"
	valueSecondPageToken     = "second_page_token"
	valueIdentifiedPageToken = "identified_page_token"
)

// fixtureUser is a user as it appears in provider-state parameters.
type fixtureUser struct {
	ID          string         `json:"id"`
	UID         string         `json:"uid,omitempty"`
	DisplayName string         `json:"display_name,omitempty"`
	Email       string         `json:"email,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
}

var existingUser = fixtureUser{
	ID: existingID, UID: existingUID, DisplayName: "Ada Lovelace", Email: "ada@example.com",
	Properties: map[string]any{"plan": "pro"},
}

// pagedUsers is the data of stateUsersSpanPages, in id order.
var pagedUsers = []fixtureUser{
	{ID: "1000000000000000011", UID: "u-11", DisplayName: "Grace Hopper", Email: "grace@example.com"},
	{ID: "1000000000000000012", UID: "u-12", DisplayName: "Alan Turing", Email: "alan@example.com"},
	{ID: "1000000000000000013", UID: "u-13", DisplayName: "Katherine Johnson", Email: "katherine@example.com"},
	{ID: "1000000000000000014", UID: "u-14", DisplayName: "Edsger Dijkstra", Email: "edsger@example.com"},
	{ID: "1000000000000000015"}, // anonymous: no uid, name or email
}

const pagedPageSize = 2

// Regular expressions of the contract.
const (
	reAuthorization  = `^Basic .+$`
	reIdempotencyKey = `^[A-Za-z0-9._:-]{1,255}$`
	reUserID         = `^[^\s/]{1,256}$`
	reEmail          = `^[^@\s]+@[^@\s]+$`
	reTotalRecords   = `^\d+$`
	reRetryAfter     = `^\d+$`
	reJSON           = `^application/json`
)
