#!/usr/bin/env bash
# pact.sh: run the Pact contract tests of contracts/. Two pact files:
#   baton-fullstory-fullstory.json            connector/fullstory (v2 users) vs the simulator's /v2
#   baton-fullstory-scim-fullstory-scim.json  connector/scim (teammates) vs the simulator's /scim/v2
#
#   scripts/pact.sh generate   consumer tests -> rewrite contracts/pacts/*.json
#   scripts/pact.sh check      consumer tests -> fail if contracts/pacts differs
#   scripts/pact.sh verify     verify the simulator against contracts/pacts
#   scripts/pact.sh all        generate, then verify (make contracts)
#   scripts/pact.sh check verify   steps run in order (make contracts-check)
#
# It installs libpact_ffi first when missing (scripts/install-pact-ffi.sh)
# and sets the cgo and loader paths, so it needs no setup. Pact tests run
# without -race: pact-go's cgo bindings crash under the race detector.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

lib=${PACT_FFI_DIR:-$root/.tools/pact/lib}
pacts=contracts/pacts # go test runs in contracts/, so it gets absolute paths
pkg=./contracts/
# The pact files the consumer tests must write and the provider test
# verifies (contracts/fixtures*_test.go names them).
files=(baton-fullstory-fullstory.json baton-fullstory-scim-fullstory-scim.json)

die() { echo "pact: $*" >&2; exit 1; }

setup() {
	PACT_FFI_DIR=$lib scripts/install-pact-ffi.sh
	export CGO_ENABLED=1
	export CGO_LDFLAGS="-L$lib -Wl,-rpath,$lib${CGO_LDFLAGS:+ $CGO_LDFLAGS}"
	export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export PACT_DO_NOT_TRACK=true # libpact_ffi would report usage to a remote service
	case " ${GOFLAGS:-} " in *" -race "*) die "GOFLAGS has -race; Pact tests cannot run under the race detector" ;; esac
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir "$tmp/pacts"
}

# consumer DIR: run the consumer tests, writing the pact files into DIR.
consumer() {
	local dir=$1 start=$SECONDS
	echo "pact: consumer tests (connector/fullstory and connector/scim clients vs Pact mock servers) -> $dir"
	if ! go test -tags consumer -count=1 "$pkg" -pact-dir "$dir"; then
		die "consumer tests failed: a client no longer sends what the contract says (see the mismatches above)"
	fi
	local f
	for f in "${files[@]}"; do
		[[ -s $dir/$f ]] || die "consumer tests wrote no $f into $dir"
	done
	shopt -s nullglob
	local written=("$dir"/*.json)
	shopt -u nullglob
	[[ ${#written[@]} -eq ${#files[@]} ]] ||
		die "consumer tests wrote ${#written[@]} pact files into $dir, want ${#files[@]} (${files[*]}); a new consumer/provider pair must be added to 'files' in $0 and to the provider test"
	echo "pact: consumer tests passed in $((SECONDS - start))s (${files[*]})"
}

generate() {
	consumer "$tmp/pacts"
	mkdir -p "$pacts"
	# Replace, not merge: an interaction deleted from the tests leaves the file.
	find "$pacts" -maxdepth 1 -name '*.json' -delete
	cp "$tmp/pacts"/*.json "$pacts"/
	echo "pact: wrote $(cd "$pacts" && ls ./*.json | sed 's|^\./||' | tr '\n' ' ')into $pacts"
	if ! git diff --quiet --exit-code -- "$pacts" 2>/dev/null || [[ -n $(git ls-files --others --exclude-standard -- "$pacts") ]]; then
		echo "pact: $pacts changed; review and commit it:"
		git status --short -- "$pacts"
	fi
}

check() {
	consumer "$tmp/pacts"
	if ! diff -ru "$pacts" "$tmp/pacts" >"$tmp/diff" 2>&1; then
		sed -n '1,80p' "$tmp/diff" >&2
		die "the committed $pacts differ from what the consumer tests produce: run 'make contracts' and commit $pacts"
	fi
	echo "pact: committed $pacts match the consumer tests"
}

verify() {
	local start=$SECONDS f
	for f in "${files[@]}"; do
		[[ -s $pacts/$f ]] || die "$pacts/$f is missing: run 'make contracts' and commit $pacts"
	done
	echo "pact: provider verification (simulator/fullstory vs $pacts: ${files[*]})"
	if ! go test -tags provider -count=1 "$pkg" -pact-dir "$root/$pacts"; then
		die "provider verification failed: the simulator does not honour the contract (see 'Failures:' above)"
	fi
	echo "pact: provider verification passed in $((SECONDS - start))s"
}

[[ $# -gt 0 ]] || die "usage: $0 generate|check|verify|all ... (steps run in order)"
for step in "$@"; do
	case $step in
	generate | check | verify | all) ;;
	*) die "unknown step '$step'; usage: $0 generate|check|verify|all ..." ;;
	esac
done
setup
for step in "$@"; do
	case $step in
	generate) generate ;;
	check) check ;;
	verify) verify ;;
	all) generate; verify ;;
	esac
done
