#!/usr/bin/env bash
# install-pact-ffi.sh: install libpact_ffi, the Rust core that pact-go v2 links
# through cgo, into a repo-local, git-ignored folder (.tools/pact/lib).
#
# The library comes from the npm registry package pinned below (pact-go
# v2.4.x needs libpact_ffi 0.4.x; newer pact-core majors dropped symbols
# pact-go calls, and pact-go's own downloader fetches from GitHub, which is
# not reachable here). The package tarball must match the pinned sha512
# integrity and the extracted library the pinned sha256; anything else is
# refused. Running it again is a no-op once the right file is in place.
#
# Usage: scripts/install-pact-ffi.sh [--check]
#   --check   only report whether the pinned library is installed (exit 1 if not)
# Env:   PACT_FFI_DIR   install directory (default <repo>/.tools/pact/lib)
set -euo pipefail

readonly PKG='@pact-foundation/pact-core-linux-x64-glibc'
readonly PKG_VERSION='18.1.0'
readonly PKG_INTEGRITY='sha512-rhR5iZS77Ie0ocJmtoTub82lyMQmjjn15UPhD5Tv1i2kYkbLCVPSYZpTrKak/OCDm5/AM0Lb7YqIZlOipMm/mA=='
readonly LIB_PATH_IN_PKG='package/prebuilds/linux-x64/libpact_ffi.so'
readonly LIB_SHA256='f2e805e6433afa2cabc3ad3c309786a975075319dcb370c737e0041b4bff9887'
# What pactffi_version() answers for this file (contracts/ffi_version_test.go checks it).
readonly FFI_VERSION='0.4.28'

die() { echo "install-pact-ffi: $*" >&2; exit 1; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${PACT_FFI_DIR:-$root/.tools/pact/lib}
lib=$dest/libpact_ffi.so

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

installed() { [[ -f $lib ]] && [[ $(sha256_of "$lib") == "$LIB_SHA256" ]]; }

if [[ ${1:-} == --check ]]; then
	if installed; then
		echo "install-pact-ffi: libpact_ffi $FFI_VERSION present at $lib"
		exit 0
	fi
	die "libpact_ffi $FFI_VERSION is not installed at $lib (run scripts/install-pact-ffi.sh)"
elif [[ $# -gt 0 ]]; then
	die "usage: $0 [--check]"
fi

if installed; then
	echo "install-pact-ffi: libpact_ffi $FFI_VERSION already installed at $lib"
	exit 0
fi

[[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] ||
	die "only linux x86_64 (glibc) is supported; $PKG has no build for $(uname -s) $(uname -m)"
if ldd --version 2>&1 | grep -qi musl; then
	die "this system uses musl; $PKG is built for glibc"
fi
for tool in npm node tar sha256sum; do
	command -v "$tool" >/dev/null || die "$tool is required"
done

if [[ -e $lib ]]; then
	echo "install-pact-ffi: $lib has sha256 $(sha256_of "$lib"), want $LIB_SHA256: replacing it" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "install-pact-ffi: fetching $PKG@$PKG_VERSION from the npm registry"
# npm pack checks the tarball against the registry's own integrity; the pin
# below makes sure the registry's answer is still the one we reviewed.
(cd "$tmp" && npm pack "$PKG@$PKG_VERSION" --silent >/dev/null) ||
	die "npm pack $PKG@$PKG_VERSION failed"
tarballs=("$tmp"/*.tgz)
[[ ${#tarballs[@]} -eq 1 && -f ${tarballs[0]} ]] || die "npm pack produced no single tarball"
tarball=${tarballs[0]}

got_integrity="sha512-$(node -e '
	const crypto = require("crypto"), fs = require("fs");
	process.stdout.write(crypto.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));
' "$tarball")"
[[ $got_integrity == "$PKG_INTEGRITY" ]] ||
	die "refusing $PKG@$PKG_VERSION: tarball integrity $got_integrity, want $PKG_INTEGRITY"

tar -xzf "$tarball" -C "$tmp" package/package.json "$LIB_PATH_IN_PKG" ||
	die "the tarball has no $LIB_PATH_IN_PKG"
got_version=$(node -e 'const p = require(process.argv[1]); process.stdout.write(p.name + "@" + p.version)' "$tmp/package/package.json")
[[ $got_version == "$PKG@$PKG_VERSION" ]] || die "refusing the tarball: it holds $got_version, want $PKG@$PKG_VERSION"

got_sha=$(sha256_of "$tmp/$LIB_PATH_IN_PKG")
[[ $got_sha == "$LIB_SHA256" ]] || die "refusing libpact_ffi.so: sha256 $got_sha, want $LIB_SHA256"

mkdir -p "$dest"
install -m 0755 "$tmp/$LIB_PATH_IN_PKG" "$dest/.libpact_ffi.so.tmp"
mv -f "$dest/.libpact_ffi.so.tmp" "$lib"
installed || die "installed $lib but its sha256 does not match"
echo "install-pact-ffi: installed libpact_ffi $FFI_VERSION ($PKG@$PKG_VERSION) at $lib"
