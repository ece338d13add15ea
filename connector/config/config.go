// Package config declares baton-fullstory's configuration fields; baton-sdk
// turns them into flags, BATON_* variables and the `config` JSON schema.
package config

import (
	"github.com/conductorone/baton-sdk/pkg/field"
)

//go:generate go run ./gen
//go:generate gofmt -w conf.gen.go

var (
	APIKeyField = field.StringField("api-key",
		field.WithDisplayName("API key"),
		field.WithDescription("Fullstory API key with Admin or Architect permission: syncs v2 users (the people Fullstory records). Give this, or the two SCIM fields"),
		field.WithIsSecret(true),
	)
	BaseURLField = field.StringField("base-url",
		field.WithDisplayName("Base URL"),
		field.WithDescription("Fullstory API base URL: https://api.fullstory.com, https://api.eu1.fullstory.com, or a simulator"),
		field.WithDefaultValue("https://api.fullstory.com"),
	)
	IncludeAnonymousUsersField = field.BoolField("include-anonymous-users",
		field.WithDisplayName("Include anonymous users"),
		field.WithDescription("Also sync anonymous visitors (users without a uid) as accounts"),
		field.WithDefaultValue(false),
	)
	InsecureHTTPField = field.BoolField("insecure-http",
		field.WithDisplayName("Allow plain HTTP"),
		field.WithDescription("Allow an http:// base URL to a host other than loopback (only for simulators on a private network)"),
		field.WithDefaultValue(false),
		field.WithExportTarget(field.ExportTargetOps),
	)

	SCIMBaseURLField = field.StringField("scim-base-url",
		field.WithDisplayName("SCIM base URL"),
		field.WithDescription("Fullstory SCIM endpoint, e.g. https://app.fullstory.com/scim/v2: syncs teammates (the people who log in to Fullstory). Needs --scim-token; replaces --api-key"),
	)
	SCIMTokenField = field.StringField("scim-token",
		field.WithDisplayName("SCIM token"),
		field.WithDescription("Fullstory SCIM bearer token (Settings > Account Management > SSO, Enterprise plan)"),
		field.WithIsSecret(true),
	)

	// Fields lists every connector field, in the order `--help` shows them.
	Fields = []field.SchemaField{
		APIKeyField,
		BaseURLField,
		IncludeAnonymousUsersField,
		InsecureHTTPField,
		SCIMBaseURLField,
		SCIMTokenField,
	}

	// Config is the connector's configuration schema.
	Config = field.NewConfiguration(
		Fields,
		field.WithConnectorDisplayName("Fullstory"),
		field.WithHelpUrl("/docs/baton/fullstory"),
		field.WithIconUrl("/static/app-icons/fullstory.svg"),
	)
)
