package localstack_test

import (
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// The TLS listener requires a client certificate and, with
// UseIdentityAsUsername, makes its CN the user the ACL sees.
func TestMosquittoTLSWithClientCertificates(t *testing.T) {
	pki := stacktest.NewPKI(t, "vagt test CA")
	server, gw1 := pki.Issue("127.0.0.1"), pki.Issue("gw1")
	m := stacktest.Mosquitto(t, localstack.MosquittoOptions{
		TLS: &localstack.MosquittoTLS{
			CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: pki.CAFile,
			RequireCertificate: true, UseIdentityAsUsername: true,
		},
	})
	if m.TLSURL() == "" || m.TLSURL() == m.URL() {
		t.Fatalf("TLSURL() = %q, URL() = %q", m.TLSURL(), m.URL())
	}

	t.Run("without a client certificate", func(t *testing.T) {
		opts := clientOptions("no-cert", true).AddBroker(m.TLSURL()).
			SetTLSConfig(pki.ClientTLS(nil))
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
		SetTLSConfig(pki.ClientTLS(&gw1)))
	wait(t, client.Subscribe("vagt/v1/gw/gw1/config", 1, func(_ mqtt.Client, msg mqtt.Message) { got <- msg }))
	wait(t, client.Publish("vagt/v1/gw/gw1/config", 1, false, "over TLS"))
	if msg := receive(t, got); string(msg.Payload()) != "over TLS" {
		t.Fatalf("got %q", msg.Payload())
	}
}
