package uplink

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

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/deploy/localstack"
	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"
)

// TestTLSWithClientCertificate: the uplink reaches a broker that requires a client
// certificate, whose CN is the gateway id and its MQTT user, under the per-gateway ACL.
func TestTLSWithClientCertificate(t *testing.T) {
	dir := t.TempDir()
	caKey, ca := cert(t, "vagt test CA", nil, nil)
	srvKey, srv := cert(t, "127.0.0.1", caKey, ca)
	cliKey, cli := cert(t, string(gw), caKey, ca)
	caFile := writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{
		AllowAnonymous: true,
		ACL:            "topic read vagt/v1/gw/+/#\npattern write vagt/v1/gw/%u/#\npattern read vagt/v1/gw/%u/config",
		TLS: &localstack.MosquittoTLS{CertFile: writePEM(t, dir, "srv.pem", "CERTIFICATE", srv.Raw), KeyFile: writePEM(t, dir, "srv-key.pem", "PRIVATE KEY", key(t, srvKey)),
			CAFile: caFile, RequireCertificate: true, UseIdentityAsUsername: true},
	})
	col := collect(t, broker.URL(), "platform-tls", "vagt/v1/gw/+/alarm")
	q := newSpool(t)
	fill(t, q, 0, 1)
	u, _ := start(t, Options{Broker: broker.TLSURL(), CAFile: caFile,
		CertFile: writePEM(t, dir, "cli.pem", "CERTIFICATE", cli.Raw), KeyFile: writePEM(t, dir, "cli-key.pem", "PRIVATE KEY", key(t, cliKey))}, q)
	msgs := col.wait(t, "the alarm over TLS", func(m []mqtt.Message) bool { return len(m) > 0 })
	if a, err := vagt.DecodeAlarm(msgs[0].Payload()); err != nil || a.Type != vagt.AlarmPanic {
		t.Fatalf("%+v %v", a, err)
	}
	waitFor(t, "the spool to empty", func() bool { return q.Stats().Depth() == 0 && u.Sent() == 1 })
}

func cert(t *testing.T, cn string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent, parentKey = tmpl, k
	} else if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}

func key(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
