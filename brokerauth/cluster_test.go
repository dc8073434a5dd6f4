package brokerauth_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/brokerauth"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

const waitFor = 20 * time.Second

// tlsCluster is a 3-node cluster with the production shape of authentication: a client
// certificate on the MQTT listener, and every client authorized by the callout service.
func tlsCluster(t *testing.T) (*localstack.NATSCluster, *stacktest.PKI, *prometheus.Registry) {
	t.Helper()
	pki := stacktest.NewPKI(t, "vagt test CA")
	server, probe := pki.Issue("127.0.0.1"), pki.Issue("vagt-localstack-probe")
	reg := prometheus.NewRegistry()
	c := stacktest.NATSClusterWithAuth(t, localstack.NATSClusterOptions{
		TLS: &localstack.NATSTLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: pki.CAFile,
			ProbeCert: probe.CertFile, ProbeKey: probe.KeyFile},
	}, brokerauth.Options{Registerer: reg})
	return c, pki, reg
}

// client connects with a certificate for cn under clientID; lost counts its connection
// losses.
func client(t *testing.T, pki *stacktest.PKI, url, cn, clientID string, lost *atomic.Int64) (mqtt.Client, error) {
	t.Helper()
	cert := pki.Issue(cn)
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetCleanSession(false).
		SetAutoReconnect(false).SetConnectTimeout(waitFor).SetTLSConfig(pki.ClientTLS(&cert))
	if lost != nil {
		opts.SetConnectionLostHandler(func(mqtt.Client, error) { lost.Add(1) })
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(waitFor) {
		t.Fatalf("%s as %q: no answer to CONNECT", cn, clientID)
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

func mustClient(t *testing.T, pki *stacktest.PKI, url, cn, clientID string, lost *atomic.Int64) mqtt.Client {
	t.Helper()
	c, err := client(t, pki, url, cn, clientID, lost)
	if err != nil {
		t.Fatalf("%s as %q: %v", cn, clientID, err)
	}
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

// The security gap of issue 20: NATS does not tie an MQTT client id to its user, so a
// gateway with a valid certificate could connect under the api's client id (or another
// gateway's) and take over its session, queued alarms and all. With the callout a client
// id that is not the client's own is refused at CONNECT and the owner's connection stays;
// the gateways, the api and ingest still work under their own ids.
func TestClientIDTakeoverRefused(t *testing.T) {
	c, pki, reg := tlsCluster(t)
	var apiLost, gw2Lost atomic.Int64
	api := mustClient(t, pki, c.Node(0).URL(), "svc_api", "vagt-api-0", &apiLost)
	alarms := make(chan mqtt.Message, 10)
	wait(t, api.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, m mqtt.Message) { alarms <- m }))
	ingest := mustClient(t, pki, c.Node(1).URL(), "svc_ingest", "vagt-ingest-0", nil)
	telemetry := make(chan mqtt.Message, 10)
	wait(t, ingest.Subscribe("vagt/v1/gw/+/telemetry", 1, func(_ mqtt.Client, m mqtt.Message) { telemetry <- m }))
	gw2 := mustClient(t, pki, c.Node(2).URL(), "gw2", "gw2", &gw2Lost)
	downlink := make(chan mqtt.Message, 10)
	wait(t, gw2.Subscribe("vagt/v1/gw/gw2/downlink", 1, func(_ mqtt.Client, m mqtt.Message) { downlink <- m }))

	for _, try := range []struct{ cn, clientID string }{
		{"gw1", "vagt-api-0"},        // a gateway as the api
		{"gw1", "gw2"},               // a gateway as another gateway
		{"gw1", "vagt-ingest-0"},     // ... as ingest
		{"gps.karen-01", "gw2"},      // a GPS tracker as a gateway
		{"svc_api", "gw2"},           // a service outside its own ids
		{"svc_ingest", "vagt-api-0"}, // one service as another
		{"vagt-api-7", "vagt-api-7"}, // a "gateway" whose id is in the api's client ids
		{"gw_x", "gw_x"},             // no gateway id at all
	} {
		for _, node := range c.Nodes() {
			if _, err := client(t, pki, node.URL(), try.cn, try.clientID, nil); err == nil {
				t.Errorf("certificate %s connected as %q on %s", try.cn, try.clientID, node.Name())
			}
		}
	}

	// The owners never lost their sessions, and everything still flows.
	gw1 := mustClient(t, pki, c.URL(), "gw1", "gw1", nil)
	wait(t, gw1.Publish("vagt/v1/gw/gw1/alarm", 1, false, "genuine"))
	wait(t, gw1.Publish("vagt/v1/gw/gw1/telemetry", 1, false, "batch"))
	wait(t, api.Publish("vagt/v1/gw/gw2/downlink", 1, false, "help is coming"))
	for what, ch := range map[string]chan mqtt.Message{"the api's alarm": alarms, "ingest's telemetry": telemetry, "gw2's downlink": downlink} {
		select {
		case m := <-ch:
			t.Logf("%s: %s %q", what, m.Topic(), m.Payload())
		case <-time.After(waitFor):
			t.Fatalf("%s did not arrive", what)
		}
	}
	if n := apiLost.Load() + gw2Lost.Load(); n != 0 || !api.IsConnectionOpen() || !gw2.IsConnectionOpen() {
		t.Errorf("the owners lost their connections %d times (api open %t, gw2 open %t)", n, api.IsConnectionOpen(), gw2.IsConnectionOpen())
	}
	// The tracker's own client id works, with a device.
	mustClient(t, pki, c.URL(), "gps.karen-01", brokerauth.TrackerClientID("gps.karen-01", "phone"), nil)
	refused := decisions(t, reg, brokerauth.ReasonClientID) + decisions(t, reg, brokerauth.ReasonReservedID) +
		decisions(t, reg, brokerauth.ReasonUnknownUser)
	if want := float64(8 * len(c.Nodes())); refused < want {
		t.Errorf("refusals counted: %v, want at least %v", refused, want)
	}
}

// decisions is vagt_broker_auth_decisions_total{result}.
func decisions(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// Without certificates, on a password listener: the same file Mosquitto reads (mosquitto_passwd
// $7$ lines, as the registry writes them). A wrong password is refused, a right one under
// another's client id too.
func TestPasswordLogins(t *testing.T) {
	passwd := writePasswd(t, "gw-a", "gw-a-secret", "gw-b", "gw-b-secret", "svc_api", "svc_api-secret")
	pf, err := brokerauth.OpenPasswordFile(passwd)
	if err != nil {
		t.Fatal(err)
	}
	c := stacktest.NATSClusterWithAuth(t, localstack.NATSClusterOptions{}, brokerauth.Options{Passwords: pf})
	connect := func(user, password, clientID string) (mqtt.Client, error) {
		cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(c.URL()).SetClientID(clientID).SetUsername(user).
			SetPassword(password).SetAutoReconnect(false).SetConnectTimeout(waitFor))
		tok := cl.Connect()
		if !tok.WaitTimeout(waitFor) {
			t.Fatalf("%s as %q: no answer", user, clientID)
		}
		if tok.Error() == nil {
			t.Cleanup(func() { cl.Disconnect(100) })
		}
		return cl, tok.Error()
	}
	api, err := connect("svc_api", "svc_api-secret", "vagt-api-0")
	if err != nil {
		t.Fatal(err)
	}
	alarms := make(chan mqtt.Message, 10)
	wait(t, api.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, m mqtt.Message) { alarms <- m }))
	for _, try := range []struct{ user, password, clientID string }{
		{"gw-a", "gw-b-secret", "gw-a"},       // wrong password
		{"gw-c", "gw-c-secret", "gw-c"},       // not in the file
		{"gw-a", "gw-a-secret", "gw-b"},       // another's client id
		{"gw-a", "gw-a-secret", "vagt-api-0"}, // the api's
		{"", "", "gw-a"},                      // nobody
	} {
		if _, err := connect(try.user, try.password, try.clientID); err == nil {
			t.Errorf("%q with password %q connected as %q", try.user, try.password, try.clientID)
		}
	}
	gw, err := connect("gw-a", "gw-a-secret", "gw-a")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, gw.Publish("vagt/v1/gw/gw-b/alarm", 1, false, "forged")) // acknowledged, dropped
	wait(t, gw.Publish("vagt/v1/gw/gw-a/alarm", 1, false, "genuine"))
	select {
	case m := <-alarms:
		if m.Topic() != "vagt/v1/gw/gw-a/alarm" || string(m.Payload()) != "genuine" {
			t.Fatalf("the api got %s %q first, want gw-a's genuine alarm", m.Topic(), m.Payload())
		}
	case <-time.After(waitFor):
		t.Fatal("the genuine alarm did not arrive")
	}

	// A gateway added to the file gets in without a restart.
	h, err := localstack.HashMosquittoPassword("gw-c-secret")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(passwd, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "gw-c:%s\n", h)
	f.Close()
	stacktest.WaitFor(t, "gw-c let in after it was added", waitFor, func() bool {
		_, err := connect("gw-c", "gw-c-secret", "gw-c")
		return err == nil
	})
}

// writePasswd writes a Mosquitto password file of user, password pairs.
func writePasswd(t *testing.T, pairs ...string) string {
	t.Helper()
	var lines []string
	for i := 0; i+1 < len(pairs); i += 2 {
		h, err := localstack.HashMosquittoPassword(pairs[i+1])
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, pairs[i]+":"+h)
	}
	path := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
