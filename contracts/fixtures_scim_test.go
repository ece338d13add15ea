package contracts

// Names and data of the SCIM contract: the connector's SCIM client
// (connector/scim, consumer scimConsumerName) and the simulator's SCIM
// service under /scim/v2 (provider scimProviderName). As with the v2
// contract, the consumer writes these into the pact file and the provider
// verification reads them back from it.

const (
	scimConsumerName = "baton-fullstory-scim"
	scimProviderName = "fullstory-scim"
	scimPactFileName = scimConsumerName + "-" + scimProviderName + ".json"
	// scimBasePath is the path of the SCIM base URL (Fullstory's is
	// https://app.fullstory.com/scim/v2); the client appends /Users.
	scimBasePath  = "/scim/v2"
	scimUsersPath = scimBasePath + "/Users"
	// scimCount is what the connector's teammate syncer asks for on every
	// page (connector/teammates.go scimPageSize).
	scimCount = 100
)

// SCIM bearer tokens. The provider verification configures the simulator
// with scimToken only; revokedSCIMToken is unknown to it.
const (
	scimToken        = "pact-scim-token"
	revokedSCIMToken = "pact-revoked-scim-token"
)

// SCIM schema URNs (RFC 7643/7644) as they appear on the wire.
const (
	scimUserSchema    = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimPatchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimErrorSchema   = "urn:ietf:params:scim:api:messages:2.0:Error"
	// scimAccept is the Accept header of every SCIM request.
	scimAccept = "application/scim+json, application/json"
)

// fixtureTeammate is a teammate as it appears in provider-state
// parameters (SCIM's JSON names).
type fixtureTeammate struct {
	ID          string         `json:"id"`
	ExternalID  string         `json:"externalId,omitempty"`
	UserName    string         `json:"userName"`
	Name        *fixtureName   `json:"name,omitempty"`
	DisplayName string         `json:"displayName,omitempty"`
	Emails      []fixtureEmail `json:"emails,omitempty"`
	Active      bool           `json:"active"`
}

type fixtureName struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

type fixtureEmail struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// teammate builds a full-shaped active teammate: name, displayName and one
// primary work email equal to the userName.
func teammate(id, given, family, email string) fixtureTeammate {
	return fixtureTeammate{
		ID:          id,
		UserName:    email,
		Name:        &fixtureName{GivenName: given, FamilyName: family},
		DisplayName: given + " " + family,
		Emails:      []fixtureEmail{{Value: email, Type: "work", Primary: true}},
		Active:      true,
	}
}

// Teammates the single-teammate interactions talk about.
const (
	existingTeammateID = "7e0a000000001001"
	existingUserName   = "ada@example.com"
	inactiveTeammateID = "7e0a000000001002"
	inactiveUserName   = "grace@example.com"
	missingTeammateID  = "7e0a00000000dead"
	newUserName        = "nia.new@example.com"
	newGivenName       = "Nia"
	newFamilyName      = "New"
	createdTeammateID  = "7e0a000000001042" // example id of a created teammate
)

var existingTeammate = func() fixtureTeammate {
	t := teammate(existingTeammateID, "Ada", "Lovelace", existingUserName)
	t.ExternalID = "idp-ada"
	return t
}()

var inactiveTeammate = func() fixtureTeammate {
	t := teammate(inactiveTeammateID, "Grace", "Hopper", inactiveUserName)
	t.Active = false
	return t
}()

// onePageTeammates is the data of stateTeammatesOnePage: fewer than one
// page of scimCount, every one full-shaped.
var onePageTeammates = []fixtureTeammate{
	teammate("7e0a000000003001", "Alan", "Turing", "alan@example.com"),
	teammate("7e0a000000003002", "Barbara", "Liskov", "barbara@example.com"),
	teammate("7e0a000000003003", "Claude", "Shannon", "claude@example.com"),
}

// cappedTeammates is the data of stateTeammatesCapped, in id order (the
// order the simulator pages in). The last one is an inactive service
// account with nothing but a userName: no name, displayName or emails.
var cappedTeammates = []fixtureTeammate{
	teammate("7e0a000000002001", "Katherine", "Johnson", "katherine@example.com"),
	teammate("7e0a000000002002", "Edsger", "Dijkstra", "edsger@example.com"),
	teammate("7e0a000000002003", "Frances", "Allen", "frances@example.com"),
	teammate("7e0a000000002004", "Donald", "Knuth", "donald@example.com"),
	{ID: "7e0a000000002005", UserName: "svc-ci", Active: false},
}

// cappedPageSize is the most teammates the provider of stateTeammatesCapped
// answers per page, whatever count asks for.
const cappedPageSize = 2

// Provider states of the SCIM contract. Each names the data the
// interaction needs and carries it exactly in its parameters.
const (
	stateTeammatesOnePage = "three teammates exist (fewer than one page)"
	stateTeammatesCapped  = "five teammates exist and the server answers at most two per page"
	stateTeammateExists   = "an active teammate with id " + existingTeammateID + " and userName " + existingUserName + " exists"
	stateTeammateInactive = "an inactive teammate with id " + inactiveTeammateID + " and userName " + inactiveUserName + " exists"
	stateNoTeammateNamed  = "no teammate with userName " + newUserName + " exists"
	stateNoTeammateWithID = "no teammate with id " + missingTeammateID + " exists"
	stateSCIMTokenRevoked = "the SCIM token " + revokedSCIMToken + " is not valid"
	stateSCIMRateLimited  = "the SCIM token " + scimToken + " has used up its rate limit"
)

// Regular expressions of the SCIM contract.
const (
	reBearer   = `^Bearer .+$`
	reSCIMJSON = `^application/scim\+json`
	reSCIMID   = `^[^\s/?#%]{1,256}$`
)
