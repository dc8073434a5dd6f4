package uplink

import (
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestTLSWithClientCertificate: the uplink reaches a broker that requires a client
// certificate, whose CN is the gateway id and its MQTT user, under the per-gateway ACL.
func TestTLSWithClientCertificate(t *testing.T) {
	pki := stacktest.NewPKI(t, "vagt test CA")
	server, client := pki.Issue("127.0.0.1"), pki.Issue(string(gw))
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{
		AllowAnonymous: true,
		ACL:            "topic read vagt/v1/gw/+/#\npattern write vagt/v1/gw/%u/#\npattern read vagt/v1/gw/%u/config",
		TLS: &localstack.MosquittoTLS{CertFile: server.CertFile, KeyFile: server.KeyFile,
			CAFile: pki.CAFile, RequireCertificate: true, UseIdentityAsUsername: true},
	})
	col := collect(t, broker.URL(), "platform-tls", "vagt/v1/gw/+/alarm")
	q := newSpool(t)
	fill(t, q, 0, 1)
	u, _ := start(t, Options{Broker: broker.TLSURL(), CAFile: pki.CAFile, CertFile: client.CertFile, KeyFile: client.KeyFile}, q)
	msgs := col.wait(t, "the alarm over TLS", func(m []mqtt.Message) bool { return len(m) > 0 })
	if a, err := vagt.DecodeAlarm(msgs[0].Payload()); err != nil || a.Type != vagt.AlarmPanic {
		t.Fatalf("%+v %v", a, err)
	}
	waitFor(t, "the spool to empty", func() bool { return q.Stats().Depth() == 0 && u.Sent() == 1 })
}
