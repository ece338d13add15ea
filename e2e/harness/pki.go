package harness

import (
	"crypto/x509/pkix"
	"fmt"
	"time"

	"github.com/conductorone/baton-fullstory/internal/selfsigned"
)

// CA is a throwaway certificate authority for one test run.
type CA struct {
	ca      *selfsigned.CA
	CertPEM []byte
}

// NewCA makes a CA valid for a day.
func NewCA() (*CA, error) {
	now := time.Now()
	ca, err := selfsigned.NewCA(selfsigned.Template{
		Subject:   pkix.Name{CommonName: "baton-fullstory e2e CA"},
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(24 * time.Hour),
	})
	if err != nil {
		return nil, fmt.Errorf("harness: %w", err)
	}
	return &CA{ca: ca, CertPEM: ca.CertPEM()}, nil
}

// Issue returns a PEM server certificate and key for the given DNS names and IP
// addresses, valid for a day.
func (ca *CA) Issue(hosts ...string) (certPEM, keyPEM []byte, err error) {
	now := time.Now()
	srv, err := ca.ca.IssueServer(selfsigned.Template{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}, hosts...)
	if err != nil {
		return nil, nil, fmt.Errorf("harness: %w", err)
	}
	if keyPEM, err = srv.KeyPEM(); err != nil {
		return nil, nil, fmt.Errorf("harness: %w", err)
	}
	return srv.CertPEM(), keyPEM, nil
}
