package gateway

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/zigbee"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestZigbeeRedeliveryOfCommittedReadingsSpooledOnce: a Zigbee message whose readings the
// gateway committed, killed before its PUBACK left, is sent again by the home broker (real
// Mosquitto, QoS 1, persistent session) after the restart. The gateway acknowledges it
// and does not spool its readings a second time: they were stamped at receipt, so a
// second copy would be a second point at a later time, a duplicate no store can fold
// (promise 2). The same payload published anew is a new message and is spooled.
func TestZigbeeRedeliveryOfCommittedReadingsSpooledOnce(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	cfg := testConfig(t, "tcp://127.0.0.1:1") // no platform: the readings stay in the spool
	cfg.Zigbee.Broker, cfg.StatusAddr = broker.URL(), ""
	cfg.Home.Devices = []DeviceFile{{Device: "0x0e", Technology: vagt.TechEnvironmentSensor, Zigbee: "living_room"}}
	publish := z2mPublisher(t, broker.URL())
	spooled := func(g *Gateway) int {
		st := g.spool.Stats()
		return st.PendingReadings + st.BatchedReadings
	}
	const climate = `{"temperature":21.5,"humidity":48}`

	// 1. The message arrives and is committed; the gateway dies before its PUBACK.
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	var committed atomic.Int32
	stop := runZigbee(g, func(u zigbee.Update) {
		if len(u.Readings) == 0 {
			u.Ack()
			return
		}
		x := zigbeeInput(u)
		x.done = func() { committed.Add(1) } // what the pipeline would Ack: the kill comes first
		g.process([]input{x})
	})
	stacktest.WaitFor(t, "the subscription", time.Minute, func() bool {
		publish("zigbee2mqtt/living_room/availability", "online")
		return g.zigbee.Stats().Messages > 0
	})
	publish("zigbee2mqtt/living_room", climate)
	stacktest.WaitFor(t, "the readings committed", time.Minute, func() bool { return committed.Load() == 1 })
	first := spooled(g)
	if first == 0 {
		t.Fatal("nothing spooled")
	}
	stop()
	kill(t, g)

	// 2. The restart: the broker sends the message again; it is acknowledged, not spooled.
	g, err = New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- g.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()
	stacktest.WaitFor(t, "the redelivery taken and acknowledged", time.Minute, func() bool {
		s := g.zigbee.Stats()
		return s.Messages > 0 && s.Unacked == 0
	})
	if n := spooled(g); n != first {
		t.Errorf("%d readings in the spool after the redelivery, want the %d of the first delivery", n, first)
	}
	if n := g.Snapshot().Counters.ZigbeeRedelivered; n != 1 {
		t.Errorf("zigbee_redelivered %d, want 1", n)
	}

	// 3. The same payload published anew is another message: spooled.
	publish("zigbee2mqtt/living_room", climate)
	stacktest.WaitFor(t, "the new message spooled", time.Minute, func() bool { return spooled(g) == 2*first })
}
