#!/usr/bin/env bash
# make demo: start the Fullstory simulator with sample users, run a one-shot
# sync into sync.c1z, and summarise what was synced.
set -euo pipefail
cd "$(dirname "$0")/.."

users=${1:-250}
anonymous=$((users / 5))
key="demo-key-$RANDOM$RANDOM"
work=$(mktemp -d)
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

: >"$work/sim.log"
bin/fullstory-simulator --listen 127.0.0.1:0 --users "$users" --anonymous-users "$anonymous" \
  --seed 42 --api-key "$key" >"$work/sim.log" 2>&1 &
sim_pid=$!

base=""
for _ in $(seq 1 100); do
  base=$(sed -n 's/^fullstory-simulator listening on \(http[^ ]*\).*/\1/p' "$work/sim.log")
  [ -n "$base" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { echo "demo: the simulator exited:"; cat "$work/sim.log"; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "demo: the simulator did not start within 10s:"; cat "$work/sim.log"; exit 1; }
echo "demo: Fullstory simulator at $base with $users identified and $anonymous anonymous users"

rm -f sync.c1z
start=$(date +%s%N)
if ! bin/baton-fullstory --api-key "$key" --base-url "$base" -f sync.c1z --log-level warn >"$work/sync.log" 2>&1; then
  echo "demo: the sync failed:"; cat "$work/sync.log"; exit 1
fi
ms=$(( ($(date +%s%N) - start) / 1000000 ))
requests=$(curl -fsS "$base/_simulator/requests" | grep -o "\"path\":\"/v2/" | wc -l)

bin/c1-simulator summarize sync.c1z
printf 'demo: synced in %d ms with %s requests to the simulator; the c1z is %s (%s bytes)\n' \
  "$ms" "$requests" "$(pwd)/sync.c1z" "$(stat -c %s sync.c1z)"
