#!/usr/bin/env bash
# docker-engine.sh: make sure a Docker engine answers `docker info`.
#
# - An engine already answers: do nothing (but see compose below).
# - Debian (or derivative) and root: install Debian's docker.io if dockerd is
#   missing, start dockerd in the background (log: $DOCKERD_LOG), wait for it.
# - Otherwise: say what to do and exit non-zero.
# Then, on Debian as root, install Debian's docker-compose (v1) when neither
# `docker compose` nor `docker-compose` works (the e2e compose test needs one).
#
# Idempotent: safe to run before every `make test` / `make e2e`.
#
# Env:
#   DOCKERD_LOG        dockerd log file (default /var/log/dockerd.log)
#   DOCKERD_WAIT       seconds to wait for the engine (default 60)
#   DOCKERD_EXTRA_ARGS extra dockerd flags (default: none; see fallbacks below)
set -euo pipefail

log() { printf 'docker-engine: %s\n' "$*" >&2; }

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DOCKERD_WAIT=${DOCKERD_WAIT:-60}

engine_up() { docker info >/dev/null 2>&1; }
is_debian() { [ -r /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

# apt_install PKG: non-interactive install, with one `apt-get update` retry.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  local aptlog=/tmp/docker-engine-apt.log
  apt-get install -y -q --no-install-recommends "$@" >"$aptlog" 2>&1 || {
    apt-get update -q >>"$aptlog" 2>&1 || true
    apt-get install -y -q --no-install-recommends "$@" >>"$aptlog" 2>&1 || {
      log "apt-get install $* failed; last lines of $aptlog:"
      tail -n 20 "$aptlog" >&2
      return 1
    }
  }
}

ensure_compose() {
  if docker compose version >/dev/null 2>&1 || docker-compose version >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && is_debian; then
    log "installing Debian's docker-compose..."
    apt_install docker-compose
  else
    log "warning: neither 'docker compose' nor 'docker-compose' works; the compose e2e test needs one"
  fi
}

if command -v docker >/dev/null 2>&1 && engine_up; then
  ensure_compose
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! is_debian; then
  log "no Docker engine answers 'docker info'."
  if command -v docker >/dev/null 2>&1; then
    log "docker says: $(docker info 2>&1 | tail -n 1)"
  fi
  cat >&2 <<'MSG'
docker-engine: start one, then re-run:
  - Docker Desktop / colima / OrbStack on macOS, Docker Desktop on Windows;
  - on Linux: install Docker Engine (https://docs.docker.com/engine/install/)
    and start it (`sudo systemctl start docker`), or add yourself to the
    `docker` group; or set DOCKER_HOST to an engine you can reach.
  (This script installs and starts Debian's docker.io itself only when run as
  root on Debian.)
MSG
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing Debian's docker.io (dockerd, containerd, runc)..."
  apt_install docker.io
fi

# The package's postinst may have started the service already.
if engine_up; then
  ensure_compose
  exit 0
fi

if [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  log "dockerd (pid $(cat /var/run/docker.pid)) is running but does not answer yet; waiting"
else
  rm -f /var/run/docker.pid
  # shellcheck disable=SC2086 # DOCKERD_EXTRA_ARGS is a list of flags
  log "starting dockerd ${DOCKERD_EXTRA_ARGS:-} (log: $DOCKERD_LOG)"
  nohup dockerd ${DOCKERD_EXTRA_ARGS:-} >>"$DOCKERD_LOG" 2>&1 </dev/null &
  dockerd_pid=$!
  disown || true
fi

for _ in $(seq 1 "$((DOCKERD_WAIT * 2))"); do
  if engine_up; then
    log "engine up: $(docker version --format 'server {{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}')"
    ensure_compose
    exit 0
  fi
  if [ -n "${dockerd_pid:-}" ] && ! kill -0 "$dockerd_pid" 2>/dev/null; then
    log "dockerd exited"
    break
  fi
  sleep 0.5
done

log "dockerd did not answer within ${DOCKERD_WAIT}s; last lines of $DOCKERD_LOG:"
tail -n 30 "$DOCKERD_LOG" >&2 || true
exit 1
