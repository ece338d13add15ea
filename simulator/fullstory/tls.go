package fullstory

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
	"time"
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
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("self-signed TLS: %w", err)
	}
	notBefore, notAfter := now.Add(-time.Hour), now.Add(validFor)
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "fullstory-simulator CA", Organization: []string{"baton-fullstory simulator"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("self-signed TLS: CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("self-signed TLS: CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("self-signed TLS: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("self-signed TLS: server certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("self-signed TLS: %w", err)
	}
	m := &TLSMaterial{
		CACertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	if m.Certificate, err = tls.X509KeyPair(m.CertPEM, m.KeyPEM); err != nil {
		return nil, fmt.Errorf("self-signed TLS: %w", err)
	}
	return m, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
