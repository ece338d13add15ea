package selfsigned

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// facts are the parts of a certificate the caller or this package choose.
type facts struct {
	CN, Org     string
	IsCA        bool
	PathLenZero bool
	KeyUsage    x509.KeyUsage
	ExtKeyUsage []x509.ExtKeyUsage
	DNSNames    []string
	IPs         []string
	NotBefore   time.Time
	NotAfter    time.Time
}

func factsOf(c *x509.Certificate) facts {
	f := facts{
		CN: c.Subject.CommonName, IsCA: c.IsCA, PathLenZero: c.MaxPathLenZero,
		KeyUsage: c.KeyUsage, ExtKeyUsage: c.ExtKeyUsage, DNSNames: c.DNSNames,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter,
	}
	if len(c.Subject.Organization) > 0 {
		f.Org = c.Subject.Organization[0]
	}
	for _, ip := range c.IPAddresses {
		f.IPs = append(f.IPs, ip.String())
	}
	return f
}

var (
	from  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	until = from.Add(48 * time.Hour)
)

func newCA(t *testing.T, usage x509.KeyUsage) *CA {
	t.Helper()
	ca, err := NewCA(Template{
		Subject:   pkix.Name{CommonName: "test CA", Organization: []string{"tests"}},
		NotBefore: from, NotAfter: until, KeyUsage: usage,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestNewCA(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra x509.KeyUsage
		want  x509.KeyUsage
	}{
		{"default usage", 0, x509.KeyUsageCertSign | x509.KeyUsageCRLSign},
		{"extra usage", x509.KeyUsageDigitalSignature, x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newCA(t, tc.extra)
			want := facts{
				CN: "test CA", Org: "tests", IsCA: true, PathLenZero: true,
				KeyUsage: tc.want, NotBefore: from, NotAfter: until,
			}
			if diff := cmp.Diff(want, factsOf(ca.Certificate())); diff != "" {
				t.Errorf("CA certificate (-want +got):\n%s", diff)
			}
			if err := ca.Certificate().CheckSignatureFrom(ca.Certificate()); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			block, rest := pem.Decode(ca.CertPEM())
			if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 || !bytes.Equal(block.Bytes, ca.Certificate().Raw) {
				t.Errorf("CertPEM is not the CA certificate: %q", ca.CertPEM())
			}
			p := ca.CertPEM()
			p[0] = 'X'
			if bytes.Equal(p, ca.CertPEM()) {
				t.Error("CertPEM returned a shared slice")
			}
		})
	}
}

func TestIssueServer(t *testing.T) {
	ca := newCA(t, 0)
	srv, err := ca.IssueServer(Template{
		Subject:   pkix.Name{Organization: []string{"tests"}},
		NotBefore: from, NotAfter: until,
	}, "", "  sim.example ", "10.0.0.1", "::1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	want := facts{
		CN: "sim.example", Org: "tests", KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"sim.example", "localhost"}, IPs: []string{"10.0.0.1", "::1"},
		NotBefore: from, NotAfter: until,
	}
	if diff := cmp.Diff(want, factsOf(srv.Leaf)); diff != "" {
		t.Errorf("server certificate (-want +got):\n%s", diff)
	}
	if !srv.Key.PublicKey.Equal(srv.Leaf.PublicKey) {
		t.Error("Key does not match Leaf")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	for _, host := range []string{"sim.example", "localhost", "10.0.0.1", "::1"} {
		_, err := srv.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: from.Add(time.Hour)})
		if err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := srv.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example", CurrentTime: from.Add(time.Hour)}); err == nil {
		t.Error("verifies for a host it does not name")
	}

	// PEM forms and the tls.Certificate.
	block, _ := pem.Decode(srv.CertPEM())
	if block == nil || block.Type != "CERTIFICATE" || !bytes.Equal(block.Bytes, srv.Leaf.Raw) {
		t.Errorf("CertPEM is not the server certificate: %q", srv.CertPEM())
	}
	keyPEM, err := srv.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(keyPEM); block == nil || block.Type != "EC PRIVATE KEY" {
		t.Fatalf("KeyPEM is not an EC PRIVATE KEY block: %q", keyPEM)
	}
	pair, err := tls.X509KeyPair(srv.CertPEM(), keyPEM)
	if err != nil {
		t.Fatalf("CertPEM and KeyPEM are no key pair: %v", err)
	}
	if !bytes.Equal(pair.Certificate[0], srv.Leaf.Raw) {
		t.Error("key pair holds another certificate")
	}
	tc := srv.TLSCertificate()
	if diff := cmp.Diff([][]byte{srv.Leaf.Raw, ca.Certificate().Raw}, tc.Certificate); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	if tc.Leaf != srv.Leaf || tc.PrivateKey != srv.Key {
		t.Error("TLSCertificate does not carry Leaf and Key")
	}
}

func TestIssueServerKeepsCommonName(t *testing.T) {
	srv, err := newCA(t, 0).IssueServer(Template{
		Subject:   pkix.Name{CommonName: "named"},
		NotBefore: from, NotAfter: until,
	}, "sim.example")
	if err != nil {
		t.Fatal(err)
	}
	if srv.Leaf.Subject.CommonName != "named" {
		t.Errorf("CN %q, want named", srv.Leaf.Subject.CommonName)
	}
}

func TestIssueServerNoHosts(t *testing.T) {
	ca := newCA(t, 0)
	for _, hosts := range [][]string{nil, {""}, {" ", "\t"}} {
		if _, err := ca.IssueServer(Template{NotBefore: from, NotAfter: until}, hosts...); !errors.Is(err, ErrNoHosts) {
			t.Errorf("IssueServer(%q) = %v, want ErrNoHosts", hosts, err)
		}
	}
}

// A TLS server with the certificate: a client that trusts the CA connects to
// every name; one that does not, fails.
func TestServeTLS(t *testing.T) {
	now := time.Now()
	ca, err := NewCA(Template{Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer(Template{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusting client's handshake fails below
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{srv.TLSCertificate()}, MinVersion: tls.VersionTLS12}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	_, port, err := net.SplitHostPort(hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.CertPEM()) {
		t.Fatal("CA PEM did not parse")
	}
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		resp, err := trusting.Get("https://" + net.JoinHostPort(host, port) + "/")
		if err != nil {
			t.Fatalf("GET via %s: %v", host, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "ok" {
			t.Errorf("GET via %s: %d %q", host, resp.StatusCode, b)
		}
	}
	plain := &http.Client{Transport: &http.Transport{}}
	if resp, err := plain.Get(hs.URL); err == nil {
		resp.Body.Close()
		t.Error("a client without the CA connected")
	}
}
