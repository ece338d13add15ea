// Command gen writes conf.gen.go from the configuration schema.
package main

import (
	cfg "github.com/conductorone/baton-fullstory/connector/config"
	"github.com/conductorone/baton-sdk/pkg/config"
)

func main() {
	config.Generate("fullstory", cfg.Config)
}
