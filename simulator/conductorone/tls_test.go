package conductorone

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// c1CertFacts is what the simulator decides about a certificate it generates.
type c1CertFacts struct {
	CommonName     string
	Organization   []string
	IsCA           bool
	MaxPathLenZero bool
	KeyUsage       x509.KeyUsage
	ExtKeyUsage    []x509.ExtKeyUsage
	DNSNames       []string
	IPAddresses    []string
	Curve          string
	Lifetime       time.Duration // NotAfter - NotBefore
}

func c1Facts(c *x509.Certificate) c1CertFacts {
	f := c1CertFacts{
		CommonName: c.Subject.CommonName, Organization: c.Subject.Organization,
		IsCA: c.IsCA, MaxPathLenZero: c.MaxPathLenZero, KeyUsage: c.KeyUsage, ExtKeyUsage: c.ExtKeyUsage,
		DNSNames: c.DNSNames, Lifetime: c.NotAfter.Sub(c.NotBefore),
	}
	for _, ip := range c.IPAddresses {
		f.IPAddresses = append(f.IPAddresses, ip.String())
	}
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
		f.Curve = k.Curve.Params().Name
	}
	return f
}

// checkNotBefore: certificates are valid from an hour before they are made.
func checkNotBefore(t *testing.T, what string, c *x509.Certificate, made time.Time) {
	t.Helper()
	want := made.Add(-time.Hour).Truncate(time.Second)
	if d := c.NotBefore.Sub(want); d < 0 || d > time.Minute {
		t.Errorf("%s NotBefore %v, want about %v", what, c.NotBefore, want)
	}
}

func TestCertAuthority(t *testing.T) {
	made := time.Now()
	ca, err := NewCertAuthority()
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(ca.CertPEM())
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("CertPEM is not one CERTIFICATE block: %q", ca.CertPEM())
	}
	caCert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	wantCA := c1CertFacts{
		CommonName: "c1-simulator CA", Organization: []string{"c1-simulator"},
		IsCA: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		Curve:    elliptic.P256().Params().Name, Lifetime: 365*24*time.Hour + time.Hour,
	}
	if diff := cmp.Diff(wantCA, c1Facts(caCert)); diff != "" {
		t.Errorf("CA certificate (-want +got):\n%s", diff)
	}
	checkNotBefore(t, "CA", caCert, made)
	if err := caCert.CheckSignatureFrom(caCert); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}

	// CertPEM hands out a copy.
	pemCopy := ca.CertPEM()
	pemCopy[0] = 'X'
	if bytes.Equal(pemCopy, ca.CertPEM()) {
		t.Error("CertPEM returned the CA's own slice")
	}

	cert, err := ca.IssueServerCertificate("sim.internal", " 10.0.0.7 ", "", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 2 || !bytes.Equal(cert.Certificate[1], caCert.Raw) {
		t.Fatalf("chain has %d certificates, want the server's then the CA's", len(cert.Certificate))
	}
	if cert.Leaf == nil || !bytes.Equal(cert.Leaf.Raw, cert.Certificate[0]) {
		t.Fatal("Leaf is not the chain's first certificate")
	}
	wantLeaf := c1CertFacts{
		CommonName: "sim.internal", Organization: []string{"c1-simulator"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"sim.internal", "localhost"}, IPAddresses: []string{"10.0.0.7"},
		Curve: elliptic.P256().Params().Name, Lifetime: 90*24*time.Hour + time.Hour,
	}
	if diff := cmp.Diff(wantLeaf, c1Facts(cert.Leaf)); diff != "" {
		t.Errorf("server certificate (-want +got):\n%s", diff)
	}
	checkNotBefore(t, "server", cert.Leaf, made)
	key, ok := cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.Leaf.PublicKey) {
		t.Errorf("private key %T does not match the certificate", cert.PrivateKey)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	for _, host := range []string{"sim.internal", "localhost", "10.0.0.7"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.internal"}); err == nil {
		t.Error("the certificate verifies for a host it does not name")
	}
}

func TestIssueServerCertificateHostnames(t *testing.T) {
	ca, err := NewCertAuthority()
	if err != nil {
		t.Fatal(err)
	}
	def, err := ca.IssueServerCertificate()
	if err != nil {
		t.Fatal(err)
	}
	got := c1Facts(def.Leaf)
	if diff := cmp.Diff([]any{"localhost", []string{"localhost"}, []string{"127.0.0.1"}},
		[]any{got.CommonName, got.DNSNames, got.IPAddresses}); diff != "" {
		t.Errorf("default hostnames: CN, DNS names, IPs (-want +got):\n%s", diff)
	}

	_, err = ca.IssueServerCertificate(" ", "")
	if err == nil || err.Error() != "c1-simulator: issue server certificate: no hostnames" {
		t.Errorf("blank hostnames: error %v", err)
	}
}
