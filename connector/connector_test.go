package connector

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/conductorone/baton-fullstory/connector/fullstory"
	"github.com/conductorone/baton-fullstory/internal/httpscript"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

const testKey = "connector-test-key"

type step = httpscript.Step

// newTestConnector returns a connector talking to a scripted server, with
// retries that do not sleep.
func newTestConnector(t *testing.T, includeAnonymous bool, steps ...step) *Connector {
	t.Helper()
	base := httpscript.Server(t, "Basic "+testKey, steps...)
	c, err := New(context.Background(), Options{
		APIKey:                testKey,
		BaseURL:               base,
		IncludeAnonymousUsers: includeAnonymous,
		ClientOptions: []fullstory.ClientOption{
			fullstory.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}),
			fullstory.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() }),
		},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestNewRefusesBadSettingsBeforeAnyRequest(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    Options
		errPart string
	}{
		{"neither source", Options{BaseURL: "https://api.fullstory.com"}, "no Fullstory credentials are given; " + errOneSource},
		{"blank key", Options{APIKey: "  ", BaseURL: "https://api.fullstory.com"}, "no Fullstory credentials are given; " + errOneSource},
		{"both sources", Options{APIKey: "k", SCIMBaseURL: "https://app.fullstory.com/scim/v2", SCIMToken: "t"}, "both an API key and SCIM settings are given; " + errOneSource},
		{"both, SCIM URL only", Options{APIKey: "k", SCIMBaseURL: "https://app.fullstory.com/scim/v2"}, "both an API key and SCIM settings"},
		{"SCIM token without URL", Options{SCIMToken: "t"}, "SCIM needs both --scim-base-url and --scim-token"},
		{"SCIM URL without token", Options{SCIMBaseURL: "https://app.fullstory.com/scim/v2"}, "SCIM needs both"},
		{"SCIM URL malformed", Options{SCIMBaseURL: "app.fullstory.com/scim/v2", SCIMToken: "t"}, "SCIM base URL"},
		{"SCIM plain http off loopback", Options{SCIMBaseURL: "http://app.fullstory.com/scim/v2", SCIMToken: "t"}, "would send the SCIM token unencrypted"},
		{"malformed URL", Options{APIKey: "k", BaseURL: "api.fullstory.com"}, "must start with https://"},
		{"plain http to a remote host", Options{APIKey: "k", BaseURL: "http://api.fullstory.com"}, "pass --insecure-http"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.errPart) {
				t.Fatalf("got %v, want an error containing %q", err, tt.errPart)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
		})
	}
	for _, ok := range []Options{
		{APIKey: "k"},
		{APIKey: "k", BaseURL: "http://127.0.0.1:8089"},
		{APIKey: "k", BaseURL: "http://localhost:8089"},
		{APIKey: "k", BaseURL: "http://[::1]:8089"},
		{APIKey: "k", BaseURL: "http://fullstory-simulator:8089", InsecureHTTP: true},
		{SCIMBaseURL: "https://app.fullstory.com/scim/v2", SCIMToken: "t"},
		{SCIMBaseURL: "http://127.0.0.1:8089/scim/v2/", SCIMToken: "t"},
	} {
		if _, err := New(context.Background(), ok); err != nil {
			t.Errorf("New(%+v): %v", ok.BaseURL, err)
		}
	}
}

func TestValidateExplainsKeyProblems(t *testing.T) {
	for _, tt := range []struct {
		status   int
		body     string
		wantCode codes.Code
		wantPart string
	}{
		{403, `{"code":"forbidden","message":"no"}`, codes.PermissionDenied, "Fullstory rejected the API key: it needs Admin or Architect permission"},
		{401, `{"code":"unauthorized","message":"no"}`, codes.Unauthenticated, "Fullstory rejected the API key: check --api-key"},
	} {
		c := newTestConnector(t, false, step{Method: "GET", Path: "/v2/users", Query: "is_identified=true", Status: tt.status, Body: tt.body})
		_, err := c.Validate(context.Background())
		if status.Code(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantPart) {
			t.Errorf("Validate on %d = %v (code %v), want code %v containing %q", tt.status, err, status.Code(err), tt.wantCode, tt.wantPart)
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("error %q contains the API key", err)
		}
	}
	c := newTestConnector(t, false, step{Method: "GET", Path: "/v2/users", Query: "is_identified=true", Status: 200, Body: `{"results":[],"total_records":"0"}`})
	if _, err := c.Validate(context.Background()); err != nil {
		t.Errorf("Validate with a good key: %v", err)
	}
}

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
