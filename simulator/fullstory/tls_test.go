package fullstory

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// newTLSServer serves sim over HTTPS (HTTP/2 enabled) with a generated CA;
// its Client trusts only that CA.
func newTLSServer(t *testing.T, sim *Server) *httptest.Server {
	t.Helper()
	m, err := SelfSignedTLS([]string{"localhost", "127.0.0.1"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(sim.Handler())
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected below
	srv.TLS = m.TLSConfig()
	srv.StartTLS()
	t.Cleanup(func() {
		srv.Close()
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(m.CACertPEM) {
		t.Fatal("CA PEM did not parse")
	}
	tr := srv.Client().Transport.(*http.Transport)
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.ForceAttemptHTTP2 = true
	return srv
}

func TestSelfSignedTLS(t *testing.T) {
	sim, err := New(WithAPIKey(adminKey, RoleAdmin), WithUsers(3))
	if err != nil {
		t.Fatal(err)
	}
	srv := newTLSServer(t, sim)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		u := strings.Replace(srv.URL, "127.0.0.1", host, 1) + "/v2/users"
		hr, _ := http.NewRequest("GET", u, nil)
		hr.Header.Set("Authorization", "Basic "+adminKey)
		resp, err := srv.Client().Do(hr)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
			t.Errorf("GET %s: %d over %s, want 200 over HTTP/2", u, resp.StatusCode, resp.Proto)
		}
	}
	// A client that does not trust the CA fails.
	plain := &http.Client{Transport: &http.Transport{}}
	if resp, err := plain.Get(srv.URL + "/_simulator/healthz"); err == nil {
		resp.Body.Close()
		t.Error("a client without the CA connected")
	}

	m, err := SelfSignedTLS([]string{"sim.example", "10.0.0.1"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(m.Certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "sim.example" || len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "10.0.0.1" {
		t.Errorf("SANs %v %v, want [sim.example] [10.0.0.1]", leaf.DNSNames, leaf.IPAddresses)
	}
	if _, err := SelfSignedTLS(nil, time.Now(), time.Hour); err == nil {
		t.Error("SelfSignedTLS with no hosts succeeded")
	}
}

// TestSelfSignedTLSMaterial pins what SelfSignedTLS generates: the CA and
// the server certificate, their names, uses and validity, and the PEM forms.
func TestSelfSignedTLSMaterial(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	m, err := SelfSignedTLS([]string{"sim.example", "", "10.0.0.1", "localhost"}, now, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parse := func(what string, p []byte, typ string) []byte {
		t.Helper()
		block, rest := pem.Decode(p)
		if block == nil || block.Type != typ || len(rest) != 0 {
			t.Fatalf("%s is not one %s block: %q", what, typ, p)
		}
		return block.Bytes
	}
	caCert, err := x509.ParseCertificate(parse("CACertPEM", m.CACertPEM, "CERTIFICATE"))
	if err != nil {
		t.Fatal(err)
	}
	leafDER := parse("CertPEM", m.CertPEM, "CERTIFICATE")
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParseECPrivateKey(parse("KeyPEM", m.KeyPEM, "EC PRIVATE KEY"))
	if err != nil {
		t.Fatal(err)
	}

	type facts struct {
		CN                string
		Org               []string
		IsCA, PathLenZero bool
		KeyUsage          x509.KeyUsage
		ExtKeyUsage       []x509.ExtKeyUsage
		DNS, IPs          []string
		NotBefore, After  time.Time
		Curve             string
	}
	of := func(c *x509.Certificate) facts {
		f := facts{
			CN: c.Subject.CommonName, Org: c.Subject.Organization, IsCA: c.IsCA, PathLenZero: c.MaxPathLenZero,
			KeyUsage: c.KeyUsage, ExtKeyUsage: c.ExtKeyUsage, DNS: c.DNSNames,
			NotBefore: c.NotBefore, After: c.NotAfter, Curve: c.PublicKey.(*ecdsa.PublicKey).Curve.Params().Name,
		}
		for _, ip := range c.IPAddresses {
			f.IPs = append(f.IPs, ip.String())
		}
		return f
	}
	from, until := now.Add(-time.Hour), now.Add(48*time.Hour)
	wantCA := facts{
		CN: "fullstory-simulator CA", Org: []string{"baton-fullstory simulator"}, IsCA: true, PathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, NotBefore: from, After: until, Curve: "P-256",
	}
	if diff := cmp.Diff(wantCA, of(caCert)); diff != "" {
		t.Errorf("CA certificate (-want +got):\n%s", diff)
	}
	wantLeaf := facts{
		CN: "sim.example", KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNS:         []string{"sim.example", "localhost"}, IPs: []string{"10.0.0.1"},
		NotBefore: from, After: until, Curve: "P-256",
	}
	if diff := cmp.Diff(wantLeaf, of(leaf)); diff != "" {
		t.Errorf("server certificate (-want +got):\n%s", diff)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		t.Error("KeyPEM does not match CertPEM")
	}
	if err := leaf.CheckSignatureFrom(caCert); err != nil {
		t.Errorf("the CA did not sign the server certificate: %v", err)
	}
	if len(m.Certificate.Certificate) != 1 || !bytes.Equal(m.Certificate.Certificate[0], leafDER) {
		t.Errorf("Certificate chain has %d certificates, want CertPEM alone", len(m.Certificate.Certificate))
	}
	if m.Certificate.Leaf == nil || !bytes.Equal(m.Certificate.Leaf.Raw, leafDER) {
		t.Error("Certificate.Leaf is not CertPEM's certificate")
	}
	if k, ok := m.Certificate.PrivateKey.(*ecdsa.PrivateKey); !ok || !k.Equal(key) {
		t.Errorf("Certificate.PrivateKey %T is not KeyPEM's key", m.Certificate.PrivateKey)
	}
	cfg := m.TLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 || len(cfg.Certificates) != 1 || !bytes.Equal(cfg.Certificates[0].Certificate[0], leafDER) {
		t.Errorf("TLSConfig: MinVersion %x, %d certificates", cfg.MinVersion, len(cfg.Certificates))
	}
}
