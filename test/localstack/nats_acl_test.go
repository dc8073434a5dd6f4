package localstack_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/brokerauth"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// natsTLSCluster is a cluster with the production shape of authentication: TLS with a
// client certificate whose common name is the user, every client authorized by vagt's
// auth callout service (brokerauth) with the per-gateway permissions, and gateways gw1,
// gw2 and gw3 registered.
func natsTLSCluster(t *testing.T, opts localstack.NATSClusterOptions) (*localstack.NATSCluster, *stacktest.PKI) {
	t.Helper()
	pki := stacktest.NewPKI(t, "vagt test CA")
	server, probe := pki.Issue("127.0.0.1"), pki.Issue("vagt-localstack-probe")
	opts.TLS = &localstack.NATSTLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: pki.CAFile,
		ProbeCert: probe.CertFile, ProbeKey: probe.KeyFile}
	path := filepath.Join(t.TempDir(), "registered")
	if err := os.WriteFile(path, []byte("gw1\ngw2\ngw3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	registered, err := brokerauth.OpenRegistered(path)
	if err != nil {
		t.Fatal(err)
	}
	return stacktest.NATSClusterWithAuth(t, opts, brokerauth.Options{Registered: registered}), pki
}

func tlsClient(t *testing.T, pki *stacktest.PKI, url, cn, clientID string) mqtt.Client {
	t.Helper()
	cert := pki.Issue(cn)
	return connectMQTT(t, url, clientOptions(clientID, true).SetTLSConfig(pki.ClientTLS(&cert)))
}

// The misbehaving gateways of issue 20: one that subscribes to `#`, one that publishes
// under another gateway's id, one that reads another's configuration. Each is refused by
// the cluster's permissions, and nothing of it reaches anybody.
func TestNATSClusterGatewayPermissions(t *testing.T) {
	c, pki := natsTLSCluster(t, localstack.NATSClusterOptions{})
	api := tlsClient(t, pki, c.Node(0).URL(), "svc_api", "vagt-api")
	alarms := make(chan mqtt.Message, 10)
	wait(t, api.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, m mqtt.Message) { alarms <- m }))

	// The spy, gateway gw3, holds only the refused subscriptions (paho hands a message to
	// every handler whose filter matches, so they must not share a connection with the
	// allowed ones).
	spy := tlsClient(t, pki, c.Node(1).URL(), "gw3", "gw3")
	spied := make(chan mqtt.Message, 10)
	// A refused subscription comes back as SUBACK 0x80.
	for _, filter := range []string{"#", "vagt/v1/gw/+/config", "vagt/v1/gw/gw2/downlink", "vagt/v1/gw/gw2/config", "vagt/v1/gw/gw1/config"} {
		tok := spy.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { spied <- m })
		if !tok.WaitTimeout(waitFor) {
			t.Fatalf("no SUBACK for %s", filter)
		}
		st := tok.(*mqtt.SubscribeToken)
		if code := st.Result()[filter]; code != 0x80 {
			t.Errorf("gateway gw3 subscribing to %q: SUBACK %#x, want 0x80 (refused)", filter, code)
		}
	}
	gw1 := tlsClient(t, pki, c.Node(1).URL(), "gw1", "gw1")
	own := make(chan mqtt.Message, 10)
	wait(t, gw1.Subscribe("vagt/v1/gw/gw1/config", 1, func(_ mqtt.Client, m mqtt.Message) { own <- m }))
	wait(t, gw1.Subscribe("vagt/v1/gw/gw1/downlink", 1, func(_ mqtt.Client, m mqtt.Message) { own <- m }))

	// Publishing under another id: the cluster does not deliver it. Whether the client gets
	// a PUBACK or loses its connection is the server's business; nobody may see the message.
	forged := spy.Publish("vagt/v1/gw/gw1/alarm", 1, false, "forged")
	acked := forged.WaitTimeout(5*time.Second) && forged.Error() == nil
	t.Logf("forged publish: acknowledged %t, spy still connected %t", acked, spy.IsConnectionOpen())
	wait(t, gw1.Publish("vagt/v1/gw/gw1/config", 1, true, "self-made plan")) // only the api sets plans
	wait(t, gw1.Publish("vagt/v1/gw/gw1/alarm", 1, false, "genuine"))
	if m := receive(t, alarms); m.Topic() != "vagt/v1/gw/gw1/alarm" || string(m.Payload()) != "genuine" {
		t.Fatalf("first alarm %s %q; want the genuine one, the forged one refused", m.Topic(), m.Payload())
	}

	// The api's configuration and downlink for gw2 reach gw2 and nobody else.
	wait(t, api.Publish("vagt/v1/gw/gw2/config", 1, true, "plan for gw2"))
	wait(t, api.Publish("vagt/v1/gw/gw2/downlink", 1, false, "help is coming"))
	wait(t, api.Publish("vagt/v1/gw/gw1/config", 1, true, "plan for gw1"))
	if m := receive(t, own); m.Topic() != "vagt/v1/gw/gw1/config" || string(m.Payload()) != "plan for gw1" {
		t.Fatalf("gw1 got %s %q, want only its own plan (not its self-made one, not gw2's)", m.Topic(), m.Payload())
	}
	select {
	case m := <-spied:
		t.Fatalf("a refused subscription delivered %s %q", m.Topic(), m.Payload())
	case m := <-own:
		t.Fatalf("gw1 got more: %s %q", m.Topic(), m.Payload())
	case m := <-alarms:
		t.Fatalf("the api got a forged alarm: %s %q", m.Topic(), m.Payload())
	case <-time.After(time.Second):
	}
}

// Without a client certificate signed by the CA there is no connection, and a certificate
// whose subject is not registered is refused too, as is a gateway under another's client id.
func TestNATSClusterRefusesUnknownClients(t *testing.T) {
	c, pki := natsTLSCluster(t, localstack.NATSClusterOptions{})
	cert := func(cn string) *stacktest.Cert { c := pki.Issue(cn); return &c }
	for name, opts := range map[string]*mqtt.ClientOptions{
		"no certificate":      clientOptions("anon", true).SetTLSConfig(pki.ClientTLS(nil)),
		"unknown subject":     clientOptions("gw9", true).SetTLSConfig(pki.ClientTLS(cert("gw9"))),
		"another's client id": clientOptions("gw2", true).SetTLSConfig(pki.ClientTLS(cert("gw1"))),
		"the api's client id": clientOptions("vagt-api", true).SetTLSConfig(pki.ClientTLS(cert("gw1"))),
	} {
		tok := mqtt.NewClient(opts.AddBroker(c.Node(0).URL())).Connect()
		if !tok.WaitTimeout(waitFor) {
			t.Fatalf("%s: no answer to CONNECT", name)
		}
		if tok.Error() == nil {
			t.Errorf("%s: connected", name)
		}
	}
}

// The other two misbehaving gateways of issue 20, contained: one reconnects in a tight loop,
// one never reads (never acknowledges) its downlink while the api keeps sending to it. The
// first only spends its own connections; the second gets at most MaxAckPending messages in
// flight and holds nothing up. Meanwhile another gateway's alarms all reach the api.
func TestNATSClusterContainsTightLoopsAndDeafGateways(t *testing.T) {
	const window = 20
	c, pki := natsTLSCluster(t, localstack.NATSClusterOptions{MaxAckPending: window})
	api := tlsClient(t, pki, c.URL(), "svc_api", "vagt-api")
	alarms := make(chan mqtt.Message, 100)
	wait(t, api.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, m mqtt.Message) { alarms <- m }))

	// gw2 never acknowledges what it is sent on its downlink.
	deafCert := pki.Issue("gw2")
	var deafGot atomic.Int64
	deaf := connectMQTT(t, c.URL(), clientOptions("gw2", false).SetTLSConfig(pki.ClientTLS(&deafCert)).SetAutoAckDisabled(true))
	wait(t, deaf.Subscribe("vagt/v1/gw/gw2/downlink", 1, func(mqtt.Client, mqtt.Message) { deafGot.Add(1) }))

	// gw3 connects and disconnects as fast as it can.
	loopCert := pki.Issue("gw3")
	stop := make(chan struct{})
	var loops atomic.Int64
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			cl := mqtt.NewClient(clientOptions("gw3", true).AddBroker(c.URL()).SetTLSConfig(pki.ClientTLS(&loopCert)))
			if tok := cl.Connect(); tok.WaitTimeout(waitFor) && tok.Error() == nil {
				loops.Add(1)
				cl.Disconnect(0)
			}
		}
	})

	gw1 := tlsClient(t, pki, c.URL(), "gw1", "gw1")
	for i := range 200 {
		wait(t, api.Publish("vagt/v1/gw/gw2/downlink", 1, false, fmt.Sprintf("downlink %d", i)))
	}
	for i := range 20 {
		wait(t, gw1.Publish("vagt/v1/gw/gw1/alarm", 1, false, fmt.Sprintf("alarm %d", i)))
	}
	for i := range 20 {
		if m := receive(t, alarms); string(m.Payload()) != fmt.Sprintf("alarm %d", i) {
			t.Fatalf("alarm %d: got %q", i, m.Payload())
		}
	}
	stacktest.WaitFor(t, "the deaf gateway's window to fill", waitFor, func() bool { return deafGot.Load() >= window })
	time.Sleep(500 * time.Millisecond) // room for more than the window, if the node sent it
	if n := deafGot.Load(); n > window {
		t.Errorf("the gateway that never acknowledges got %d downlink messages in flight, want at most %d", n, window)
	}
	t.Logf("the tight loop connected %d times meanwhile; the deaf gateway holds %d of 200 downlinks", loops.Load(), deafGot.Load())
}
