package conductorone

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	"github.com/conductorone/baton-fullstory/internal/selfsigned"
)

// DefaultTLSHostnames are the names a self-signed certificate covers when none are given.
var DefaultTLSHostnames = []string{"localhost", "127.0.0.1"}

// CertAuthority is a throwaway certificate authority: it signs the simulator's
// server certificate, and its certificate is what a connector trusts through
// SSL_CERT_FILE.
type CertAuthority struct {
	ca *selfsigned.CA
}

// NewCertAuthority generates a fresh ECDSA P-256 CA valid for one year.
func NewCertAuthority() (*CertAuthority, error) {
	now := time.Now()
	ca, err := selfsigned.NewCA(selfsigned.Template{
		Subject:   pkix.Name{CommonName: "c1-simulator CA", Organization: []string{"c1-simulator"}},
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(365 * 24 * time.Hour),
		KeyUsage:  x509.KeyUsageDigitalSignature,
	})
	if err != nil {
		return nil, fmt.Errorf("c1-simulator: %w", err)
	}
	return &CertAuthority{ca: ca}, nil
}

// CertPEM returns the CA certificate in PEM form.
func (ca *CertAuthority) CertPEM() []byte { return ca.ca.CertPEM() }

// IssueServerCertificate signs a server certificate, valid for 90 days, for
// hostnames (DNS names or IP addresses; DefaultTLSHostnames when empty). Its
// chain holds the CA's certificate after the server's.
func (ca *CertAuthority) IssueServerCertificate(hostnames ...string) (tls.Certificate, error) {
	if len(hostnames) == 0 {
		hostnames = DefaultTLSHostnames
	}
	now := time.Now()
	srv, err := ca.ca.IssueServer(selfsigned.Template{
		Subject:   pkix.Name{Organization: []string{"c1-simulator"}},
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(90 * 24 * time.Hour),
	}, hostnames...)
	if errors.Is(err, selfsigned.ErrNoHosts) {
		return tls.Certificate{}, fmt.Errorf("c1-simulator: issue server certificate: %w", err)
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("c1-simulator: %w", err)
	}
	return srv.TLSCertificate(), nil
}
