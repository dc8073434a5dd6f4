// Package natsconf_test starts a real 3-node NATS cluster with the production
// configuration in this directory (nats.conf) and vagt's authorization service beside it
// (package brokerauth, `vagt broker-auth`, with a registered-ids file) and checks what it
// promises for the misbehaving clients of issue 20: a gateway that subscribes to `#` or to
// another's lanes is refused (SUBACK 0x80), one that publishes under another's id or sets
// its own configuration reaches nobody, one that connects under another's client id is
// refused, a client without a certificate of the CA or with an unregistered subject does
// not get in.
//
// The configuration is used as it is written, with these substitutions only: ports become
// free loopback ports, the routes point at the other test nodes, paths under
// /etc/nats/vagt/ and /var/lib/nats/ move into the test's directories, $NATS_SERVER_NAME
// is the node's name and the two $VAGT_BROKER_AUTH_ variables the test's issuer and
// password. The authorization block gets one user more, the certificate subject
// test/localstack's readiness probe presents (it may do nothing and bypasses the callout).
package natsconf_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nkeys"

	"github.com/vagt-dk/vagt/brokerauth"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

const waitFor = 20 * time.Second

// productionCluster starts the cluster with gateways (and trackers) as the registered ids.
func productionCluster(t *testing.T, gateways ...string) (*localstack.NATSCluster, *stacktest.PKI) {
	t.Helper()
	return productionClusterEdited(t, func(s string) string { return s }, gateways...)
}

// productionClusterEdited is productionCluster with nats.conf passed through edit first
// (to switch on what the file has commented out).
func productionClusterEdited(t *testing.T, edit func(string) string, gateways ...string) (*localstack.NATSCluster, *stacktest.PKI) {
	t.Helper()
	conf, err := os.ReadFile("nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf = []byte(edit(string(conf)))
	pki := stacktest.NewPKI(t, "vagt test CA")
	server, probe := pki.Issue("127.0.0.1"), pki.Issue("vagt-localstack-probe")
	etc := t.TempDir()
	for name, from := range map[string]string{"server.crt": server.CertFile, "server.key": server.KeyFile, "ca.crt": pki.CAFile} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	issuer, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	issuerPub, _ := issuer.PublicKey()
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	password := hex.EncodeToString(secret)
	registered := filepath.Join(etc, "registered")
	if err := os.WriteFile(registered, []byte(strings.Join(gateways, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	probeUser := localstack.NATSUserConfig(localstack.NATSUser{Name: "CN=vagt-localstack-probe", Publish: []string{}, Subscribe: []string{}}, false)
	routesRE := regexp.MustCompile(`(?s)routes: \[.*?\]`)
	c := stacktest.NATSCluster(t, localstack.NATSClusterOptions{
		TLS: &localstack.NATSTLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: pki.CAFile,
			ProbeCert: probe.CertFile, ProbeKey: probe.KeyFile},
		Config: func(n localstack.NATSNodeConfig) string {
			s := string(conf)
			var routes []string
			for _, p := range n.Routes {
				routes = append(routes, fmt.Sprintf("%q", fmt.Sprintf("nats-route://127.0.0.1:%d", p)))
			}
			for from, to := range map[string]string{
				"$NATS_SERVER_NAME":                        fmt.Sprintf("%q", n.Name),
				`"127.0.0.1:4222"`:                         fmt.Sprintf(`"127.0.0.1:%d"`, n.Client),
				`"127.0.0.1:8222"`:                         fmt.Sprintf(`"127.0.0.1:%d"`, n.Monitor),
				`"0.0.0.0:6222"`:                           fmt.Sprintf(`"127.0.0.1:%d"`, n.Route),
				`"0.0.0.0:8883"`:                           fmt.Sprintf(`"127.0.0.1:%d"`, n.MQTT),
				"/etc/nats/vagt/":                          etc + "/",
				"/var/lib/nats/jetstream":                  filepath.Join(n.Dir, "jetstream"),
				"max_file_store: 100GB":                    "max_file_store: 2GB",
				"max_memory_store: 1GB":                    "max_memory_store: 256MB",
				"$VAGT_BROKER_AUTH_PASSWORD":               fmt.Sprintf("%q", password),
				"$VAGT_BROKER_AUTH_ISSUER":                 fmt.Sprintf("%q", issuerPub),
				`allowed_connection_types: ["STANDARD"] }`: `allowed_connection_types: ["STANDARD"] }` + "\n    " + probeUser,
				`auth_users: [ "vagt-broker-auth" ]`:       `auth_users: [ "vagt-broker-auth", "CN=vagt-localstack-probe" ]`,
			} {
				if !strings.Contains(s, from) {
					t.Errorf("nats.conf no longer has %q: update the test's substitutions", from)
				}
				s = strings.ReplaceAll(s, from, to)
			}
			return routesRE.ReplaceAllString(s, "routes: ["+strings.Join(routes, ", ")+"]")
		},
	})
	reg, err := brokerauth.OpenRegistered(registered)
	if err != nil {
		t.Fatal(err)
	}
	stacktest.BrokerAuth(t, c.ClientURLs(), "vagt-broker-auth", password, brokerauth.Options{Issuer: issuer, Registered: reg})
	return c, pki
}

func connect(t *testing.T, pki *stacktest.PKI, url, cn, clientID string) mqtt.Client {
	t.Helper()
	cert := pki.Issue(cn)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(waitFor).
		SetTLSConfig(pki.ClientTLS(&cert)))
	wait(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(250) })
	return c
}

func wait(t *testing.T, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitFor) {
		t.Fatal("MQTT operation did not complete")
	}
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
}

func TestProductionConfigMisbehavingGateways(t *testing.T) {
	c, pki := productionCluster(t, "gw-a", "gw-b")
	api := connect(t, pki, c.Node(0).URL(), "svc_api", "vagt-api")
	alarms := make(chan mqtt.Message, 10)
	wait(t, api.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, m mqtt.Message) { alarms <- m }))

	// gw-b spies on gw-a and forges for it.
	spy := connect(t, pki, c.Node(1).URL(), "gw-b", "gw-b")
	spied := make(chan mqtt.Message, 10)
	for _, filter := range []string{"#", "vagt/v1/#", "vagt/v1/gw/+/alarm", "vagt/v1/gw/gw-a/config", "vagt/v1/gw/gw-a/downlink"} {
		tok := spy.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { spied <- m })
		if !tok.WaitTimeout(waitFor) {
			t.Fatalf("no SUBACK for %s", filter)
		}
		if code := tok.(*mqtt.SubscribeToken).Result()[filter]; code != 0x80 {
			t.Errorf("gw-b subscribing to %q: SUBACK %#x, want 0x80", filter, code)
		}
	}
	// Forged: acknowledged (so the client learns nothing) and dropped.
	wait(t, spy.Publish("vagt/v1/gw/gw-a/alarm", 1, false, "forged"))
	// Under another's client id: refused at CONNECT, and the owner keeps its connection.
	for _, id := range []string{"vagt-api", "gw-a", "vagt-ingest-0"} {
		if err := tryConnect(pki, c.URL(), "gw-b", id); err == nil {
			t.Errorf("gw-b connected with client id %q", id)
		}
	}
	if !api.IsConnectionOpen() {
		t.Fatal("the api lost its connection to a client that used its id")
	}

	gwA := connect(t, pki, c.Node(2).URL(), "gw-a", "gw-a")
	wait(t, gwA.Publish("vagt/v1/gw/gw-a/config", 1, true, "self-made plan"))
	own := make(chan mqtt.Message, 10)
	wait(t, gwA.Subscribe("vagt/v1/gw/gw-a/config", 1, func(_ mqtt.Client, m mqtt.Message) { own <- m }))
	wait(t, gwA.Subscribe("vagt/v1/gw/gw-a/downlink", 1, func(_ mqtt.Client, m mqtt.Message) { own <- m }))
	wait(t, gwA.Publish("vagt/v1/gw/gw-a/alarm", 1, false, "genuine"))
	select {
	case m := <-alarms:
		if m.Topic() != "vagt/v1/gw/gw-a/alarm" || string(m.Payload()) != "genuine" {
			t.Fatalf("first alarm %s %q, want gw-a's genuine one", m.Topic(), m.Payload())
		}
	case <-time.After(waitFor):
		t.Fatal("the genuine alarm did not arrive")
	}
	wait(t, api.Publish("vagt/v1/gw/gw-b/downlink", 1, false, "for gw-b"))
	wait(t, api.Publish("vagt/v1/gw/gw-a/downlink", 1, false, "for gw-a"))
	select {
	case m := <-own:
		if string(m.Payload()) != "for gw-a" {
			t.Fatalf("gw-a got %s %q first, want its own downlink (not its self-made plan)", m.Topic(), m.Payload())
		}
	case <-time.After(waitFor):
		t.Fatal("gw-a's downlink did not arrive")
	}
	select {
	case m := <-spied:
		t.Fatalf("a refused subscription delivered %s %q", m.Topic(), m.Payload())
	case m := <-alarms:
		t.Fatalf("the api got %s %q", m.Topic(), m.Payload())
	case m := <-own:
		t.Fatalf("gw-a got more: %s %q", m.Topic(), m.Payload())
	case <-time.After(time.Second):
	}

	// An unregistered subject (signed by the CA, as a decommissioned gateway's certificate
	// stays) and no certificate: no connection.
	for _, cn := range []string{"gw-z", ""} {
		if err := tryConnect(pki, c.Node(0).URL(), cn, cn); err == nil {
			t.Errorf("certificate %q: connected", cn)
		}
	}
}

// tryConnect connects with a certificate for cn ("": none) under clientID and disconnects.
func tryConnect(pki *stacktest.PKI, url, cn, clientID string) error {
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetAutoReconnect(false).SetConnectTimeout(waitFor)
	if cn != "" {
		cert := pki.Issue(cn)
		opts.SetTLSConfig(pki.ClientTLS(&cert))
	} else {
		opts.SetTLSConfig(pki.ClientTLS(nil))
	}
	cl := mqtt.NewClient(opts)
	tok := cl.Connect()
	if !tok.WaitTimeout(waitFor) {
		return fmt.Errorf("no answer")
	}
	if tok.Error() == nil {
		cl.Disconnect(0)
	}
	return tok.Error()
}

// GPS trackers (api/gps, docs/gps.md) reach the cluster with their own certificates: a
// tracker's OwnTracks location reaches the api (svc_api reads owntracks/+/+ and .../event),
// one published under another tracker's id, or under a gateway's lanes, reaches nobody, and
// a tracker reads nothing.
func TestProductionConfigGPSTrackers(t *testing.T) {
	c, pki := productionCluster(t, "gw-a", "gps.karen-01", "gps.ole-02")
	api := connect(t, pki, c.Node(0).URL(), "svc_api", "vagt-api")
	got := make(chan mqtt.Message, 10)
	for _, filter := range []string{"owntracks/+/+", "owntracks/+/+/event", "vagt/v1/gw/+/alarm"} {
		wait(t, api.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }))
	}

	spy := connect(t, pki, c.Node(1).URL(), "gps.ole-02", brokerauth.TrackerClientID("gps.ole-02", "phone"))
	spied := make(chan mqtt.Message, 10)
	for _, filter := range []string{"#", "owntracks/#", "owntracks/gps.karen-01/+", "vagt/v1/gw/gw-a/config"} {
		tok := spy.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { spied <- m })
		if !tok.WaitTimeout(waitFor) {
			t.Fatalf("no SUBACK for %s", filter)
		}
		if code := tok.(*mqtt.SubscribeToken).Result()[filter]; code != 0x80 {
			t.Errorf("tracker subscribing to %q: SUBACK %#x, want 0x80", filter, code)
		}
	}
	// Forged: acknowledged and dropped, as a gateway's.
	wait(t, spy.Publish("owntracks/gps.karen-01/phone", 1, false, `{"_type":"location","forged":true}`))
	wait(t, spy.Publish("owntracks/gps.karen-01/phone/event", 1, false, `{"_type":"transition","forged":true}`))
	wait(t, spy.Publish("vagt/v1/gw/gw-a/alarm", 1, false, "forged alarm"))
	wait(t, spy.Publish("owntracks/gps.ole-02/phone/other", 1, false, "not an OwnTracks topic"))

	// A tracker connects under its own client id only.
	for _, id := range []string{"karen-phone", "gw-a", brokerauth.TrackerClientID("gps.ole-02", "phone")} {
		if err := tryConnect(pki, c.URL(), "gps.karen-01", id); err == nil {
			t.Errorf("tracker gps.karen-01 connected with client id %q", id)
		}
	}
	karen := connect(t, pki, c.Node(2).URL(), "gps.karen-01", brokerauth.TrackerClientID("gps.karen-01", "phone"))
	wait(t, karen.Publish("owntracks/gps.karen-01/phone", 1, false, `{"_type":"location","genuine":1}`))
	wait(t, karen.Publish("owntracks/gps.karen-01/phone/event", 1, false, `{"_type":"transition","genuine":2}`))
	// Both genuine messages, and nothing forged; two topics are two streams on the cluster,
	// so their order between each other is not kept (CI saw the event first).
	want := map[string]string{
		"owntracks/gps.karen-01/phone":       `{"_type":"location","genuine":1}`,
		"owntracks/gps.karen-01/phone/event": `{"_type":"transition","genuine":2}`,
	}
	for len(want) > 0 {
		select {
		case m := <-got:
			if p, ok := want[m.Topic()]; !ok || string(m.Payload()) != p {
				t.Fatalf("the api got %s %s, want only the genuine %v (the forged ones dropped)", m.Topic(), m.Payload(), want)
			}
			delete(want, m.Topic())
		case <-time.After(waitFor):
			t.Fatalf("the tracker's %v did not reach the api", want)
		}
	}
	select {
	case m := <-got:
		t.Fatalf("the api got more: %s %s", m.Topic(), m.Payload())
	case m := <-spied:
		t.Fatalf("a refused subscription delivered %s %s", m.Topic(), m.Payload())
	case <-time.After(time.Second):
	}
}

// The telemetry partitions for ingest replicas, as nats.conf has them commented out: with
// the line switched on and vagt broker-auth authorizing the clients, a gateway's telemetry reaches the
// ingest subscription of its partition as vagt/v1/gw/<id>/telemetry/<k>, and the
// gateways' permissions let the mapped subject through.
func TestProductionConfigTelemetryPartitions(t *testing.T) {
	const line = `# mappings = { "vagt.v1.gw.*.telemetry"`
	c, pki := productionClusterEdited(t, func(s string) string {
		if !strings.Contains(s, line) {
			t.Fatalf("nats.conf no longer has %q", line)
		}
		return strings.Replace(s, line, line[2:], 1)
	}, "gw-a", "gw-b", "gw-c", "gw-d")
	ingest := connect(t, pki, c.Node(0).URL(), "svc_ingest", "vagt-ingest-0")
	got := make(chan mqtt.Message, 10)
	wait(t, ingest.Subscribe("vagt/v1/gw/+/telemetry/+", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }))
	part := map[string]string{}
	for _, gw := range []string{"gw-a", "gw-b", "gw-c", "gw-d"} {
		g := connect(t, pki, c.Node(1).URL(), gw, gw)
		wait(t, g.Publish("vagt/v1/gw/"+gw+"/telemetry", 1, false, gw))
		select {
		case m := <-got:
			rest, ok := strings.CutPrefix(m.Topic(), "vagt/v1/gw/"+gw+"/telemetry/")
			if !ok || string(m.Payload()) != gw || (rest != "0" && rest != "1" && rest != "2") {
				t.Fatalf("ingest got %s %q, want %s's telemetry in partition 0, 1 or 2", m.Topic(), m.Payload(), gw)
			}
			part[gw] = rest
		case <-time.After(waitFor):
			t.Fatalf("%s's telemetry did not arrive (%s)", gw, c.LogTail())
		}
	}
	t.Logf("partitions: %v", part)
}
