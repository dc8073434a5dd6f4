package stacktest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throwaway certificate authority for TLS tests: brokers with client
// certificates, gateways and services that present them. Its files live in a temporary
// directory of the test.
type PKI struct {
	t      testing.TB
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	Pool   *x509.CertPool // trusts the CA
	CAFile string         // the CA certificate as PEM
	CAPEM  []byte
}

// Cert is a key and a certificate the CA issued, in memory and as PEM files.
type Cert struct {
	TLS               tls.Certificate
	CertPEM, KeyPEM   []byte
	CertFile, KeyFile string
}

// NewPKI makes a CA named cn (e.g. "vagt test CA").
func NewPKI(t testing.TB, cn string) *PKI {
	t.Helper()
	p := &PKI{t: t, dir: t.TempDir(), Pool: x509.NewCertPool()}
	p.caKey, p.ca = p.newCert(cn, nil, nil, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	p.Pool.AddCert(p.ca)
	p.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.ca.Raw})
	p.CAFile = p.write(cn+".ca.pem", p.CAPEM)
	return p
}

// Issue makes a certificate for cn, usable for server and client authentication; an IP
// address as cn also becomes the certificate's IP SAN (a broker on 127.0.0.1). It is
// valid from an hour ago for a day.
func (p *PKI) Issue(cn string) Cert {
	p.t.Helper()
	now := time.Now()
	return p.issue(cn, cn, now.Add(-time.Hour), now.Add(24*time.Hour))
}

// IssueValid is Issue with the certificate valid from notBefore to notAfter: an expired
// one, or one not valid yet. Its files are named after cn and the validity, so they do
// not replace Issue's.
func (p *PKI) IssueValid(cn string, notBefore, notAfter time.Time) Cert {
	p.t.Helper()
	return p.issue(fmt.Sprintf("%s.%d-%d", cn, notBefore.Unix(), notAfter.Unix()), cn, notBefore, notAfter)
}

func (p *PKI) issue(name, cn string, notBefore, notAfter time.Time) Cert {
	p.t.Helper()
	key, cert := p.newCert(cn, p.caKey, p.ca, notBefore, notAfter)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	c := Cert{
		TLS:     tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key},
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	}
	c.CertFile = p.write(name+".pem", c.CertPEM)
	c.KeyFile = p.write(name+".key.pem", c.KeyPEM)
	return c
}

// ClientTLS trusts the CA for a server on 127.0.0.1 and presents c, if given.
func (p *PKI) ClientTLS(c *Cert) *tls.Config {
	cfg := &tls.Config{RootCAs: p.Pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if c != nil {
		cfg.Certificates = []tls.Certificate{c.TLS}
	}
	return cfg
}

func (p *PKI) newCert(cn string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, notBefore, notAfter time.Time) (*ecdsa.PrivateKey, *x509.Certificate) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		signer, signerKey = parent, parentKey
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		if ip := net.ParseIP(cn); ip != nil {
			tmpl.IPAddresses = []net.IP{ip}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		p.t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		p.t.Fatal(err)
	}
	return key, cert
}

func (p *PKI) write(name string, data []byte) string {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}
