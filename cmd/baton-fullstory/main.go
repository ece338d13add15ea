// Command baton-fullstory syncs Fullstory users into a c1z file or, in
// service mode, for ConductorOne.
package main

import (
	"context"

	"github.com/conductorone/baton-fullstory/connector"
	cfg "github.com/conductorone/baton-fullstory/connector/config"
	"github.com/conductorone/baton-sdk/pkg/config"
	"github.com/conductorone/baton-sdk/pkg/connectorrunner"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	config.RunConnector(context.Background(), "baton-fullstory", version, cfg.Config, connector.NewFromConfig,
		connectorrunner.WithDefaultCapabilitiesConnectorBuilderV2(&connector.Connector{}))
}
