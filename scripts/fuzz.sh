#!/usr/bin/env bash
# Runs every Go fuzz target in the repository for FUZZTIME each (default 60s).
# Targets are found, not listed: any `func FuzzXxx(f *testing.F)` in a
# *_test.go file takes part. `make unit` runs the same targets over their
# checked-in seed corpora (testdata/fuzz/) as plain tests; this is the long form.
#
#   scripts/fuzz.sh                       # all targets, 60s each
#   FUZZTIME=10s scripts/fuzz.sh          # shorter
#   scripts/fuzz.sh ./connector/fullstory # only the targets under a path
#
# A crash writes the failing input to the package's testdata/fuzz/<Target>/;
# commit it with the fix so it stays a regression test.
set -euo pipefail

cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-60s}"
parallel="${FUZZ_PARALLEL:-$(nproc 2>/dev/null || echo 2)}"
roots=("$@")
[ ${#roots[@]} -gt 0 ] || roots=(.)

mapfile -t targets < <(
	grep -rEl --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' "${roots[@]}" |
		while read -r file; do
			dir="./$(dirname "${file#./}")"
			grep -Eo '^func Fuzz[A-Za-z0-9_]*' "$file" | sed "s|^func |$dir |"
		done | sort -u
)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets under ${roots[*]}" >&2
	exit 1
fi

failed=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "=== fuzz $pkg $name for $fuzztime"
	start=$(date +%s)
	if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -parallel="$parallel" "$pkg"; then
		echo "--- ok   $pkg $name ($(($(date +%s) - start))s)"
	else
		echo "--- FAIL $pkg $name"
		failed+=("$pkg $name")
	fi
done

if [ ${#failed[@]} -gt 0 ]; then
	printf 'fuzz: failed: %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz: ${#targets[@]} targets passed, $fuzztime each"
