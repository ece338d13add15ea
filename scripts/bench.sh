#!/usr/bin/env bash
# make bench: one-shot syncs of baton-fullstory against a fullstory-simulator
# process seeded with 10k and 100k identified users (+20% anonymous), then
# 100k again with 20 ms of latency per request. Prints wall seconds, users/s,
# CPU seconds, peak RSS of the connector's processes, API requests and
# connections, and the c1z size of each run, and writes them to
# bench/results.json. Fails when a sync fails or its c1z or request log is
# wrong. Arguments go to bench/cmd/syncbench (e.g. -repeat 3, -runs 10000,
# -connector-arg=--workers=4, -connector-env GOGC=50, -out ""); see
# bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
for b in baton-fullstory fullstory-simulator; do
  [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b is missing: run make build (or set BIN)" >&2; exit 1; }
done
mkdir -p .tools
go build -o .tools/syncbench ./bench/cmd/syncbench
exec .tools/syncbench -bin "$BIN" "$@"
