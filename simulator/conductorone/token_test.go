package conductorone

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	sdkcrypto "github.com/conductorone/baton-sdk/pkg/crypto"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMintCredentialsParseWithSDK(t *testing.T) {
	h := newHarness(t, WithTenantHost("acme.conductor.one"))
	creds := h.mint(t, "fullstory")

	if got, want := creds.ClientID, "fullstory@acme.conductor.one/pcc"; got != want {
		t.Errorf("client id: got %q, want %q", got, want)
	}
	if !regexp.MustCompile(`^secret-token:conductorone\.com:v1:[A-Za-z0-9_-]+$`).MatchString(creds.ClientSecret) {
		t.Errorf("client secret %q does not have the v1 secret-token shape", creds.ClientSecret)
	}
	jwk, err := sdkcrypto.ParseClientSecret([]byte(creds.ClientSecret), true)
	if err != nil {
		t.Fatalf("baton-sdk ParseClientSecret: %v", err)
	}
	priv, ok := jwk.Key.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("secret key is %T, want ed25519.PrivateKey", jwk.Key)
	}
	h.srv.mu.Lock()
	stored := h.srv.clients[creds.ClientID].publicKey
	h.srv.mu.Unlock()
	if !stored.Equal(priv.Public()) {
		t.Errorf("stored public key does not match the minted secret")
	}

	// The secret is handed out once and never kept or listed.
	if got, want := h.srv.Clients(), []ClientInfo{{ClientID: creds.ClientID}}; !cmp.Equal(got, want, cmpopts.IgnoreFields(ClientInfo{}, "CreatedAt")) {
		t.Errorf("Clients() = %+v, want %+v", got, want)
	}

	random := h.mint(t, "")
	if !regexp.MustCompile(`^baton-[0-9a-f]{8}@acme\.conductor\.one/pcc$`).MatchString(random.ClientID) {
		t.Errorf("generated client id %q", random.ClientID)
	}
	if _, err := h.srv.MintCredentials("fullstory"); err == nil {
		t.Errorf("minting the same name twice: got nil error")
	}
	if _, err := h.srv.MintCredentials("bad name/with@chars"); err == nil {
		t.Errorf("minting an invalid name: got nil error")
	}
}

// The SDK's own token source (ugrpc.NewC1CredentialProvider) gets a token and
// the gRPC call it authorizes goes through.
func TestSDKTokenSourceAuthenticates(t *testing.T) {
	h := newHarness(t)
	creds := h.mint(t, "svc")
	c := h.sdkBatonClient(t, creds)
	resp, err := c.GetTask(testContext(t), v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build())
	if err != nil {
		t.Fatalf("GetTask with SDK credentials: %v", err)
	}
	if resp.GetTask() != nil {
		t.Errorf("GetTask on an empty queue returned task %v", resp.GetTask())
	}
	if got, want := resp.GetNextPoll().AsDuration(), DefaultPollInterval; got != want {
		t.Errorf("next_poll: got %s, want %s", got, want)
	}
}

// A secret minted for one client does not authenticate another client ID.
func TestSDKSecretForAnotherClientRefused(t *testing.T) {
	h := newHarness(t)
	a := h.mint(t, "alpha")
	b := h.mint(t, "bravo")
	c := h.sdkBatonClient(t, Credentials{ClientID: b.ClientID, ClientSecret: a.ClientSecret})
	_, err := c.GetTask(testContext(t), v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build())
	if got := status.Code(err); got != codes.Unauthenticated {
		t.Fatalf("GetTask with a mismatched secret: got %v (%v), want Unauthenticated", got, err)
	}
	if !strings.Contains(err.Error(), "401") {
		t.Errorf("error %q does not mention the token endpoint's 401", err)
	}
}

// The SDK's assertion is valid for two minutes around its iat; once the
// simulator's clock is past that (plus skew), the same SDK code is refused.
func TestSDKAssertionExpiredRefused(t *testing.T) {
	h := newHarness(t, WithClockSkew(10*time.Second))
	creds := h.mint(t, "svc")
	h.clock.Advance(2*time.Minute + 11*time.Second)
	c := h.sdkBatonClient(t, creds)
	_, err := c.GetTask(testContext(t), v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build())
	if got := status.Code(err); got != codes.Unauthenticated {
		t.Fatalf("GetTask with an expired assertion: got %v (%v), want Unauthenticated", got, err)
	}
}

// A bearer token stops working at its expiry even though the SDK, which
// judges expiry by its own clock, keeps sending it.
func TestBearerUsedAfterExpiryRejected(t *testing.T) {
	h := newHarness(t, WithTokenTTL(time.Minute))
	creds := h.mint(t, "svc")
	c, rec := h.sdkBatonClientRecording(t, creds)
	ctx := testContext(t)
	req := v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build()
	if _, err := c.GetTask(ctx, req); err != nil {
		t.Fatalf("GetTask with a fresh token: %v", err)
	}
	firstToken := rec.lastAuthorization()

	h.clock.Advance(61 * time.Second)
	_, err := c.GetTask(ctx, req)
	if got := status.Code(err); got != codes.Unauthenticated || !strings.Contains(err.Error(), "bearer token expired") {
		t.Fatalf("GetTask with an expired token: got %v (%v), want Unauthenticated: bearer token expired", got, err)
	}
	if got := rec.lastAuthorization(); got != firstToken {
		t.Errorf("SDK did not reuse its token; the test proves nothing")
	}

	for name, tc := range map[string]struct {
		token string
		want  string
	}{
		"expired":  {token: strings.TrimPrefix(firstToken, "Bearer "), want: "bearer token expired"},
		"forged":   {token: "not-a-token", want: "invalid bearer token"},
		"no token": {token: "", want: "missing bearer token"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.bearerBatonClient(t, tc.token).GetTask(ctx, req)
			if got := status.Code(err); got != codes.Unauthenticated || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v (%v), want Unauthenticated: %s", got, err, tc.want)
			}
		})
	}
}

type assertion struct {
	key      any
	alg      jose.SignatureAlgorithm
	iss, sub string
	aud      []string
	iat, nbf time.Time
	exp      time.Time
	noExp    bool
	nonce    string
	jti      string
}

type fixedNonce string

func (n fixedNonce) Nonce() (string, error) { return string(n), nil }

// sign builds a client assertion the way the SDK's c1TokenSource does: an
// EdDSA JWS over jwt.Claims with a nonce in the protected header.
func (a assertion) sign(t *testing.T) string {
	t.Helper()
	alg := a.alg
	if alg == "" {
		alg = jose.EdDSA
	}
	opts := &jose.SignerOptions{}
	if a.nonce != "" {
		opts.NonceSource = fixedNonce(a.nonce)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: a.key}, opts)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	claims := jwt.Claims{
		Issuer: a.iss, Subject: a.sub, Audience: a.aud, ID: a.jti,
		IssuedAt: jwt.NewNumericDate(a.iat), NotBefore: jwt.NewNumericDate(a.nbf),
	}
	if !a.noExp {
		claims.Expiry = jwt.NewNumericDate(a.exp)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("sign assertion: %v", err)
	}
	return s
}

func tokenForm(clientID, assertion string) url.Values {
	return url.Values{
		"client_id":             {clientID},
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
}

func postToken(t *testing.T, h *harness, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := httpsClient().PostForm("https://"+h.addr+TokenPath, form)
	if err != nil {
		t.Fatalf("POST %s: %v", TokenPath, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode token response: %v", err)
	}
	return resp.StatusCode, body
}

func TestTokenEndpoint(t *testing.T) {
	h := newHarness(t, WithTokenTTL(90*time.Second), WithClockSkew(30*time.Second))
	creds := h.mint(t, "svc")
	other := h.mint(t, "other")
	jwk, err := sdkcrypto.ParseClientSecret([]byte(creds.ClientSecret), false)
	if err != nil {
		t.Fatalf("ParseClientSecret: %v", err)
	}
	otherJWK, err := sdkcrypto.ParseClientSecret([]byte(other.ClientSecret), false)
	if err != nil {
		t.Fatalf("ParseClientSecret: %v", err)
	}
	_, strayKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	now := h.clock.Now()
	good := func() assertion {
		return assertion{
			key: jwk, iss: creds.ClientID, sub: creds.ClientID, aud: []string{"localhost"},
			iat: now, nbf: now.Add(-2 * time.Minute), exp: now.Add(2 * time.Minute), nonce: rand.Text(),
		}
	}

	t.Run("valid assertion gets a bearer token", func(t *testing.T) {
		code, body := postToken(t, h, tokenForm(creds.ClientID, good().sign(t)))
		if code != http.StatusOK {
			t.Fatalf("status %d, body %v", code, body)
		}
		tok, _ := body["access_token"].(string)
		if len(tok) < 40 {
			t.Errorf("access_token %q is too short", tok)
		}
		delete(body, "access_token")
		if diff := cmp.Diff(map[string]any{"token_type": "Bearer", "expires_in": float64(90)}, body); diff != "" {
			t.Errorf("token response (-want +got):\n%s", diff)
		}
		if _, err := h.bearerBatonClient(t, tok).GetTask(testContext(t), v1.BatonServiceGetTaskRequest_builder{HostId: "h"}.Build()); err != nil {
			t.Errorf("GetTask with the issued token: %v", err)
		}
	})

	t.Run("replayed assertion", func(t *testing.T) {
		a := good().sign(t)
		if code, body := postToken(t, h, tokenForm(creds.ClientID, a)); code != http.StatusOK {
			t.Fatalf("first use: status %d, body %v", code, body)
		}
		code, body := postToken(t, h, tokenForm(creds.ClientID, a))
		want := map[string]any{"error": "invalid_client", "error_description": "client_assertion has already been used"}
		if code != http.StatusUnauthorized || !cmp.Equal(body, want) {
			t.Errorf("replay: got %d %v, want 401 %v", code, body, want)
		}
	})

	t.Run("replayed jti under a new nonce", func(t *testing.T) {
		a := good()
		a.jti = "jti-1"
		if code, body := postToken(t, h, tokenForm(creds.ClientID, a.sign(t))); code != http.StatusOK {
			t.Fatalf("first use: status %d, body %v", code, body)
		}
		a.nonce = rand.Text()
		code, body := postToken(t, h, tokenForm(creds.ClientID, a.sign(t)))
		if code != http.StatusUnauthorized || body["error_description"] != "client_assertion has already been used" {
			t.Errorf("jti replay: got %d %v", code, body)
		}
	})

	refusals := []struct {
		name     string
		mutate   func(a *assertion)
		form     func(f url.Values)
		wantCode int
		wantErr  string
		wantDesc string
	}{
		{name: "secret of another client", mutate: func(a *assertion) { a.key = otherJWK },
			wantDesc: "client_assertion signature does not verify for this client"},
		{name: "bad signature", mutate: func(a *assertion) { a.key = strayKey },
			wantDesc: "client_assertion signature does not verify for this client"},
		{name: "expired", mutate: func(a *assertion) {
			a.iat, a.nbf, a.exp = now.Add(-10*time.Minute), now.Add(-10*time.Minute), now.Add(-31*time.Second)
		}, wantDesc: "client_assertion is expired"},
		{name: "not yet valid", mutate: func(a *assertion) { a.nbf = now.Add(time.Minute) },
			wantDesc: "client_assertion is not valid yet (nbf)"},
		{name: "issued in the future", mutate: func(a *assertion) { a.iat = now.Add(time.Minute) },
			wantDesc: "client_assertion iat is in the future"},
		{name: "no exp", mutate: func(a *assertion) { a.noExp = true },
			wantDesc: "client_assertion has no exp"},
		{name: "exp too far away", mutate: func(a *assertion) { a.exp = now.Add(time.Hour) },
			wantDesc: "client_assertion exp is more than 10m0s away"},
		{name: "wrong audience", mutate: func(a *assertion) { a.aud = []string{"evil.example"} },
			wantDesc: `client_assertion aud must be "localhost"`},
		{name: "audience with port", mutate: func(a *assertion) { a.aud = []string{"localhost:8443"} },
			wantDesc: `client_assertion aud must be "localhost"`},
		{name: "wrong issuer", mutate: func(a *assertion) { a.iss = other.ClientID },
			wantDesc: "client_assertion iss must be the client id"},
		{name: "wrong subject", mutate: func(a *assertion) { a.sub = "someone" },
			wantDesc: "client_assertion sub must be the client id"},
		{name: "no nonce or jti", mutate: func(a *assertion) { a.nonce = "" },
			wantDesc: "client_assertion carries neither a jti nor a nonce"},
		{name: "HS256 instead of EdDSA", mutate: func(a *assertion) { a.alg, a.key = jose.HS256, []byte("0123456789abcdef0123456789abcdef") },
			wantDesc: "client_assertion is not an EdDSA-signed JWT"},
		{name: "unknown client", form: func(f url.Values) { f.Set("client_id", "ghost@localhost/pcc") },
			wantDesc: "unknown client"},
		{name: "wrong grant type", form: func(f url.Values) { f.Set("grant_type", "password") },
			wantCode: http.StatusBadRequest, wantErr: "unsupported_grant_type", wantDesc: `grant_type must be "client_credentials"`},
		{name: "wrong assertion type", form: func(f url.Values) { f.Set("client_assertion_type", "saml") },
			wantCode: http.StatusBadRequest, wantErr: "invalid_request",
			wantDesc: `client_assertion_type must be "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"`},
		{name: "no assertion", form: func(f url.Values) { f.Del("client_assertion") },
			wantCode: http.StatusBadRequest, wantErr: "invalid_request", wantDesc: "client_assertion is required"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			a := good()
			if tc.mutate != nil {
				tc.mutate(&a)
			}
			form := tokenForm(creds.ClientID, a.sign(t))
			if tc.form != nil {
				tc.form(form)
			}
			wantCode, wantErr := tc.wantCode, tc.wantErr
			if wantCode == 0 {
				wantCode, wantErr = http.StatusUnauthorized, "invalid_client"
			}
			code, body := postToken(t, h, form)
			want := map[string]any{"error": wantErr, "error_description": tc.wantDesc}
			if code != wantCode || !cmp.Equal(body, want) {
				t.Errorf("got %d %v, want %d %v", code, body, wantCode, want)
			}
		})
	}

	t.Run("GET is not allowed", func(t *testing.T) {
		resp, err := httpsClient().Get("https://" + h.addr + TokenPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: status %d, want 405", TokenPath, resp.StatusCode)
		}
	})
}
