// Package connector is baton-fullstory's baton-sdk builder: it turns
// Fullstory's v2 users into baton user resources and provisions them.
package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/conductorone/baton-fullstory/connector/config"
	"github.com/conductorone/baton-fullstory/connector/fullstory"
	"github.com/conductorone/baton-fullstory/connector/scim"
	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/cli"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/uhttp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Connector is the Fullstory connector. It reads one source: the v2 Users
// API with an API key (client), or SCIM teammates with a token (scim).
type Connector struct {
	client *fullstory.Client
	scim   *scim.Client
	// users is the one user syncer, shared by Validate and the sync so the
	// first page Validate fetches serves the sync's first List.
	users *userBuilder
}

var _ connectorbuilder.ConnectorBuilderV2 = (*Connector)(nil)

// Options are the connector's settings, independent of how they were given.
type Options struct {
	APIKey                string
	BaseURL               string
	IncludeAnonymousUsers bool
	InsecureHTTP          bool
	SCIMBaseURL           string
	SCIMToken             string
	ClientOptions         []fullstory.ClientOption
}

// errOneSource names the two ways to configure the connector.
const errOneSource = "configure exactly one source: --api-key (BATON_API_KEY) for Fullstory's v2 users, or --scim-base-url with --scim-token (BATON_SCIM_BASE_URL, BATON_SCIM_TOKEN) for Fullstory teammates"

// New builds the connector after checking its settings; it sends nothing.
func New(ctx context.Context, o Options) (*Connector, error) {
	apiKey, scimToken := strings.TrimSpace(o.APIKey), strings.TrimSpace(o.SCIMToken)
	scimURL := strings.TrimSpace(o.SCIMBaseURL)
	switch {
	case apiKey != "" && (scimToken != "" || scimURL != ""):
		return nil, errors.New("baton-fullstory: both an API key and SCIM settings are given; " + errOneSource)
	case apiKey == "" && scimToken == "" && scimURL == "":
		return nil, errors.New("baton-fullstory: no Fullstory credentials are given; " + errOneSource)
	case apiKey == "" && (scimToken == "" || scimURL == ""):
		return nil, errors.New("baton-fullstory: SCIM needs both --scim-base-url and --scim-token (BATON_SCIM_BASE_URL, BATON_SCIM_TOKEN)")
	}

	if scimToken != "" {
		u, err := scim.ParseBaseURL(scimURL)
		if err != nil {
			return nil, err
		}
		if err := checkTransport(u, o.InsecureHTTP, "SCIM base URL", "SCIM token"); err != nil {
			return nil, err
		}
		client, err := scim.NewClient(ctx, u.String(), scimToken, o.ClientOptions...)
		if err != nil {
			return nil, err
		}
		return &Connector{scim: client}, nil
	}

	if o.BaseURL == "" {
		o.BaseURL = fullstory.DefaultBaseURL
	}
	u, err := fullstory.ParseBaseURL(o.BaseURL)
	if err != nil {
		return nil, err
	}
	if err := checkTransport(u, o.InsecureHTTP, "base URL", "API key"); err != nil {
		return nil, err
	}
	client, err := fullstory.NewClient(ctx, u.String(), apiKey, o.ClientOptions...)
	if err != nil {
		return nil, err
	}
	return &Connector{client: client, users: newUserBuilder(client, o.IncludeAnonymousUsers)}, nil
}

// checkTransport refuses plain http to anything but loopback unless the
// operator opted in, since the secret would cross the network in clear.
func checkTransport(u *url.URL, insecure bool, what, secret string) error {
	if u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()) {
		return fmt.Errorf("baton-fullstory: %s %q is plain http to a non-loopback host, which would send the %s unencrypted: use https, or pass --insecure-http for a simulator on a private network", what, u.String(), secret)
	}
	return nil
}

// NewFromConfig is the constructor baton-sdk's RunConnector calls.
func NewFromConfig(ctx context.Context, cfg *config.Fullstory, _ *cli.ConnectorOpts) (connectorbuilder.ConnectorBuilderV2, []connectorbuilder.Opt, error) {
	c, err := New(ctx, Options{
		APIKey:                cfg.ApiKey,
		BaseURL:               cfg.BaseUrl,
		IncludeAnonymousUsers: cfg.IncludeAnonymousUsers,
		InsecureHTTP:          cfg.InsecureHttp,
		SCIMBaseURL:           cfg.ScimBaseUrl,
		SCIMToken:             cfg.ScimToken,
	})
	if err != nil {
		return nil, nil, err
	}
	return c, nil, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Client exposes the Fullstory client (benchmarks read its Stats).
func (c *Connector) Client() *fullstory.Client { return c.client }

// ResourceSyncers lists the resource types the connector syncs: `user`,
// from whichever source is configured.
func (c *Connector) ResourceSyncers(context.Context) []connectorbuilder.ResourceSyncerV2 {
	if c.scim != nil {
		return []connectorbuilder.ResourceSyncerV2{newTeammateBuilder(c.scim)}
	}
	return []connectorbuilder.ResourceSyncerV2{c.users}
}

// Metadata describes the connector and its account-creation form.
func (c *Connector) Metadata(context.Context) (*v2.ConnectorMetadata, error) {
	if c.scim != nil {
		return v2.ConnectorMetadata_builder{
			DisplayName:           "Fullstory",
			Description:           "Syncs Fullstory teammates through SCIM, creates and deactivates them",
			AccountCreationSchema: teammateAccountSchema(),
		}.Build(), nil
	}
	return v2.ConnectorMetadata_builder{
		DisplayName:           "Fullstory",
		Description:           "Syncs Fullstory users (v2 Users API), creates and deletes them",
		AccountCreationSchema: accountCreationSchema(),
	}.Build(), nil
}

// Validate makes one API call so a wrong or under-privileged credential
// fails at start-up with a clear message instead of mid-sync. With an API
// key that call is the user listing's first page, kept for the sync.
func (c *Connector) Validate(ctx context.Context) (annotations.Annotations, error) {
	if c.scim != nil {
		_, err := c.scim.ListUsers(ctx, 1, 1)
		switch {
		case err == nil:
			return nil, nil
		case status.Code(err) == codes.Unauthenticated, status.Code(err) == codes.PermissionDenied:
			return nil, uhttp.WrapErrors(status.Code(err), "baton-fullstory: validate: Fullstory rejected the SCIM token: check --scim-token and --scim-base-url (SCIM needs Fullstory's Enterprise plan)", err)
		default:
			return nil, fmt.Errorf("baton-fullstory: validate: %w", err)
		}
	}
	err := c.users.validate(ctx)
	switch {
	case err == nil:
		return nil, nil
	case fullstory.IsForbidden(err):
		return nil, uhttp.WrapErrors(codes.PermissionDenied, "baton-fullstory: validate: Fullstory rejected the API key: it needs Admin or Architect permission", err)
	case isUnauthenticated(err):
		return nil, uhttp.WrapErrors(codes.Unauthenticated, "baton-fullstory: validate: Fullstory rejected the API key: check --api-key (BATON_API_KEY) and --base-url (EU accounts use https://api.eu1.fullstory.com)", err)
	default:
		return nil, fmt.Errorf("baton-fullstory: validate: %w", err)
	}
}

func isUnauthenticated(err error) bool {
	var apiErr *fullstory.APIError
	return errors.As(err, &apiErr) && apiErr.GRPCCode() == codes.Unauthenticated
}
