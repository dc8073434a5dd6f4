package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/deploy/localstack"
	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"
)

// TestLaneOverTLS: the lane reaches a broker that speaks TLS and wants a client certificate.
func TestLaneOverTLS(t *testing.T) {
	dir := t.TempDir()
	caKey, ca := newCert(t, "vagt test CA", nil, nil)
	srvKey, srv := newCert(t, "127.0.0.1", caKey, ca)
	cliKey, cli := newCert(t, "svc_api", caKey, ca)
	files := map[string]string{}
	for name, b := range map[string]*pem.Block{
		"ca.pem": {Type: "CERTIFICATE", Bytes: ca.Raw}, "server.pem": {Type: "CERTIFICATE", Bytes: srv.Raw},
		"server-key.pem": {Type: "PRIVATE KEY", Bytes: pkcs8(t, srvKey)}, "client.pem": {Type: "CERTIFICATE", Bytes: cli.Raw},
		"client-key.pem": {Type: "PRIVATE KEY", Bytes: pkcs8(t, cliKey)},
	} {
		files[name] = filepath.Join(dir, name)
		if err := os.WriteFile(files[name], pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true, TLS: &localstack.MosquittoTLS{
		CertFile: files["server.pem"], KeyFile: files["server-key.pem"], CAFile: files["ca.pem"], RequireCertificate: true}})
	s, err := api.New(t.Context(), api.Config{Listen: "127.0.0.1:0", DB: filepath.Join(dir, "vagt.db"), Broker: broker.TLSURL(),
		ClientID: "vagt-api-tls", TLSCA: files["ca.pem"], TLSCert: files["client.pem"], TLSKey: files["client-key.pem"]}, api.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	st := runServer(t, s)
	gw := newGateway(t, broker.URL())
	gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: t0, Device: "btn", Type: vagt.AlarmPanic})
	waitFor(t, "the alarm over TLS to become an alert", func() bool {
		list, err := st.Store.ListAlerts(t.Context(), alerts.Scope{All: true}, alerts.Filter{})
		return err == nil && len(list) == 1
	})
}

func newCert(t *testing.T, cn string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
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

func pkcs8(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
