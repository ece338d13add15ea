package conductorone

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	// clientIDSuffix ends every client ID ConductorOne mints for a connector
	// ("personal client credential").
	clientIDSuffix = "/pcc"
	// secretPrefix is the fixed head of a v1 client secret; the SDK splits the
	// secret on ":" into exactly four parts and requires the third to be "v1".
	secretPrefix = "secret-token:conductorone.com:v1:"
)

var clientNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Credentials is a client ID and secret as ConductorOne's "Rotate" button shows
// them. The simulator keeps only the public half of the key; the secret exists
// only in the value returned to the caller.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// EnvLines renders the credentials as the env file a connector reads.
func (c Credentials) EnvLines() string {
	return "BATON_CLIENT_ID=" + c.ClientID + "\nBATON_CLIENT_SECRET=" + c.ClientSecret + "\n"
}

// ClientInfo describes a registered client without any secret material.
type ClientInfo struct {
	ClientID  string    `json:"client_id"`
	CreatedAt time.Time `json:"created_at"`
}

type client struct {
	id        string
	publicKey ed25519.PublicKey
	createdAt time.Time
}

// MintCredentials creates a client named name (random when empty) and returns its
// one-time secret. Only the public key is remembered.
func (s *Server) MintCredentials(name string) (Credentials, error) {
	if name == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return Credentials{}, fmt.Errorf("c1-simulator: mint credentials: %w", err)
		}
		name = "baton-" + hex.EncodeToString(b[:])
	}
	if !clientNameRE.MatchString(name) {
		return Credentials{}, fmt.Errorf("%w: client name %q must match %s", ErrInvalidRequest, name, clientNameRE)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Credentials{}, fmt.Errorf("c1-simulator: mint credentials: %w", err)
	}
	secret, err := encodeClientSecret(priv)
	if err != nil {
		return Credentials{}, err
	}
	clientID := name + "@" + s.opts.tenantHost + clientIDSuffix

	s.mu.Lock()
	if _, exists := s.clients[clientID]; exists {
		s.mu.Unlock()
		return Credentials{}, fmt.Errorf("%w: client %q already exists", ErrConflict, clientID)
	}
	s.clients[clientID] = &client{id: clientID, publicKey: pub, createdAt: s.now()}
	s.changedLocked()
	s.mu.Unlock()

	s.logger.Info("minted client credentials", "client_id", clientID)
	return Credentials{ClientID: clientID, ClientSecret: secret}, nil
}

// Clients lists the registered clients, oldest first.
func (s *Server) Clients() []ClientInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ClientInfo, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, ClientInfo{ClientID: c.id, CreatedAt: c.createdAt})
	}
	sortClients(out)
	return out
}

// encodeClientSecret renders an Ed25519 private key the way the SDK's
// crypto.ParseClientSecret reads it: a private JWK, base64url without padding,
// after the "secret-token:conductorone.com:v1:" prefix.
func encodeClientSecret(priv ed25519.PrivateKey) (string, error) {
	jwk := jose.JSONWebKey{Key: priv, Algorithm: string(jose.EdDSA), Use: "sig"}
	raw, err := jwk.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("c1-simulator: encode client secret: %w", err)
	}
	return secretPrefix + base64.RawURLEncoding.EncodeToString(raw), nil
}

// clientAudience is the audience the SDK puts in its client assertion: the host
// part of the client ID (between "@" and "/"), without any port.
func clientAudience(clientID string) (string, error) {
	_, rest, ok := strings.Cut(clientID, "@")
	if !ok {
		return "", errors.New("client id has no @")
	}
	host, _, ok := strings.Cut(rest, "/")
	if !ok || host == "" {
		return "", errors.New("client id has no host")
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return host, nil
}

func marshalPublicJWK(pub ed25519.PublicKey) (json.RawMessage, error) {
	return jose.JSONWebKey{Key: pub, Algorithm: string(jose.EdDSA), Use: "sig"}.MarshalJSON()
}

func unmarshalPublicJWK(raw json.RawMessage) (ed25519.PublicKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	pub, ok := jwk.Key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want ed25519 public key", jwk.Key)
	}
	return pub, nil
}
