package uplink

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func nextDownlink(t *testing.T, u *Uplink, want string) {
	t.Helper()
	select {
	case p := <-u.Downlinks():
		if string(p) != want {
			t.Fatalf("downlink %q, want %q", p, want)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%q did not arrive within a minute", want)
	}
}

// The downlink lane reaches the gateway in order, and what the api publishes while the
// gateway is away waits in its persistent session and arrives when it is back.
func TestDownlinkLaneDelivered(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	api := collect(t, broker.URL(), "api", "nothing/here")
	publish := func(p string) {
		t.Helper()
		tok := api.c.Publish(vagt.Topic(gw, vagt.LaneDownlink), 1, false, []byte(p))
		if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	q := newSpool(t)
	u, stop := start(t, Options{Broker: broker.URL()}, q)
	waitFor(t, "connected", u.Connected)
	// The subscription follows the connect; the status it publishes after it is the sign.
	col := collect(t, broker.URL(), "status-reader", vagt.Topic(gw, vagt.LaneStatus))
	col.wait(t, "online status", func(m []mqtt.Message) bool { return len(m) > 0 })
	publish("received 1001")
	publish("acknowledged 1001")
	nextDownlink(t, u, "received 1001")
	nextDownlink(t, u, "acknowledged 1001")

	stop()
	publish("resolved 1001") // the gateway is away
	u2, _ := start(t, Options{Broker: broker.URL()}, q)
	nextDownlink(t, u2, "resolved 1001")
}
