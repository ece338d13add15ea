// Package selfsigned makes throwaway TLS material in memory: an ECDSA P-256
// certificate authority and server certificates it signs for host names and
// IP addresses. Both simulators serve TLS with it when given no certificate;
// their clients trust the CA's certificate.
//
// Errors name only what failed; callers add their own context.
package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// Template is what a caller chooses about a certificate to make.
type Template struct {
	Subject   pkix.Name
	NotBefore time.Time
	NotAfter  time.Time
	// KeyUsage is added to what every certificate of its kind may do (a CA:
	// sign certificates and CRLs; a server certificate: digital signatures).
	KeyUsage x509.KeyUsage
}

// ErrNoHosts is IssueServer's error when no host name remains.
var ErrNoHosts = errors.New("no hostnames")

// CA is a certificate authority whose key lives only in memory.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA generates a key and a self-signed CA certificate for it that signs
// only end-entity certificates (path length zero).
func NewCA(t Template) (*CA, error) {
	tmpl, err := t.start(x509.KeyUsageCertSign | x509.KeyUsageCRLSign)
	if err != nil {
		return nil, err
	}
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = true
	tmpl.MaxPathLenZero = true
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	cert, err := sign("CA", tmpl, tmpl, key, key)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key}, nil
}

// Certificate is the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM is the CA's certificate in PEM form, a new slice on every call.
func (ca *CA) CertPEM() []byte { return certPEM(ca.cert.Raw) }

// IssueServer signs a server-authentication certificate for a fresh key,
// naming hosts: each is an IP address or else a DNS name; surrounding space
// is trimmed and blank ones are left out (ErrNoHosts when none remain). When
// t.Subject has no common name, it is the first host.
func (ca *CA) IssueServer(t Template, hosts ...string) (*Server, error) {
	tmpl, err := t.start(x509.KeyUsageDigitalSignature)
	if err != nil {
		return nil, err
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		switch ip := net.ParseIP(h); {
		case h == "":
			continue
		case ip != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		default:
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
		if tmpl.Subject.CommonName == "" {
			tmpl.Subject.CommonName = h
		}
	}
	if len(tmpl.IPAddresses) == 0 && len(tmpl.DNSNames) == 0 {
		return nil, ErrNoHosts
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	leaf, err := sign("server", tmpl, ca.cert, key, ca.key)
	if err != nil {
		return nil, err
	}
	return &Server{Leaf: leaf, Key: key, ca: ca.cert}, nil
}

// Server is a server certificate and its key.
type Server struct {
	Leaf *x509.Certificate
	Key  *ecdsa.PrivateKey
	ca   *x509.Certificate
}

// CertPEM is the server certificate in PEM form.
func (s *Server) CertPEM() []byte { return certPEM(s.Leaf.Raw) }

// KeyPEM is the key in PEM form (SEC 1, "EC PRIVATE KEY").
func (s *Server) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(s.Key)
	if err != nil {
		return nil, fmt.Errorf("marshal server key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// TLSCertificate is the certificate for a tls.Config; its chain is the server
// certificate, then the CA's.
func (s *Server) TLSCertificate() tls.Certificate {
	return tls.Certificate{
		Certificate: [][]byte{s.Leaf.Raw, s.ca.Raw},
		PrivateKey:  s.Key,
		Leaf:        s.Leaf,
	}
}

// start begins a certificate from t: a random serial number, t's subject and
// validity, and usage plus t.KeyUsage.
func (t Template) start(usage x509.KeyUsage) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // RFC 5280: at most 20 octets
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      t.Subject,
		NotBefore:    t.NotBefore,
		NotAfter:     t.NotAfter,
		KeyUsage:     usage | t.KeyUsage,
	}, nil
}

// sign makes the certificate tmpl for key, signed by parent's key signer.
func sign(what string, tmpl, parent *x509.Certificate, key, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("create %s certificate: %w", what, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse %s certificate: %w", what, err)
	}
	return cert, nil
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
