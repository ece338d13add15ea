package harness

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/conductorone/baton-fullstory/internal/selfsigned"
)

func TestCAIssue(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue("fullstory", "localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("certificate and key are no pair: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.CertPEM) {
		t.Fatal("CA PEM did not parse")
	}
	for _, host := range []string{"fullstory", "localhost", "127.0.0.1"} {
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	// Valid from an hour ago for a day.
	if d := pair.Leaf.NotAfter.Sub(pair.Leaf.NotBefore); d != 25*time.Hour {
		t.Errorf("validity %v, want 25h", d)
	}
	if d := time.Until(pair.Leaf.NotAfter); d < 23*time.Hour || d > 24*time.Hour {
		t.Errorf("expires in %v, want about 24h", d)
	}

	if _, _, err := ca.Issue(); !errors.Is(err, selfsigned.ErrNoHosts) {
		t.Errorf("Issue() = %v, want ErrNoHosts", err)
	}
}
