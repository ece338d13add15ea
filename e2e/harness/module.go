package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/testcontainers/testcontainers-go"
)

// The pieces every container module here (c1sim, fullstorysim, connector)
// shares: options that are testcontainers customizers, and a JSON client of
// a simulator's admin API.

// Multi groups customizers, so that one option of a module can both set the
// module's own settings and change the container request (WithNetwork does).
type Multi []testcontainers.ContainerCustomizer

// Customize implements testcontainers.ContainerCustomizer: each in order.
func (m Multi) Customize(req *testcontainers.GenericContainerRequest) error {
	for _, c := range m {
		if err := c.Customize(req); err != nil {
			return err
		}
	}
	return nil
}

// ApplyOptions runs on settings, in order, every option of the module's
// option type O among opts, Multi groups included. The others are
// testcontainers' own, for testcontainers.Run. It stops at the first error.
func ApplyOptions[O ~func(*S) error, S any](settings *S, opts []testcontainers.ContainerCustomizer) error {
	for _, opt := range flatten(opts) {
		if o, ok := opt.(O); ok {
			if err := o(settings); err != nil {
				return err
			}
		}
	}
	return nil
}

func flatten(opts []testcontainers.ContainerCustomizer) []testcontainers.ContainerCustomizer {
	var out []testcontainers.ContainerCustomizer
	for _, o := range opts {
		if m, ok := o.(Multi); ok {
			out = append(out, flatten(m)...)
			continue
		}
		out = append(out, o)
	}
	return out
}

// AdminClient sends requests to a simulator's admin API.
type AdminClient struct {
	// Name prefixes every error, e.g. "c1sim".
	Name string
	// BaseURL is the API's URL as this host reaches it.
	BaseURL func(context.Context) (string, error)
	// Token, when set, is sent as a bearer token.
	Token string
	HTTP  *http.Client
}

// Do sends method path, with in (unless nil) as a JSON body, and takes a 2xx
// answer into out: nothing when out is nil, the raw body when out is *[]byte,
// else the body decoded as JSON. Any other status is an error that carries the
// status and the body.
func (a AdminClient) Do(ctx context.Context, method, path string, in, out any) error {
	base, err := a.BaseURL(ctx)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: encode %s %s: %w", a.Name, method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", a.Name, method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", a.Name, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: read %s %s: %w", a.Name, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s %s: status %d: %s", a.Name, method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	switch out := out.(type) {
	case nil:
	case *[]byte:
		*out = b
	default:
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s: decode %s %s: %w", a.Name, method, path, err)
		}
	}
	return nil
}
