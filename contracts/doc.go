// Package contracts pins every request baton-fullstory's Fullstory client
// (connector/fullstory) sends as a Pact contract, and verifies the Fullstory
// simulator (simulator/fullstory) against it.
//
//   - consumer_test.go (build tag consumer) drives the real client against
//     Pact's mock server and writes pacts/baton-fullstory-fullstory.json.
//   - provider_test.go (build tag provider) starts the simulator in-process,
//     sets up every provider state through the simulator's library API and
//     replays the committed pact file against it.
//   - coverage_test.go (no tag, no cgo) fails when a request-sending method
//     of *fullstory.Client has no interaction in the committed pact file.
//
// The tagged tests need cgo and libpact_ffi (scripts/install-pact-ffi.sh)
// and must not run under -race. See README.md in this directory.
package contracts
