package localstack_test

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// A QoS 1 message published on one node reaches a subscriber on another, and a retained
// message is there for a subscriber that comes later, on a third.
func TestNATSClusterDeliversAcrossNodes(t *testing.T) {
	c := stacktest.NATSCluster(t)
	got := make(chan mqtt.Message, 10)
	sub := connectMQTT(t, c.Node(0).URL(), clientOptions("sub", true))
	wait(t, sub.Subscribe("vagt/v1/gw/+/alarm", 1, func(_ mqtt.Client, msg mqtt.Message) { got <- msg }))

	pub := connectMQTT(t, c.Node(1).URL(), clientOptions("pub", true))
	wait(t, pub.Publish("vagt/v1/gw/gw1/alarm", 1, false, "fall"))
	if msg := receive(t, got); msg.Topic() != "vagt/v1/gw/gw1/alarm" || string(msg.Payload()) != "fall" || msg.Qos() != 1 {
		t.Fatalf("got %s %q QoS %d", msg.Topic(), msg.Payload(), msg.Qos())
	}

	wait(t, pub.Publish("vagt/v1/gw/gw1/config", 1, true, "plan-1"))
	late := make(chan mqtt.Message, 10)
	sub2 := connectMQTT(t, c.Node(2).URL(), clientOptions("gw1", true))
	wait(t, sub2.Subscribe("vagt/v1/gw/gw1/config", 1, func(_ mqtt.Client, msg mqtt.Message) { late <- msg }))
	if msg := receive(t, late); string(msg.Payload()) != "plan-1" || !msg.Retained() {
		t.Fatalf("got %q retained=%t, want the retained plan-1", msg.Payload(), msg.Retained())
	}
}

// The consumers' persistent session lives in replicated JetStream streams: a node killed
// with -9 takes nothing with it. The subscriber's node dies, messages are published while
// it is down, and the subscriber resumes its session on another node and gets them.
func TestNATSClusterSessionSurvivesNodeKill(t *testing.T) {
	c := stacktest.NATSCluster(t)
	sub := connectMQTT(t, c.Node(0).URL(), clientOptions("ingest-1", false))
	wait(t, sub.Subscribe("vagt/v1/gw/+/telemetry", 1, nil))
	if err := c.Node(0).Kill(); err != nil {
		t.Fatal(err)
	}
	sub.Disconnect(0)

	// A publish while the cluster moves the dead node's stream leaders may lose its
	// connection (seen in CI): a gateway reconnects and sends again, and so does this one.
	for _, p := range []string{"batch-1", "batch-2"} {
		publishUntilAcked(t, c.Node(1).URL(), "gw1", "vagt/v1/gw/gw1/telemetry", p)
	}

	got := make(chan mqtt.Message, 10)
	opts := clientOptions("ingest-1", false).
		SetDefaultPublishHandler(func(_ mqtt.Client, msg mqtt.Message) { got <- msg })
	connectMQTT(t, c.Node(2).URL(), opts)
	// At least once: a resent batch may come twice, never anything else, never missing.
	seen := map[string]bool{}
	for len(seen) < 2 {
		msg := receive(t, got)
		if p := string(msg.Payload()); p != "batch-1" && p != "batch-2" || (p == "batch-2" && !seen["batch-1"]) {
			t.Fatalf("got %q after %v, want batch-1 then batch-2", p, seen)
		}
		seen[string(msg.Payload())] = true
	}
	if err := c.Node(0).Start(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// Through the balancer a client whose node is killed reconnects to another node.
func TestNATSClusterBalancerMovesClientsOffAKilledNode(t *testing.T) {
	c := stacktest.NATSCluster(t)
	got := make(chan mqtt.Message, 10)
	sub := connectMQTT(t, c.URL(), clientOptions("sub", false).SetAutoReconnect(true).
		SetMaxReconnectInterval(200*time.Millisecond).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- m }))
	wait(t, sub.Subscribe("vagt/v1/gw/+/alarm", 1, nil))
	node := c.NodeOf("sub")
	if node == nil {
		t.Fatal("no node holds the client")
	}
	if err := node.Kill(); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "the client on another node", waitFor, func() bool {
		n := c.NodeOf("sub")
		return n != nil && n != node && sub.IsConnectionOpen()
	})
	// As a gateway does: again after a connection lost while the cluster moves the dead
	// node's stream leaders (seen in CI).
	publishUntilAcked(t, c.URL(), "pub", "vagt/v1/gw/gw1/alarm", "after the kill")
	if m := receive(t, got); string(m.Payload()) != "after the kill" {
		t.Fatalf("got %q", m.Payload())
	}
	if err := node.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// publishUntilAcked publishes at QoS 1 until a broker acknowledges it, reconnecting after a
// lost connection, for at most a minute.
func publishUntilAcked(t *testing.T, url, id, topic, payload string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		client := mqtt.NewClient(clientOptions(id, true).AddBroker(url))
		tok := client.Connect()
		if tok.WaitTimeout(waitFor) && tok.Error() == nil {
			pub := client.Publish(topic, 1, false, payload)
			ok := pub.WaitTimeout(waitFor) && pub.Error() == nil
			client.Disconnect(250)
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no broker acknowledged %q within a minute", payload)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
