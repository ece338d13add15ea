#!/usr/bin/env bash
# docker-images.sh: build the three images offline (nothing is pulled).
#
#   scripts/docker-images.sh            # build static binaries into bin/image/, then the images
#   NO_BUILD=1 scripts/docker-images.sh # use the binaries already in bin/image/
#
# bin/image/ is this script's own staging directory (the whole image build
# context, see .dockerignore): `make build`'s bin/ binaries are left alone.
#
# Images (override the tag with IMAGE_TAG, default dev):
#   ghcr.io/conductorone/baton-fullstory:$IMAGE_TAG
#   baton-fullstory/fullstory-simulator:$IMAGE_TAG
#   baton-fullstory/c1-simulator:$IMAGE_TAG
#   baton-fullstory/compose-init:$IMAGE_TAG   (docker-compose.yml's credentials step)
set -euo pipefail

log() { printf 'docker-images: %s\n' "$*" >&2; }

cd "$(dirname "$0")/.."
IMAGE_TAG=${IMAGE_TAG:-dev}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

programs=(baton-fullstory fullstory-simulator c1-simulator baton-compose-init)
declare -A images=(
  [baton-fullstory]="ghcr.io/conductorone/baton-fullstory:$IMAGE_TAG"
  [fullstory-simulator]="baton-fullstory/fullstory-simulator:$IMAGE_TAG"
  [c1-simulator]="baton-fullstory/c1-simulator:$IMAGE_TAG"
  [baton-compose-init]="baton-fullstory/compose-init:$IMAGE_TAG"
)
declare -A packages=(
  [baton-fullstory]=./cmd/baton-fullstory
  [fullstory-simulator]=./cmd/fullstory-simulator
  [c1-simulator]=./cmd/c1-simulator
  [baton-compose-init]=./deploy/compose/baton-compose-init
)

stage=bin/image
mkdir -p "$stage"
if [ "${NO_BUILD:-}" != 1 ]; then
  log "building static binaries into $stage/"
  pkgs=()
  for p in "${programs[@]}"; do pkgs+=("${packages[$p]}"); done
  CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION:-dev}" -o "$stage/" "${pkgs[@]}"
fi

for p in "${programs[@]}"; do
  if [ ! -x "$stage/$p" ]; then
    log "$stage/$p is missing: drop NO_BUILD=1"
    exit 1
  fi
  # A FROM scratch image has no dynamic loader: refuse a dynamically linked binary.
  if readelf -l "$stage/$p" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    log "$stage/$p is dynamically linked; it must be built with CGO_ENABLED=0"
    exit 1
  fi
done

if [ ! -r "$CA_BUNDLE" ]; then
  log "no CA bundle at $CA_BUNDLE (Debian: apt-get install ca-certificates; or set CA_BUNDLE)"
  exit 1
fi

# The image root filesystem: nonroot user, CA bundle, and an empty /tmp.
rootfs=$stage/rootfs
rm -rf "$rootfs" "$stage/empty"
mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/tmp" "$stage/empty"
chmod 0755 "$rootfs" "$rootfs/etc" "$rootfs/etc/ssl" "$rootfs/etc/ssl/certs" "$stage/empty"
chmod 1777 "$rootfs/tmp"
cp "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"

# Legacy builder unless buildx is installed: neither pulls anything for FROM scratch.
if ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi

for p in "${programs[@]}"; do
  log "building ${images[$p]}"
  if ! out=$(docker build --quiet --target "$p" -t "${images[$p]}" \
    --label "org.opencontainers.image.source=https://github.com/conductorone/baton-fullstory" \
    --label "org.opencontainers.image.title=$p" \
    -f Dockerfile . 2>&1); then
    printf '%s\n' "$out" >&2
    log "docker build of ${images[$p]} failed"
    exit 1
  fi
done
# Drop the previous builds these tags replaced (dangling, ours only).
docker image prune -f --filter "label=org.opencontainers.image.source=https://github.com/conductorone/baton-fullstory" >/dev/null || true
log "built: ${images[*]}"
