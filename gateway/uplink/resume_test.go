package uplink

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestResumeIsNoAcknowledgement: a publish in flight when the connection drops is resent by
// paho on reconnect, and paho completes the old publish's token then — before any PUBACK.
// The spool must keep the alarm until a PUBACK came: with the broker's PUBACKs dropped, the
// uplink gives up after its publish timeout and sends it again, and it is deleted only once
// a PUBACK gets through. (Before the fix the resume deleted it from the spool: a kill -9
// before the PUBACK of the resent copy lost the alarm.)
func TestResumeIsNoAcknowledgement(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	proxy := newPubackDropper(t, broker.Addr())
	col := collect(t, broker.URL(), "platform-resume", vagt.Topic(gw, vagt.LaneAlarm))
	q := newSpool(t)
	u, _ := start(t, Options{Broker: proxy.url(), KeepAlive: 10 * time.Minute, PublishTimeout: 2 * time.Second}, q)
	waitFor(t, "connected", u.Connected)

	proxy.drop.Store(true)
	fill(t, q, 0, 1)
	col.wait(t, "the alarm on the broker", func(m []mqtt.Message) bool { return len(m) >= 1 })
	proxy.cut() // paho reconnects and resends the alarm it holds
	col.wait(t, "paho's resend", func(m []mqtt.Message) bool { return len(m) >= 2 })
	// The spool's own resend after the publish timeout: it still holds the alarm.
	col.wait(t, "the spool's resend", func(m []mqtt.Message) bool { return len(m) >= 3 })
	if n := q.Stats().Alarms; n != 1 {
		t.Fatalf("the spool holds %d alarms while no PUBACK reached the gateway, want 1", n)
	}
	proxy.drop.Store(false)
	// The spool deletes it, then the uplink counts it: wait for both (CI saw the read between).
	waitFor(t, "the alarm acknowledged and counted", func() bool { return q.Stats().Alarms == 0 && u.Sent() >= 1 })
	if u.Sent() != 1 {
		t.Fatalf("sent %d, want 1", u.Sent())
	}
}
