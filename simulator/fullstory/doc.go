// Package fullstory is a stateful, in-memory fake of Fullstory's v2 Users
// API (api.fullstory.com), for connector development, contract tests and
// end-to-end tests. Import it as fssim:
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
//	POST   /_simulator/reset     empty the store (and the Idempotency-Key cache); ids restart
//	POST   /_simulator/seed      {"users":N,"anonymous_users":M,"seed":S} and/or
//	                             {"records":[User...]}; answers {"total":<users in store>};
//	                             records before a failing one are kept
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
// store (written atomically: temporary file, fsync, rename) shortly after
// each change and on Close; when the file exists at start it is loaded
// instead of the fixture and generated users.
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
// router (usersRoutes today); a new area such as SCIM adds its own routes
// method and authentication wrapper there.
package fullstory
