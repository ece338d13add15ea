package conductorone

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/grpc/metadata"
)

// The token fuzz targets run against a fixed clock and a client whose key
// is derived from a fixed seed, so a checked-in corpus entry can carry a
// client assertion that is valid every time it runs.
var (
	fuzzNow      = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	fuzzClientID = "fuzz@localhost/pcc"
	fuzzKey      = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
)

// fuzzAssertion signs a client assertion the way baton-sdk does, at fuzzNow.
func fuzzAssertion(tb testing.TB, aud, nonce string) string {
	tb.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: fuzzKey},
		&jose.SignerOptions{NonceSource: fixedNonce(nonce)})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: fuzzClientID, Subject: fuzzClientID, Audience: jwt.Audience{aud},
		IssuedAt:  jwt.NewNumericDate(fuzzNow),
		NotBefore: jwt.NewNumericDate(fuzzNow.Add(-2 * time.Minute)),
		Expiry:    jwt.NewNumericDate(fuzzNow.Add(2 * time.Minute)),
	}).Serialize()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// newFuzzServer is a fresh simulator (empty replay cache and token table)
// that knows the fuzz client.
func newFuzzServer(tb testing.TB, cert tls.Certificate) *Server {
	tb.Helper()
	s, err := New(WithTLSCertificate(cert, nil), WithClock(func() time.Time { return fuzzNow }))
	if err != nil {
		tb.Fatal(err)
	}
	s.mu.Lock()
	s.clients[fuzzClientID] = &client{id: fuzzClientID, publicKey: fuzzKey.Public().(ed25519.PublicKey), createdAt: fuzzNow}
	s.mu.Unlock()
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func fuzzCert(tb testing.TB) tls.Certificate {
	tb.Helper()
	ca, err := NewCertAuthority()
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := ca.IssueServerCertificate("localhost")
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

func postTokenRequest(s *Server, method, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "https://localhost"+TokenPath, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	s.httpServer.Handler.ServeHTTP(w, r)
	return w
}

// verifiesAsFuzzClient is the oracle: does form hold an assertion that the
// fuzz client's key really signed, for the right audience, valid at fuzzNow?
func verifiesAsFuzzClient(form url.Values) bool {
	if form.Get("grant_type") != grantTypeClientCredentials || form.Get("client_assertion_type") != assertionTypeJWTBearer {
		return false
	}
	if id := form.Get("client_id"); id != "" && id != fuzzClientID {
		return false
	}
	tok, err := jwt.ParseSigned(form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return false
	}
	var c jwt.Claims
	if err := tok.Claims(fuzzKey.Public(), &c); err != nil {
		return false
	}
	return c.Issuer == fuzzClientID && c.Subject == fuzzClientID && c.Expiry != nil &&
		c.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{"localhost"}, Time: fuzzNow}, DefaultClockSkew) == nil
}

// FuzzTokenRequest posts arbitrary methods, content types and bodies to the
// token endpoint. It must never panic or answer 5xx; it answers RFC 6749
// JSON errors with no-store; it issues a token only for an assertion the
// client's key really signed, and only once per assertion; an issued token
// authenticates as that client; no answer repeats the assertion.
func FuzzTokenRequest(f *testing.F) {
	valid := fuzzAssertion(f, "localhost", "nonce-1")
	form := func(kv ...string) []byte {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return []byte(v.Encode())
	}
	const ct = "application/x-www-form-urlencoded"
	const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	f.Add("POST", ct, form("grant_type", "client_credentials", "client_id", fuzzClientID, "client_assertion_type", jwtBearer, "client_assertion", valid))
	f.Add("POST", ct, form("grant_type", "client_credentials", "client_assertion_type", jwtBearer, "client_assertion", valid))
	f.Add("POST", ct+"; charset=utf-8", form("grant_type", "client_credentials", "client_id", fuzzClientID, "client_assertion_type", jwtBearer, "client_assertion", fuzzAssertion(f, "c1.example.com", "n2")))
	f.Add("POST", ct, form("grant_type", "password", "client_id", fuzzClientID, "client_assertion_type", jwtBearer, "client_assertion", valid))
	f.Add("POST", ct, form("grant_type", "client_credentials", "client_id", "other@localhost/pcc", "client_assertion_type", jwtBearer, "client_assertion", valid))
	f.Add("POST", ct, form("grant_type", "client_credentials", "client_id", fuzzClientID, "client_assertion_type", jwtBearer, "client_assertion", valid[:len(valid)-4]+"AAAA"))
	f.Add("POST", ct, form("grant_type", "client_credentials", "client_id", fuzzClientID, "client_assertion_type", "x", "client_assertion", "a.b.c"))
	f.Add("POST", ct, form("grant_type", "client_credentials", "client_id", fuzzClientID, "client_assertion_type", jwtBearer, "client_assertion", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."))
	f.Add("POST", ct, []byte("grant_type=client_credentials&client_assertion=%zz"))
	f.Add("POST", ct, []byte("grant_type=client_credentials&grant_type=password&;;&&=="))
	f.Add("POST", "application/json", []byte(`{"grant_type":"client_credentials"}`))
	f.Add("POST", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n"))
	f.Add("GET", "", []byte(nil))
	f.Add("POST", ct, bytes.Repeat([]byte("a"), 70<<10))

	cert := fuzzCert(f)
	f.Fuzz(func(t *testing.T, method, contentType string, body []byte) {
		if !validMethodName(method) || len(body) > 256<<10 {
			return
		}
		s := newFuzzServer(t, cert)
		w := postTokenRequest(s, method, contentType, body)
		checkTokenAnswer(t, s, w, method, contentType, body, true)
		if w.Code == http.StatusOK {
			// The same assertion again is a replay.
			again := postTokenRequest(s, method, contentType, body)
			if again.Code == http.StatusOK {
				t.Errorf("a replayed assertion got a second token")
			}
			checkTokenAnswer(t, s, again, method, contentType, body, false)
		}
	})
}

func checkTokenAnswer(t *testing.T, s *Server, w *httptest.ResponseRecorder, method, contentType string, body []byte, first bool) {
	t.Helper()
	if w.Code >= 500 || (w.Code != http.StatusOK && w.Code != http.StatusBadRequest && w.Code != http.StatusUnauthorized && w.Code != http.StatusMethodNotAllowed) {
		t.Fatalf("%s %q: status %d: %s", method, contentType, w.Code, w.Body.Bytes())
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	if !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
	}
	form, _ := url.ParseQuery(string(body))
	// (Only an assertion that looks like a JWS: a short one may be a word of
	// the error description.)
	if a := form.Get("client_assertion"); len(a) >= 40 && strings.Count(a, ".") == 2 && strings.Contains(w.Body.String(), a) {
		t.Errorf("the answer repeats the client assertion")
	}
	if w.Code != http.StatusOK {
		var e oauthError
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("error body is not JSON: %v: %q", err, w.Body.Bytes())
		}
		switch e.Error {
		case "invalid_request", "invalid_client", "unsupported_grant_type":
		default:
			t.Errorf("error code %q", e.Error)
		}
		if w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		return
	}

	if !first || method != http.MethodPost || !strings.HasPrefix(contentType, "application/x-www-form-urlencoded") || !verifiesAsFuzzClient(form) {
		t.Fatalf("issued a token for a request the fuzz client's key did not sign: %s %q %q", method, contentType, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
		t.Fatalf("token body: %v", err)
	}
	if tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn != int(DefaultTokenTTL/time.Second) {
		t.Errorf("token response %+v", tr)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tr.AccessToken))
	authed, err := s.authenticate(ctx)
	if err != nil || callerClientID(authed) != fuzzClientID {
		t.Errorf("the issued token does not authenticate as %s: %v", fuzzClientID, err)
	}
}

func validMethodName(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// FuzzBearerToken wraps a freshly issued bearer token in arbitrary text.
// Only "<bearer, any case> <the token>" may authenticate: no prefix, suffix,
// truncation or other scheme.
func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer", "", "", true)
	f.Add("bearer", "", "", true)
	f.Add("BEARER", "", "", true)
	f.Add("Bearer", " ", "", true)
	f.Add("Bearer", "", " ", true)
	f.Add("Bearer", "x", "", true)
	f.Add("Bearer", "", "x", true)
	f.Add("Basic", "", "", true)
	f.Add("Bearer", "", "", false)
	f.Add("", "", "", true)
	f.Add("Bearer\t", "", "", true)

	cert := fuzzCert(f)
	valid := fuzzAssertion(f, "localhost", "bearer-nonce")
	f.Fuzz(func(t *testing.T, scheme, prefix, suffix string, withToken bool) {
		s := newFuzzServer(t, cert)
		w := postTokenRequest(s, http.MethodPost, "application/x-www-form-urlencoded", []byte(url.Values{
			"grant_type":            {grantTypeClientCredentials},
			"client_assertion_type": {assertionTypeJWTBearer},
			"client_assertion":      {valid},
		}.Encode()))
		var tr tokenResponse
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &tr) != nil || tr.AccessToken == "" {
			t.Fatalf("no token for the valid assertion: %d %s", w.Code, w.Body.Bytes())
		}
		tok := ""
		if withToken {
			tok = tr.AccessToken
		}
		header := scheme + " " + prefix + tok + suffix
		_, err := s.authenticate(metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", header)))
		want := strings.EqualFold(scheme, "bearer") && !strings.Contains(scheme, " ") && prefix+tok+suffix == tr.AccessToken
		if (err == nil) != want {
			t.Errorf("authorization %q: authenticated %v, want %v (err %v)", header, err == nil, want, err)
		}
	})
}

// TestFuzzTokenFixtures keeps the fuzz targets honest: their fixed client
// and clock really do get a token, so the success path is in reach.
func TestFuzzTokenFixtures(t *testing.T) {
	s := newFuzzServer(t, fuzzCert(t))
	body := url.Values{
		"grant_type":            {grantTypeClientCredentials},
		"client_id":             {fuzzClientID},
		"client_assertion_type": {assertionTypeJWTBearer},
		"client_assertion":      {fuzzAssertion(t, "localhost", "fixture-nonce")},
	}
	if !verifiesAsFuzzClient(body) {
		t.Fatalf("the oracle refuses the fixture assertion")
	}
	w := postTokenRequest(s, http.MethodPost, "application/x-www-form-urlencoded", []byte(body.Encode()))
	if w.Code != http.StatusOK {
		t.Fatalf("fixture assertion: %d %s", w.Code, w.Body.Bytes())
	}
	checkTokenAnswer(t, s, w, http.MethodPost, "application/x-www-form-urlencoded", []byte(body.Encode()), true)
}
