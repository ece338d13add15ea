# baton-fullstory: every entry point a developer or CI needs.
# `make test` is what CI runs (.ci/run); it installs libpact_ffi and a Docker
# engine itself when they are missing.

SHELL      := /bin/bash
GO         ?= go
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN        := $(CURDIR)/bin
LDFLAGS    := -s -w -X main.version=$(VERSION)
DEMO_USERS ?= 250

.PHONY: all build test unit lint contracts contracts-check docker e2e images demo demo-service \
        capabilities fuzz bench bench-go clean

all: build

## build: static binaries in bin/
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## test: everything CI runs: lint, unit tests (race), contracts, end-to-end containers
test: lint unit contracts-check e2e

## unit: Go tests with the race detector (contract and e2e tiers sit behind build tags)
unit:
	$(GO) test -race -count=1 ./...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '/testdata/')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...

## contracts: regenerate contracts/pacts from the consumer tests, then verify the simulator against them
contracts:
	scripts/pact.sh all

## contracts-check: fail if the consumer tests no longer reproduce the committed pacts; verify the simulator
contracts-check:
	scripts/pact.sh check verify

## docker: a Docker engine (and compose) that answers; as root on Debian installs docker.io / docker-compose
docker:
	scripts/docker-engine.sh

## images: the three images, built offline FROM scratch (static binaries staged in bin/image/)
images: docker
	VERSION=$(VERSION) scripts/docker-images.sh

## e2e: containers end to end: service-mode scenarios, docker compose, image properties
e2e: images
	$(GO) test -tags e2e -count=1 -parallel 6 -timeout 30m ./e2e/...

## fuzz: every fuzz target for FUZZTIME each (default 60s); `make unit` replays their seed corpora
FUZZTIME ?= 60s
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

## bench: one-shot syncs of 10k and 100k users (+20% anonymous), then 100k at 20 ms latency; writes bench/results.json
bench: build
	scripts/bench.sh

## bench-go: Go benchmarks of the connector's hot paths (decoding a page, users into resources)
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./connector/ ./connector/fullstory/

## capabilities: regenerate baton_capabilities.json from the binary
capabilities: build
	$(BIN)/baton-fullstory capabilities > baton_capabilities.json

## demo: the simulator seeded with sample users, a one-shot sync into sync.c1z, a summary
demo: build
	@scripts/demo.sh $(DEMO_USERS)

clean:
	rm -rf $(BIN) sync.c1z

## demo-service: the service-mode loop on one machine (both simulators + the connector)
demo-service: build
	@scripts/demo-service.sh
