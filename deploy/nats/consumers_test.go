package natsconf_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Every QoS 1 subscription of every MQTT session is a JetStream consumer of the one stream
// $MQTT_msgs, and NATS 2.15 caps a stream at 1,000 consumers unless told otherwise
// (jetstream.limits.default_max_consumers): past it a SUBSCRIBE gets SUBACK 0x80 and the
// node logs "maximum consumers limit reached". Each gateway holds two (config, downlink), so
// without the limit lifted a cluster serves the lanes of ~500 gateways and silently not the
// rest (found in `make scale` at 2,000 gateways: 3,500 such refusals in one run). Here
// 1,020 subscriptions, 60 to a session (a session's subscriptions may hold at most 65,535
// messages in flight, 1,024 each), from the operators' monitor, whose grant reads
// vagt/v1/#: each must be granted, and a downlink published to the last must arrive.
func TestProductionConfigServesMoreThanAThousandSubscriptions(t *testing.T) {
	const sessions, perSession = 17, 60
	// Streams (and so consumers) of one replica: the limit counts consumers whatever their
	// replicas, and 1,020 three-replica consumers took 4 minutes at load average ~40 here.
	const r3 = "stream_replicas: 3"
	c, pki := productionClusterEdited(t, func(s string) string {
		if !strings.Contains(s, r3) {
			t.Fatalf("nats.conf no longer has %q", r3)
		}
		return strings.Replace(s, r3, "stream_replicas: 1", 1)
	}, "gw-a")
	api := connect(t, pki, c.Node(0).URL(), "svc_api", "vagt-api")
	topic := func(k int) string { return fmt.Sprintf("vagt/v1/gw/gw-%04d/downlink", k) }
	got := make(chan string, 10)
	for s := range sessions {
		mon := connect(t, pki, c.Node(s%3).URL(), "ops_monitor", fmt.Sprintf("ops-monitor-%02d", s))
		filters := map[string]byte{}
		for j := range perSession {
			filters[topic(s*perSession+j)] = 1
		}
		tok := mon.SubscribeMultiple(filters, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() })
		if !tok.WaitTimeout(time.Minute) {
			t.Fatalf("session %d: no SUBACK", s)
		}
		refused := 0
		for f, code := range tok.(*mqtt.SubscribeToken).Result() {
			if code != 1 {
				refused++
				if refused == 1 {
					t.Errorf("session %d: SUBACK %#x for %s (subscription %d of %d), want 1", s, code, f, s*perSession, sessions*perSession)
				}
			}
		}
		if refused > 0 {
			t.Fatalf("session %d: %d of %d subscriptions refused (%s)", s, refused, perSession, c.LogTail())
		}
	}
	last := topic(sessions*perSession - 1)
	wait(t, api.Publish(last, 1, false, "for the last"))
	select {
	case tp := <-got:
		if tp != last {
			t.Fatalf("got %s, want %s", tp, last)
		}
	case <-time.After(waitFor):
		t.Fatalf("the downlink to the %dth subscription did not arrive", sessions*perSession)
	}
}
