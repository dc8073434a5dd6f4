package localstack_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// A true partition: node 1 is cut from its peers (its routes through the test's proxies)
// while a gateway stays connected to it. The majority keeps serving: a message published on
// node 3 reaches the consumer on node 2. What the cut-off node acknowledges is not lost: after
// the heal every publish it acknowledged reaches the consumer, and the gateway's alarm gets
// through (on its node or, reconnecting, on another).
func TestNATSClusterPartition(t *testing.T) {
	c := stacktest.NATSCluster(t, localstack.NATSClusterOptions{Partitionable: true})
	cut := c.Node(0)
	stacktest.WaitFor(t, "every node routed to its peers", waitFor, func() bool {
		for _, n := range c.Nodes() {
			if r, err := n.Routes(); err != nil || r == 0 {
				return false
			}
		}
		return true
	})
	got := make(chan mqtt.Message, 100)
	sub := connectMQTT(t, c.Node(1).URL(), clientOptions("consumer", false).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- m }))
	wait(t, sub.Subscribe("vagt/v1/gw/+/alarm", 1, nil))
	var lost atomic.Int64
	gw := connectMQTT(t, cut.URL(), clientOptions("gw0", false).
		SetConnectionLostHandler(func(mqtt.Client, error) { lost.Add(1) }))

	if err := cut.Partition(); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "node 1 without routes", waitFor, func() bool { r, err := cut.Routes(); return err == nil && r == 0 })
	if !gw.IsConnectionOpen() {
		t.Fatal("the partition cut the gateway's own connection: not a partition")
	}
	// What a balancer's health check would see: the cut-off node reports itself unhealthy
	// once it has lost its JetStream peers (docs/scaling.md recommends checking it).
	stacktest.WaitFor(t, "node 1's /healthz to fail", waitFor, func() bool {
		resp, err := http.Get(cut.MonitorURL() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode != http.StatusOK
	})
	// The majority moves the cut-off node's stream leaders meanwhile and may drop a client
	// (CI saw "connection lost before Publish completed"): send until acknowledged, as a
	// gateway's spool does.
	publishUntilAcked(t, c.Node(2).URL(), "gw2", "vagt/v1/gw/gw2/alarm", "majority")
	if m := receive(t, got); string(m.Payload()) != "majority" {
		t.Fatalf("the consumer got %q during the partition, want the majority's alarm", m.Payload())
	}
	// The minority has no JetStream quorum: whether it acknowledges, errs or drops the
	// gateway is NATS's business; nothing it acknowledges may be lost.
	minority := gw.Publish("vagt/v1/gw/gw0/alarm", 1, false, "minority")
	ackedInCut := minority.WaitTimeout(10*time.Second) && minority.Error() == nil
	t.Logf("during the cut: the minority node acknowledged the gateway's alarm: %t; the gateway's connection lost %d times", ackedInCut, lost.Load())

	if err := cut.Heal(); err != nil {
		t.Fatal(err)
	}
	stacktest.WaitFor(t, "node 1 routed again", waitFor, func() bool { r, err := cut.Routes(); return err == nil && r > 0 })
	if !ackedInCut {
		// As the gateway's spool does: send again until acknowledged.
		publishUntilAcked(t, c.URL(), "gw0", "vagt/v1/gw/gw0/alarm", "minority")
	}
	if m := receive(t, got); string(m.Payload()) != "minority" {
		t.Fatalf("after the heal the consumer got %q, want the gateway's alarm", m.Payload())
	}
}
