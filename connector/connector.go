// Package connector is baton-fullstory's baton-sdk builder: it turns
// Fullstory's v2 users into baton user resources and provisions them.
package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/conductorone/baton-fullstory/connector/config"
	"github.com/conductorone/baton-fullstory/connector/fullstory"
	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/cli"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/uhttp"
	"google.golang.org/grpc/codes"
)

// Connector is the Fullstory connector.
type Connector struct {
	client           *fullstory.Client
	includeAnonymous bool
}

var _ connectorbuilder.ConnectorBuilderV2 = (*Connector)(nil)

// Options are the connector's settings, independent of how they were given.
type Options struct {
	APIKey                string
	BaseURL               string
	IncludeAnonymousUsers bool
	InsecureHTTP          bool
	ClientOptions         []fullstory.ClientOption
}

// New builds the connector after checking its settings; it sends nothing.
func New(ctx context.Context, o Options) (*Connector, error) {
	if strings.TrimSpace(o.APIKey) == "" {
		return nil, errors.New("baton-fullstory: the Fullstory API key is missing: pass --api-key or set BATON_API_KEY")
	}
	if o.BaseURL == "" {
		o.BaseURL = fullstory.DefaultBaseURL
	}
	u, err := fullstory.ParseBaseURL(o.BaseURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" && !o.InsecureHTTP && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("baton-fullstory: base URL %q is plain http to a non-loopback host, which would send the API key unencrypted: use https, or pass --insecure-http for a simulator on a private network", o.BaseURL)
	}
	client, err := fullstory.NewClient(ctx, u.String(), strings.TrimSpace(o.APIKey), o.ClientOptions...)
	if err != nil {
		return nil, err
	}
	return &Connector{client: client, includeAnonymous: o.IncludeAnonymousUsers}, nil
}

// NewFromConfig is the constructor baton-sdk's RunConnector calls.
func NewFromConfig(ctx context.Context, cfg *config.Fullstory, _ *cli.ConnectorOpts) (connectorbuilder.ConnectorBuilderV2, []connectorbuilder.Opt, error) {
	c, err := New(ctx, Options{
		APIKey:                cfg.ApiKey,
		BaseURL:               cfg.BaseUrl,
		IncludeAnonymousUsers: cfg.IncludeAnonymousUsers,
		InsecureHTTP:          cfg.InsecureHttp,
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

// ResourceSyncers lists the resource types the connector syncs.
func (c *Connector) ResourceSyncers(context.Context) []connectorbuilder.ResourceSyncerV2 {
	return []connectorbuilder.ResourceSyncerV2{newUserBuilder(c.client, c.includeAnonymous)}
}

// Metadata describes the connector and its account-creation form.
func (c *Connector) Metadata(context.Context) (*v2.ConnectorMetadata, error) {
	return v2.ConnectorMetadata_builder{
		DisplayName:           "Fullstory",
		Description:           "Syncs Fullstory users (v2 Users API) and provisions them",
		AccountCreationSchema: accountCreationSchema(),
	}.Build(), nil
}

// Validate makes one API call so a wrong or under-privileged key fails at
// start-up with a clear message instead of mid-sync.
func (c *Connector) Validate(ctx context.Context) (annotations.Annotations, error) {
	identified := true
	_, err := c.client.ListUsers(ctx, fullstory.ListUsersParams{IsIdentified: &identified})
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
