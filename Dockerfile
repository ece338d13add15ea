# Images for the three programs of this repo, built offline: nothing is pulled.
# Each target copies a static binary (CGO_ENABLED=0) built on the host into an
# empty image, with a CA bundle, a passwd/group naming uid/gid 65532 "nonroot",
# a /tmp owned by that user (baton-sdk writes its c1z temp files there), and
# an empty /data owned by that user for state files and for volumes mounted
# there (docker-compose.yml shares credentials and CAs through /data).
# No shell, no package manager.
#
# The build context is staged by scripts/docker-images.sh (`make images`):
#   bin/image/{baton-fullstory,fullstory-simulator,c1-simulator}  (static)
#   bin/image/rootfs/{etc/passwd,etc/group,etc/ssl/certs/ca-certificates.crt,tmp/}
#   bin/image/empty/
# .dockerignore keeps everything else out of the context.
#
#   docker build --target baton-fullstory     -t ghcr.io/conductorone/baton-fullstory:dev .
#   docker build --target fullstory-simulator -t baton-fullstory/fullstory-simulator:dev .
#   docker build --target c1-simulator        -t baton-fullstory/c1-simulator:dev .

FROM scratch AS base
# etc/ (passwd, group, CA bundle) and a world-writable sticky tmp/ (1777, as
# on any Linux: a tmpfs or emptyDir mounted over it keeps that mode).
COPY bin/image/rootfs/ /
COPY --chown=65532:65532 bin/image/empty/ /data/
ENV TMPDIR=/tmp \
    HOME=/tmp
USER 65532:65532
WORKDIR /tmp

# The connector. Service mode: BATON_CLIENT_ID, BATON_CLIENT_SECRET and one
# source: BATON_API_KEY, or BATON_SCIM_BASE_URL with BATON_SCIM_TOKEN (see
# deploy/k8s/). The health server (BATON_HEALTH_CHECK=true)
# listens on 8081; bind it with BATON_HEALTH_CHECK_BIND_ADDRESS=0.0.0.0.
FROM base AS baton-fullstory
COPY bin/image/baton-fullstory /usr/local/bin/baton-fullstory
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/baton-fullstory"]

# Fake Fullstory API. Listens on all interfaces in the container.
FROM base AS fullstory-simulator
COPY bin/image/fullstory-simulator /usr/local/bin/fullstory-simulator
ENV FULLSTORY_SIM_LISTEN=0.0.0.0:8089
EXPOSE 8089
ENTRYPOINT ["/usr/local/bin/fullstory-simulator"]

# Fake ConductorOne: token + gRPC API on 8443 (TLS), admin API on 8091.
FROM base AS c1-simulator
COPY bin/image/c1-simulator /usr/local/bin/c1-simulator
ENV C1_SIM_LISTEN=0.0.0.0:8443 \
    C1_SIM_ADMIN_LISTEN=0.0.0.0:8091
EXPOSE 8443 8091
ENTRYPOINT ["/usr/local/bin/c1-simulator"]

# docker-compose.yml only: waits for the simulators' files in the shared
# volume and writes the connector's baton config (no image has a shell).
FROM base AS baton-compose-init
COPY bin/image/baton-compose-init /usr/local/bin/baton-compose-init
ENTRYPOINT ["/usr/local/bin/baton-compose-init"]
