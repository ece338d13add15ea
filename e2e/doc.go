// Package e2e holds the end-to-end tests: the connector, the Fullstory
// simulator and the ConductorOne simulator, each in its own container (images
// built offline by `make images`), on a private Docker network per test, the
// way Kubernetes runs the connector in service mode.
//
// The tests are behind the `e2e` build tag:
//
//	make images && go test -tags e2e -count=1 -timeout 30m ./e2e/...
//
// They fail, never skip, when no Docker engine answers (scripts/docker-engine.sh
// starts one on Debian as root) or an image is missing.
//
// The connector's environment comes from deploy/k8s: the Deployment's values
// and the keys of one Secret variant, the API-key one for the v2-user
// scenarios (scenarios_test.go) and the SCIM one for the teammates scenario
// (scim_test.go).
//
// The harness lives in subpackages written in the style of testcontainers-go
// modules: fullstorysim, c1sim and connector (Run, options, typed accessors),
// plus harness (environment, network, PKI, manifests, logs).
package e2e
