package localstack_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// buildVagt builds the vagt binary (its broker-auth command) for t.
func buildVagt(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vagt")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/vagt-dk/vagt/cmd/vagt").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/vagt: %v\n%s", err, out)
	}
	return bin
}

// The callout as production runs it: a `vagt broker-auth` process beside each node. A
// process's kill -9 costs nothing: its node's new clients are answered by the peers'
// processes (one queue group over the routes). With every process dead, a new client is
// refused and the connected ones keep working; one process back, and any node lets clients
// in again. The processes decide as the service does (a gateway under another's client id
// is refused).
func TestNATSClusterBrokerAuthProcesses(t *testing.T) {
	pki := stacktest.NewPKI(t, "vagt test CA")
	server, probe := pki.Issue("127.0.0.1"), pki.Issue("vagt-localstack-probe")
	c := stacktest.NATSCluster(t, localstack.NATSClusterOptions{
		TLS: &localstack.NATSTLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: pki.CAFile,
			ProbeCert: probe.CertFile, ProbeKey: probe.KeyFile},
		BrokerAuth: &localstack.NATSBrokerAuth{Binary: buildVagt(t)},
	})
	t.Cleanup(func() {
		if t.Failed() {
			for _, b := range c.BrokerAuths() {
				t.Logf("%s:\n%s", b.LogPath(), b.LogTail())
			}
		}
	})
	if len(c.BrokerAuths()) != len(c.Nodes()) {
		t.Fatalf("%d broker-auth processes for %d nodes", len(c.BrokerAuths()), len(c.Nodes()))
	}
	api := tlsClient(t, pki, c.Node(2).URL(), "svc_api", "vagt-api")
	alarms := make(chan mqtt.Message, 10)
	wait(t, api.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, m mqtt.Message) { alarms <- m }))
	tryConnect := func(node *localstack.NATSNode, cn, clientID string) error {
		cert := pki.Issue(cn)
		cl := mqtt.NewClient(clientOptions(clientID, true).AddBroker(node.URL()).SetTLSConfig(pki.ClientTLS(&cert)))
		tok := cl.Connect()
		if !tok.WaitTimeout(waitFor) {
			t.Fatalf("%s as %s on %s: no answer to CONNECT", cn, clientID, node.Name())
		}
		if tok.Error() == nil {
			cl.Disconnect(0)
		}
		return tok.Error()
	}
	if err := tryConnect(c.Node(0), "gw1", "vagt-api"); err == nil {
		t.Error("gw1 connected under the api's client id")
	}

	// Node 1's own process dies: a gateway connecting there is answered by a peer's.
	if err := c.BrokerAuth(0).Kill(); err != nil {
		t.Fatal(err)
	}
	gw1 := tlsClient(t, pki, c.Node(0).URL(), "gw1", "gw1")
	wait(t, gw1.Publish("vagt/v1/gw/gw1/alarm", 1, false, "while node 1's broker-auth is dead"))
	receive(t, alarms)

	// All dead: no new client, the connected ones go on.
	for _, b := range c.BrokerAuths()[1:] {
		if err := b.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tryConnect(c.Node(1), "gw2", "gw2"); err == nil {
		t.Error("gw2 connected with no broker-auth running")
	}
	wait(t, gw1.Publish("vagt/v1/gw/gw1/alarm", 1, false, "with no broker-auth running"))
	if m := receive(t, alarms); string(m.Payload()) != "with no broker-auth running" {
		t.Fatalf("got %q", m.Payload())
	}

	// One back (beside node 3): every node lets clients in again.
	if err := c.BrokerAuth(2).Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes() {
		if err := tryConnect(n, "gw2", "gw2"); err != nil {
			t.Errorf("gw2 on %s with only %s's broker-auth running: %v", n.Name(), c.BrokerAuth(2).Node().Name(), err)
		}
	}
}
