// Package contracts pins every request baton-fullstory's Fullstory clients
// send as Pact contracts, and verifies the Fullstory simulator against them.
// Two pact files:
//
//   - pacts/baton-fullstory-fullstory.json: the v2 Users API client
//     (connector/fullstory) and the simulator's /v2 routes;
//   - pacts/baton-fullstory-scim-fullstory-scim.json: the SCIM client
//     (connector/scim, teammates) and the simulator's /scim/v2 routes.
//
// The test files:
//
//   - consumer_test.go and consumer_scim_test.go (build tag consumer) drive
//     the real clients against Pact's mock server and write the pact files.
//   - provider_test.go and provider_scim_test.go (build tag provider) start
//     the simulator in-process, set up every provider state through the
//     simulator's library API and replay both committed pact files against it.
//   - coverage_test.go (no tag, no cgo) fails when a request-sending method
//     of *fullstory.Client or *scim.Client has no interaction in its
//     committed pact file.
//
// The tagged tests need cgo and libpact_ffi (scripts/install-pact-ffi.sh)
// and must not run under -race. See README.md in this directory.
package contracts
