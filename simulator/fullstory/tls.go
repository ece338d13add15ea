package fullstory

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	"github.com/conductorone/baton-fullstory/internal/selfsigned"
)

// TLSMaterial is a generated CA and a server certificate it signed.
type TLSMaterial struct {
	CACertPEM   []byte          // give this to clients (SSL_CERT_FILE, a cert pool)
	CertPEM     []byte          // server certificate
	KeyPEM      []byte          // server private key
	Certificate tls.Certificate // CertPEM + KeyPEM, ready for tls.Config
}

// TLSConfig returns a server tls.Config using the certificate.
func (m *TLSMaterial) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{m.Certificate}, MinVersion: tls.VersionTLS12}
}

// SelfSignedTLS generates a CA and a server certificate for hosts (DNS
// names or IP addresses), valid from now for validFor.
func SelfSignedTLS(hosts []string, now time.Time, validFor time.Duration) (*TLSMaterial, error) {
	if len(hosts) == 0 {
		return nil, errors.New("self-signed TLS: at least one host name is needed")
	}
	notBefore, notAfter := now.Add(-time.Hour), now.Add(validFor)
	ca, err := selfsigned.NewCA(selfsigned.Template{
		Subject:   pkix.Name{CommonName: "fullstory-simulator CA", Organization: []string{"baton-fullstory simulator"}},
		NotBefore: notBefore,
		NotAfter:  notAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("self-signed TLS: %w", err)
	}
	srv, err := ca.IssueServer(selfsigned.Template{NotBefore: notBefore, NotAfter: notAfter}, hosts...)
	if err != nil {
		return nil, fmt.Errorf("self-signed TLS: %w", err)
	}
	keyPEM, err := srv.KeyPEM()
	if err != nil {
		return nil, fmt.Errorf("self-signed TLS: %w", err)
	}
	m := &TLSMaterial{CACertPEM: ca.CertPEM(), CertPEM: srv.CertPEM(), KeyPEM: keyPEM}
	// The server's certificate alone (clients hold the CA).
	if m.Certificate, err = tls.X509KeyPair(m.CertPEM, m.KeyPEM); err != nil {
		return nil, fmt.Errorf("self-signed TLS: %w", err)
	}
	return m, nil
}
