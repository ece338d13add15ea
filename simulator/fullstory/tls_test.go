package fullstory

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
