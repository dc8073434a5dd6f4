package localstack_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/deploy/localstack"
	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"
)

// The TLS listener requires a client certificate and, with
// UseIdentityAsUsername, makes its CN the user the ACL sees.
func TestMosquittoTLSWithClientCertificates(t *testing.T) {
	pki := newTestPKI(t)
	m := stacktest.Mosquitto(t, localstack.MosquittoOptions{
		TLS: &localstack.MosquittoTLS{
			CertFile: pki.serverCert, KeyFile: pki.serverKey, CAFile: pki.caFile,
			RequireCertificate: true, UseIdentityAsUsername: true,
		},
	})
	if m.TLSURL() == "" || m.TLSURL() == m.URL() {
		t.Fatalf("TLSURL() = %q, URL() = %q", m.TLSURL(), m.URL())
	}

	t.Run("without a client certificate", func(t *testing.T) {
		opts := clientOptions("no-cert", true).AddBroker(m.TLSURL()).
			SetTLSConfig(&tls.Config{RootCAs: pki.pool, MinVersion: tls.VersionTLS12})
		tok := mqtt.NewClient(opts).Connect()
		if !tok.WaitTimeout(waitFor) {
			t.Fatal("no answer to CONNECT")
		}
		if tok.Error() == nil {
			t.Fatal("connected without a client certificate")
		}
	})

	got := make(chan mqtt.Message, 1)
	client := connectMQTT(t, m.TLSURL(), clientOptions("gw1", true).
		SetTLSConfig(&tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client},
			MinVersion: tls.VersionTLS12}))
	wait(t, client.Subscribe("vagt/v1/gw/gw1/config", 1, func(_ mqtt.Client, msg mqtt.Message) { got <- msg }))
	wait(t, client.Publish("vagt/v1/gw/gw1/config", 1, false, "over TLS"))
	if msg := receive(t, got); string(msg.Payload()) != "over TLS" {
		t.Fatalf("got %q", msg.Payload())
	}
}

type testPKI struct {
	caFile, serverCert, serverKey string
	pool                          *x509.CertPool
	client                        tls.Certificate
}

// newTestPKI makes a CA, a server certificate for 127.0.0.1 and a client
// certificate with CN gw1, and writes the server's files as PEM.
func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert := newCert(t, "vagt test CA", nil, nil)
	srvKey, srvCert := newCert(t, "127.0.0.1", caKey, caCert)
	cliKey, cliCert := newCert(t, "gw1", caKey, caCert)

	pki := testPKI{
		caFile:     writePEM(t, dir, "ca.pem", "CERTIFICATE", caCert.Raw),
		serverCert: writePEM(t, dir, "server.pem", "CERTIFICATE", srvCert.Raw),
		serverKey:  writePEM(t, dir, "server-key.pem", "PRIVATE KEY", marshalKey(t, srvKey)),
		pool:       x509.NewCertPool(),
		client:     tls.Certificate{Certificate: [][]byte{cliCert.Raw}, PrivateKey: cliKey},
	}
	pki.pool.AddCert(caCert)
	return pki
}

// newCert makes a key and a certificate signed by parent (self-signed CA
// when parent is nil).
func newCert(t *testing.T, cn string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func marshalKey(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
