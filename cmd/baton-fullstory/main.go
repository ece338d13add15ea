// Command baton-fullstory syncs Fullstory users into a c1z file or, in
// service mode, for ConductorOne.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/conductorone/baton-fullstory/connector"
	cfg "github.com/conductorone/baton-fullstory/connector/config"
	"github.com/conductorone/baton-sdk/pkg/config"
	"github.com/conductorone/baton-sdk/pkg/connectorrunner"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultMemoryLimit is the soft heap limit when GOMEMLIMIT is not set.
// baton-sdk's Pebble memtables (up to 64 MiB each) live on the Go heap of
// the syncing process, and a freed one stays resident until the GC runs:
// without a limit a 100k-user sync peaks near 300 MiB; at 64 MiB it stays
// near 117 MiB, for more GC CPU (bench/README.md). It is soft: a larger
// live heap costs GC time, not a crash.
const defaultMemoryLimit = 64 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	config.RunConnector(context.Background(), "baton-fullstory", version, cfg.Config, connector.NewFromConfig,
		connectorrunner.WithDefaultCapabilitiesConnectorBuilderV2(&connector.Connector{}))
}
