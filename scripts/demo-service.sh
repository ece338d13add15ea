#!/usr/bin/env bash
# make demo-service: the production loop on one machine. The Fullstory
# simulator stands in for api.fullstory.com, the ConductorOne simulator for
# the tenant; baton-fullstory runs in service mode between them, as it does
# on Kubernetes. The demo enqueues a full sync, a create-account task and a
# second sync, and prints what ConductorOne received.
set -euo pipefail
cd "$(dirname "$0")/.."

users=${1:-100}
key="demo-key-$RANDOM$RANDOM"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# wait_line FILE PATTERN PID: print the sed capture of PATTERN once FILE has it.
wait_line() {
  for _ in $(seq 1 150); do
    local v; v=$(sed -n "$2" "$1")
    [ -n "$v" ] && { echo "$v"; return 0; }
    kill -0 "$3" 2>/dev/null || { echo "demo-service: a process exited early:" >&2; cat "$1" >&2; return 1; }
    sleep 0.1
  done
  echo "demo-service: timed out waiting for $1" >&2; cat "$1" >&2; return 1
}

: >"$work/fs.log"; : >"$work/c1.log"; : >"$work/connector.log"
bin/fullstory-simulator --listen 127.0.0.1:0 --users "$users" --anonymous-users $((users / 5)) \
  --seed 42 --api-key "$key" >"$work/fs.log" 2>&1 &
pids+=($!)
fs_url=$(wait_line "$work/fs.log" 's/^fullstory-simulator listening on \(http[^ ]*\).*/\1/p' "${pids[-1]}")

bin/c1-simulator --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --tls-self-signed \
  --ca-out "$work/ca.pem" --credentials-out "$work/creds.env" >"$work/c1.log" 2>&1 &
pids+=($!)
c1_line=$(wait_line "$work/c1.log" 's/^c1-simulator listening on https:\/\/\([^ ]*\) (admin http:\/\/\([^)]*\)).*/\1 \2/p' "${pids[-1]}")
c1_addr=${c1_line% *}
admin="http://${c1_line#* }"
echo "demo-service: Fullstory simulator $fs_url ($users users), ConductorOne simulator https://$c1_addr (admin $admin)"

# The connector gets exactly what a Kubernetes Secret would give it.
(
  set -a; . "$work/creds.env"; set +a
  BATON_API_KEY="$key" BATON_BASE_URL="$fs_url" BATON_C1_API_HOST="$c1_addr" \
  SSL_CERT_FILE="$work/ca.pem" BATON_PROVISIONING=true BATON_LOG_LEVEL=warn \
    exec bin/baton-fullstory
) >"$work/connector.log" 2>&1 &
pids+=($!)
echo "demo-service: baton-fullstory running in service mode"

# run_task JSON: enqueue a task, wait for it, and print its final status line.
run_task() {
  local id view
  id=$(curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" "$admin/admin/tasks" | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')
  view=$(curl -fsS "$admin/admin/tasks/$id?wait=120s")
  local status; status=$(echo "$view" | sed -n 's/^  "status": *"\([^"]*\)".*/\1/p')
  echo "demo-service: task $1 -> $status" >&2
  if [ "$status" != succeeded ]; then
    echo "$view" >&2; echo "connector log:" >&2; tail -20 "$work/connector.log" >&2; return 1
  fi
  echo "$id"
}

sync1=$(run_task '{"type":"full_sync"}')
curl -fsS "$admin/admin/tasks/$sync1/upload" -o "$work/first.c1z"
bin/c1-simulator summarize --show 3 "$work/first.c1z"

run_task '{"type":"create_account","login":"demo-new-hire","email":"new.hire@example.com","display_name":"New Hire"}' >/dev/null
sync2=$(run_task '{"type":"full_sync"}')
curl -fsS "$admin/admin/tasks/$sync2/upload" -o "$work/second.c1z"
bin/c1-simulator summarize --show 0 "$work/second.c1z"
if bin/c1-simulator summarize --json "$work/second.c1z" | grep -q '"login": "demo-new-hire"'; then
  echo "demo-service: the new hire created through ConductorOne appears in the next sync"
else
  echo "demo-service: the new hire is missing from the second sync" >&2; exit 1
fi
