package replicas

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/brokerauth"
	"github.com/vagt-dk/vagt/ingest/mqttin"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestIngestPartitionsOnCluster: NATS has no $share, so ingest replicas split telemetry by
// subject mapping (localstack.NATSTelemetryPartitions): the cluster puts each gateway's
// telemetry in one of three partitions by a hash of its id, and each replica's consumer
// (mqttin with Partition, `vagt ingest --partition k`) subscribes to one. With the
// production permissions, granted by vagt broker-auth (gateways publish only under their
// own id, svc_ingest reads telemetry): every message reaches exactly one replica, all of one gateway's reach the
// same one, the replica sees the ordinary topic, and a gateway publishing under another's
// id is still dropped.
func TestIngestPartitionsOnCluster(t *testing.T) {
	const parts, gateways, perGateway = 3, 12, 5
	// Password logins, authorized by vagt broker-auth (package brokerauth) from a Mosquitto
	// password file, as the registry writes it.
	var passwd strings.Builder
	for _, u := range []string{"svc_ingest"} {
		h, err := localstack.HashMosquittoPassword("pw")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&passwd, "%s:%s\n", u, h)
	}
	for i := range gateways {
		h, err := localstack.HashMosquittoPassword("pw")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&passwd, "gw-p-%02d:%s\n", i, h)
	}
	path := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte(passwd.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	pf, err := brokerauth.OpenPasswordFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cluster := stacktest.NATSClusterWithAuth(t, localstack.NATSClusterOptions{Extra: localstack.NATSTelemetryPartitions(parts)}, brokerauth.Options{Passwords: pf})

	type got struct {
		part  int
		topic string
		body  string
	}
	var (
		mu       sync.Mutex
		received []got
	)
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	for k := range parts {
		c, err := mqttin.New(ctx, mqttin.Config{Broker: cluster.Node(k).URL(), ClientID: fmt.Sprintf("vagt-ingest-%d", k),
			Username: "svc_ingest", Password: "pw", Partition: fmt.Sprint(k), Lanes: []vagt.Lane{vagt.LaneTelemetry}},
			func(d mqttin.Delivery) {
				mu.Lock()
				received = append(received, got{k, d.Topic, string(d.Payload)})
				mu.Unlock()
				d.Ack()
			})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
	}
	for i := range gateways {
		id := fmt.Sprintf("gw-p-%02d", i)
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cluster.Node(i % 3).URL()).SetClientID(id).SetUsername(id).SetPassword("pw"))
		if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
			t.Fatalf("%s: %v", id, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(100) })
		for j := range perGateway {
			if tok := c.Publish(vagt.Topic(vagt.GatewayID(id), vagt.LaneTelemetry), 1, false, fmt.Sprintf("%s #%d", id, j)); !tok.WaitTimeout(patience) || tok.Error() != nil {
				t.Fatalf("%s: %v", id, tok.Error())
			}
		}
		if i == 0 { // forged: under another gateway's id, acknowledged and dropped
			if tok := c.Publish("vagt/v1/gw/gw-p-01/telemetry", 1, false, "forged"); !tok.WaitTimeout(patience) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
		}
	}
	waitFor(t, "every reading", func() bool { mu.Lock(); defer mu.Unlock(); return len(received) >= gateways*perGateway })
	time.Sleep(time.Second) // a copy or the forged one would come now

	mu.Lock()
	defer mu.Unlock()
	if len(received) != gateways*perGateway {
		t.Errorf("%d messages received, want %d (each exactly once)", len(received), gateways*perGateway)
	}
	partOf := map[string]int{}
	seen := map[string]bool{}
	perPart := make([]int, parts)
	for _, g := range received {
		gw, lane, err := vagt.ParseTopic(g.topic)
		if err != nil || lane != vagt.LaneTelemetry {
			t.Errorf("replica %d got topic %q: %v", g.part, g.topic, err)
			continue
		}
		if !strings.HasPrefix(g.body, string(gw)+" #") {
			t.Errorf("replica %d got %q on %s", g.part, g.body, g.topic)
		}
		if seen[g.body] {
			t.Errorf("%q twice", g.body)
		}
		seen[g.body] = true
		if p, ok := partOf[string(gw)]; ok && p != g.part {
			t.Errorf("%s in partitions %d and %d", gw, p, g.part)
		}
		partOf[string(gw)] = g.part
		perPart[g.part]++
	}
	t.Logf("messages per partition: %v", perPart)
}
