// Package fullstory is a stateful, in-memory fake of Fullstory's v2 Users
// API (api.fullstory.com) and of its SCIM 2.0 API for teammates
// (app.fullstory.com/scim/v2), for connector development, contract tests
// and end-to-end tests. Import it as fssim:
//
//	sim, err := fssim.New(fssim.WithAPIKey("key", fssim.RoleAdmin), fssim.WithUsers(100))
//	if err != nil { ... }
//	srv := httptest.NewServer(sim.Handler())
//	defer srv.Close()
//	defer sim.Close()
//
// The binary cmd/fullstory-simulator wraps it with flags.
//
// # API
//
// Requests carry "Authorization: Basic <API key>" (the raw key). Keys have
// a role: admin and architect keys may do everything; a standard key may
// create and update users but gets 403 forbidden on list, get and delete.
// An unknown or missing key gets 401 unauthorized. With no key configured
// at all, any non-empty key is accepted as an admin key (OpenMode).
//
//	GET    /v2/users         list: uid, email (case-insensitive), display_name and
//	                         is_identified filters; include_schema; page_token.
//	                         {"results":[...],"total_records":"N","next_page_token":"..."};
//	                         total_records is a string; no token on the last page.
//	GET    /v2/users/{id}    one user; include_schema.
//	POST   /v2/users         update the identified user with the same uid, or create
//	                         one (anonymous without uid); 200 {"id":"..."}.
//	POST   /v2/users/{id}    update; 200 {"id":"..."}.
//	DELETE /v2/users/{id}    200 {}.
//	DELETE /v2/users?uid=U   200 {}; without uid 400 required_field.
//
// Users are sorted by id. Ids are 19-digit decimal strings that increase
// with each new user and derive from the seed, so they are the same on
// every run. A page holds WithPageSize users (default 100). A page token
// is opaque: base64url of a version byte, a hash of the filters, the last
// id of the page and an HMAC keyed by the seed. The next page starts after
// that id, so tokens stay valid while users are created or deleted (and
// across restarts with the same seed); a forged or altered token, or one
// sent with other filters, gets 400 invalid_argument.
//
// Updates merge: uid, display_name and email replace the stored value
// when present; properties are merged key by key and a null value removes
// a key; a declared schema merges the same way. Setting a uid on an
// anonymous user identifies it (409 conflict when another user has that
// uid); changing a uid that is set is 400 invalid_argument.
//
// Deletion is asynchronous as in Fullstory: a deleted user stays, listed
// and readable with is_being_deleted true, for WithDeleteDelay (default
// 2s, measured on the server's clock; 0 removes at once), then gets 404
// user_not_found. Deleting it again meanwhile answers 200; updating it
// answers 404; a new user may take its uid.
//
// Validation: uid at most 256 characters, display_name 256, email 128;
// at most 500 properties (also after a merge); property names match
// [A-Za-z][A-Za-z0-9_]* and are at most 512 characters, dotted path of
// nested objects included; a property value is at most 8192 bytes of
// compact JSON; schema types are str, strs, int, ints, real, reals, bool,
// bools, date, dates (or a nested object of those). Unknown fields,
// malformed JSON, a body that is not an object, bad query values: 400
// invalid_argument. An empty body: 400 required_field. A body over 8 MiB:
// 413 request_too_large. Unknown routes: 404 resource_not_found; wrong
// method: 405 method_not_allowed. Every error is {"code","message"}.
//
// With include_schema=true a user carries "schema":{"properties":{...}}:
// the types inferred from its property values (RFC 3339 strings infer as
// date) overlaid by the declared ones.
//
// # SCIM teammates
//
// v2 users are the people Fullstory records on a customer's site;
// teammates, the people who log in to Fullstory, are SCIM 2.0 Users
// (RFC 7643/7644, the subset IdPs use) under /scim/v2:
//
//	GET    /scim/v2/Users        ListResponse {"schemas":[ListResponse],"totalResults",
//	                             "startIndex","itemsPerPage","Resources":[...]}; startIndex
//	                             is 1-based (absent or below 1: 1); count absent is
//	                             WithSCIMPageSize (100), above WithSCIMMaxPageSize (100) is
//	                             capped (a page may hold fewer than asked), negative is 0
//	                             (totals only); order is by id, which is creation order for
//	                             teammates the server names. filter: only userName eq "v"
//	                             (attribute and operator in any case, value matched
//	                             case-insensitively); any other filter is 400 invalidFilter.
//	                             attributes, excludedAttributes, sortBy are ignored.
//	POST   /scim/v2/Users        201 with the teammate and a Location header; active
//	                             defaults to true; 409 uniqueness on a userName taken in
//	                             any case.
//	GET    /scim/v2/Users/{id}   the teammate.
//	PUT    /scim/v2/Users/{id}   replace: absent attributes are cleared except active,
//	                             which keeps its value; an id in the body must match.
//	PATCH  /scim/v2/Users/{id}   PatchOp: add, replace, remove (op in any case) of active,
//	                             userName, displayName, externalId, name and its parts,
//	                             emails, emails[type|value|primary eq ...] and its .value,
//	                             .type, .primary; also the valueless form
//	                             {"op":"replace","value":{"active":false}} whose keys are
//	                             paths ("name.givenName" too) and where attributes the
//	                             simulator does not keep (title, extensions) are ignored.
//	                             active may be a boolean or "True"/"False" (Azure AD). All
//	                             operations apply or none; 200 with the teammate.
//	DELETE /scim/v2/Users/{id}   204; the teammate is gone.
//	GET    /scim/v2/ServiceProviderConfig
//	                             patch and filter (maxResults = max page size) supported;
//	                             bulk, sort, etag, changePassword not; oauthbearertoken.
//
// Requests carry "Authorization: Bearer <token>", checked in constant
// time against WithSCIMToken tokens; with none configured any non-empty
// bearer token is accepted (SCIMOpenMode), the rule the v2 API applies to
// API keys. v2 API keys are not SCIM tokens. Answers are
// application/scim+json; bodies may be application/scim+json or
// application/json (or carry no Content-Type; others get 415). POST and
// PUT bodies must list the core User schema and PATCH bodies the PatchOp
// schema (400 invalidSyntax otherwise); unknown attributes in POST and
// PUT are ignored. A PATCH path naming an attribute the simulator does
// not keep is 400 invalidPath; read-only or required attributes
// (id, meta, userName and active removal) are 400 mutability; a value
// filter that matches nothing is 400 noTarget, except that add or
// replace through a type filter (emails[type eq "work"].value) adds an
// email of that type, as Azure AD expects. Setting primary on an email
// clears it on the others; more than one primary in a POST or PUT is 400
// invalidValue. Errors are {"schemas":[Error],"status":"404",
// "scimType":"...","detail":"..."} with status as a string and scimType
// only where RFC 7644 defines one; 401 carries WWW-Authenticate: Bearer.
// Unknown routes below /scim/v2 are 404 and wrong methods 405 in that
// form. meta.location is SCIMLocationPrefix + id (Fullstory's public
// base, not the simulator's address); meta.created and lastModified are
// on the server's clock, and a change that alters nothing keeps
// lastModified. Teammate ids are 16 hex digits that increase with each
// new teammate and derive from the seed.
//
// SCIM shares the fault switches (one rate-limit bucket for both APIs),
// the request log and the state file with the v2 API; injected errors
// below /scim/v2 are rendered in SCIM's error schema.
//
// WithTeammates generates teammates from the seed: in every eight, two
// plain ones (displayName, name, one primary work email), one with three
// emails whose primary is the second, one inactive, one without emails
// (its userName is its address), one with a name but no displayName and
// an email without primary, one with a mixed-case userName, and one with
// only a userName and email; every third has an Okta-style externalId.
// Teammate i of a seed is always the same, so seeding again replaces
// rather than duplicates.
//
// # Idempotency-Key
//
// On POST, the first answer (status and body) to a key is stored per API
// key and replayed, with header Idempotent-Replayed: true, for 24 hours of
// the server's clock. The same key with a different method, path or body
// gets 400 idempotency_key_reused; a key whose first request is still
// running gets 409 idempotency_key_in_use. Answers with status >= 500
// (and requests that failed by fault injection) are not stored.
//
// # Faults
//
// WithFaults, SetFaults and PUT /_simulator/faults configure, for the API
// routes only (never /_simulator/): Latency before every answer; a token
// bucket of RateLimitRPS (burst RateLimitRPS, refilled RateLimitRPS per
// second of the server's clock) beyond which requests get 429
// too_many_requests with Retry-After in whole seconds; ErrorRate, the
// share of requests answered 500 server_error or 503 service_unavailable
// (with Retry-After: 1) in equal parts; and DropRate, the share of
// requests whose connection is closed without an answer (the HTTP/1
// connection is hijacked and closed; on HTTP/2 the stream is aborted).
// Drops and errors are drawn from an RNG seeded by WithSeed, one number
// per request, so a sequential test sees the same faults on every run.
//
// # Admin API
//
// Under /_simulator/, without a Fullstory key, optionally protected by
// WithAdminToken ("Authorization: Bearer <token>", compared in constant
// time); never faulted, never logged:
//
//	GET    /_simulator/healthz   200 {"status":"ok"}, never needs the token
//	GET    /_simulator/users     JSON array of Users()
//	GET    /_simulator/teammates JSON array of Teammates()
//	POST   /_simulator/reset     empty the store (users, teammates and the Idempotency-Key
//	                             cache); ids restart
//	POST   /_simulator/seed      {"users":N,"anonymous_users":M,"seed":S} and/or
//	                             {"records":[User...]} and/or {"teammates":T} and/or
//	                             {"teammate_records":[Teammate...]}; answers {"total":<users
//	                             in store>}, plus "teammates":<teammates in store> when the
//	                             request seeded teammates; records before a failing one
//	                             are kept
//	GET    /_simulator/faults    {"latency_ms":0,"rate_limit_rps":0,"error_rate":0,"drop_rate":0}
//	PUT    /_simulator/faults    replace the faults (same form; 400 when out of range)
//	GET    /_simulator/requests  request log: [{"method","path","query","status"}], oldest
//	                             first, the last WithRequestLogLimit (10000) API requests;
//	                             status 0 means the connection was dropped
//	DELETE /_simulator/requests  clear it
//
// Seeding generated users is idempotent: identified user i of a seed
// always has the same uid, and a record without id whose uid matches an
// identified user replaces that user.
//
// # Data
//
// WithUsers and WithAnonymousUsers generate users from the seed alone:
// identified users with uid, email, display name and about eight
// properties (a nested object and a list among them), anonymous users
// with a few properties and no uid, email or display name, interleaved.
// WithFixtureFile loads users from JSON first. WithStateFile persists the
// store, users and teammates (written atomically: temporary file, fsync,
// rename) shortly after each change and on Close; when the file exists at
// start it is loaded instead of the fixture and generated users and
// teammates. A state file from before teammates existed (no "teammates"
// key) still loads, and gets WithTeammates' generated teammates.
//
// # Performance
//
// Users live in a map by id plus id-sorted indexes of all, identified and
// anonymous users; a page is found by binary search on the token's id and
// costs O(page size) for unfiltered and is_identified listings (and O(1)
// by uid). email and display_name filters scan. Pages are encoded from
// pre-encoded property JSON. A store of 120k users takes about 65 MiB.
//
// # Extending
//
// apiRoutes registers each faulted, logged API area on one gorilla/mux
// router: usersRoutes and scimRoutes (which mounts its own router below
// /scim/v2 so that its 404 and 405 answers are SCIM errors).
package fullstory
