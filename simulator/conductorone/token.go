package conductorone

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	// TokenPath is where the SDK posts its client assertion.
	TokenPath = "/auth/v1/token"

	grantTypeClientCredentials = "client_credentials"
	assertionTypeJWTBearer     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	maxTokenRequestBytes       = 64 << 10
)

type tokenEntry struct {
	clientID  string
	expiresAt time.Time
}

// tokenResponse is what the SDK's c1TokenSource decodes.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// oauthError is an RFC 6749 section 5.2 error body.
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

type tokenError struct {
	status int
	code   string
	desc   string
}

func (e *tokenError) Error() string { return e.code + ": " + e.desc }

func invalidClient(format string, args ...any) *tokenError {
	return &tokenError{status: http.StatusUnauthorized, code: "invalid_client", desc: fmt.Sprintf(format, args...)}
}

func invalidRequest(format string, args ...any) *tokenError {
	return &tokenError{status: http.StatusBadRequest, code: "invalid_request", desc: fmt.Sprintf(format, args...)}
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, oauthError{Error: "invalid_request", ErrorDescription: "use POST"})
		return
	}
	resp, err := s.exchangeAssertion(r)
	if err != nil {
		var te *tokenError
		if !errors.As(err, &te) {
			te = &tokenError{status: http.StatusInternalServerError, code: "server_error", desc: "internal error"}
			s.logger.Error("token endpoint", "error", err)
		}
		if te.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_client"`)
		}
		s.logger.Info("token request refused", "error", te.code, "reason", te.desc)
		writeJSON(w, te.status, oauthError{Error: te.code, ErrorDescription: te.desc})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) exchangeAssertion(r *http.Request) (*tokenResponse, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxTokenRequestBytes)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, invalidRequest("content type must be application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("malformed form body")
	}
	form := r.PostForm
	if gt := form.Get("grant_type"); gt != grantTypeClientCredentials {
		return nil, &tokenError{status: http.StatusBadRequest, code: "unsupported_grant_type",
			desc: fmt.Sprintf("grant_type must be %q", grantTypeClientCredentials)}
	}
	if at := form.Get("client_assertion_type"); at != assertionTypeJWTBearer {
		return nil, invalidRequest("client_assertion_type must be %q", assertionTypeJWTBearer)
	}
	assertion := form.Get("client_assertion")
	if assertion == "" {
		return nil, invalidRequest("client_assertion is required")
	}

	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, invalidClient("client_assertion is not an EdDSA-signed JWT")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, invalidClient("client_assertion claims are malformed")
	}
	clientID := form.Get("client_id")
	if clientID == "" {
		clientID = unverified.Issuer
	}
	if clientID == "" {
		return nil, invalidClient("client_id is required")
	}

	s.mu.Lock()
	c, ok := s.clients[clientID]
	s.mu.Unlock()
	if !ok {
		return nil, invalidClient("unknown client")
	}

	var claims jwt.Claims
	if err := tok.Claims(c.publicKey, &claims); err != nil {
		return nil, invalidClient("client_assertion signature does not verify for this client")
	}
	aud, err := clientAudience(clientID)
	if err != nil {
		return nil, invalidClient("client id is malformed: %v", err)
	}
	now := s.now()
	if claims.Issuer != clientID {
		return nil, invalidClient("client_assertion iss must be the client id")
	}
	if claims.Subject != clientID {
		return nil, invalidClient("client_assertion sub must be the client id")
	}
	if claims.Expiry == nil {
		return nil, invalidClient("client_assertion has no exp")
	}
	err = claims.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{aud}, Time: now}, s.opts.clockSkew)
	switch {
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, invalidClient("client_assertion aud must be %q", aud)
	case errors.Is(err, jwt.ErrExpired):
		return nil, invalidClient("client_assertion is expired")
	case errors.Is(err, jwt.ErrNotValidYet):
		return nil, invalidClient("client_assertion is not valid yet (nbf)")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, invalidClient("client_assertion iat is in the future")
	case err != nil:
		return nil, invalidClient("client_assertion claims are invalid")
	}
	expiry := claims.Expiry.Time()
	if expiry.After(now.Add(maxAssertionLifetime + s.opts.clockSkew)) {
		return nil, invalidClient("client_assertion exp is more than %s away", maxAssertionLifetime)
	}

	// The SDK sets no jti; it puts a random nonce in the JWS protected header.
	replayKey := ""
	switch {
	case claims.ID != "":
		replayKey = "jti:" + claims.ID
	case len(tok.Headers) > 0 && tok.Headers[0].Nonce != "":
		replayKey = "nonce:" + tok.Headers[0].Nonce
	default:
		return nil, invalidClient("client_assertion carries neither a jti nor a nonce")
	}
	replayKey = clientID + "|" + replayKey

	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	for k, until := range s.seenAssertions {
		if now.After(until) {
			delete(s.seenAssertions, k)
		}
	}
	if _, seen := s.seenAssertions[replayKey]; seen {
		s.mu.Unlock()
		return nil, invalidClient("client_assertion has already been used")
	}
	if _, still := s.clients[clientID]; !still {
		s.mu.Unlock()
		return nil, invalidClient("unknown client")
	}
	s.seenAssertions[replayKey] = expiry.Add(s.opts.clockSkew)
	for k, e := range s.tokens {
		if now.After(e.expiresAt) {
			delete(s.tokens, k)
		}
	}
	s.tokens[hashToken(token)] = tokenEntry{clientID: clientID, expiresAt: now.Add(s.opts.tokenTTL)}
	s.changedLocked()
	s.mu.Unlock()
	s.save()

	s.logger.Info("issued bearer token", "client_id", clientID, "ttl", s.opts.tokenTTL)
	return &tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int(s.opts.tokenTTL / time.Second)}, nil
}

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("c1-simulator: token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

type clientIDKey struct{}

// authenticate checks the bearer token in the call's metadata.
func (s *Server) authenticate(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return nil, status.Error(codes.Unauthenticated, "missing bearer token")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return nil, status.Error(codes.Unauthenticated, "authorization must be a bearer token")
	}
	s.mu.Lock()
	e, found := s.tokens[hashToken(tok)]
	_, clientOK := s.clients[e.clientID]
	s.mu.Unlock()
	switch {
	case !found || !clientOK:
		return nil, status.Error(codes.Unauthenticated, "invalid bearer token")
	case !s.now().Before(e.expiresAt):
		return nil, status.Error(codes.Unauthenticated, "bearer token expired")
	}
	return context.WithValue(ctx, clientIDKey{}, e.clientID), nil
}

func callerClientID(ctx context.Context) string {
	id, _ := ctx.Value(clientIDKey{}).(string)
	return id
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := s.authenticate(ctx)
	if err != nil {
		s.logger.Info("grpc call refused", "method", info.FullMethod, "error", err)
		return nil, err
	}
	return handler(ctx, req)
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *authedStream) Context() context.Context { return a.ctx }

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := s.authenticate(ss.Context())
	if err != nil {
		s.logger.Info("grpc stream refused", "method", info.FullMethod, "error", err)
		return err
	}
	return handler(srv, &authedStream{ServerStream: ss, ctx: ctx})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
