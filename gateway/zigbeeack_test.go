package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/zigbee"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestZigbeeAlarmAckedOnlyAfterCommit (issue 15, Zigbee PUBACK before commit): a Zigbee
// alarm the gateway took from the home broker (real Mosquitto, QoS 1, persistent session)
// and lost before the spool commit — the pipeline gone, as in a kill -9 — is redelivered
// by the broker after the restart and spooled, and once spooled it is acknowledged and
// not delivered again. Before the fix paho's automatic PUBACK went when the message was
// queued in memory: after the restart nothing came and the alarm was lost.
func TestZigbeeAlarmAckedOnlyAfterCommit(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	cfg := testConfig(t, "tcp://127.0.0.1:1") // no platform: the alarm stays in the spool
	cfg.Zigbee.Broker, cfg.StatusAddr = broker.URL(), ""
	cfg.Home.Devices = []DeviceFile{{Device: "0x0c", Technology: vagt.TechPersonalAlarm, Zigbee: "sos_button"}}
	publish := z2mPublisher(t, broker.URL())

	// 1. The alarm arrives and the pipeline dies before committing it: no Ack.
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var pressed bool
	stop := runZigbee(g, func(u zigbee.Update) {
		mu.Lock()
		defer mu.Unlock()
		pressed = pressed || len(u.Readings) > 0
	})
	stacktest.WaitFor(t, "the subscription", time.Minute, func() bool {
		publish("zigbee2mqtt/sos_button/availability", "online")
		return g.zigbee.Stats().Messages > 0
	})
	publish("zigbee2mqtt/sos_button", `{"action":"emergency"}`)
	stacktest.WaitFor(t, "the press delivered", time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return pressed })
	stop()
	kill(t, g)
	if n := len(spooledAlarms(t, cfg)); n != 0 {
		t.Fatalf("%d alarms spooled by a pipeline that committed nothing", n)
	}

	// 2. The gateway restarts: the broker redelivers the press, the pipeline spools it.
	g, err = New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- g.Run(ctx) }()
	stacktest.WaitFor(t, "the redelivered alarm in the spool", time.Minute, func() bool { return g.spool.Stats().Alarms == 1 })
	stacktest.WaitFor(t, "its acknowledgement", time.Minute, func() bool { return g.zigbee.Stats().Unacked == 0 })
	cancel()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	got := spooledAlarms(t, cfg)
	if len(got) != 1 || got[0].Type != vagt.AlarmPanic || got[0].Device != "0x0c" {
		t.Fatalf("spooled %+v, want the one panic of 0x0c", got)
	}

	// 3. Acknowledged once spooled: a third start gets only what is published now.
	g, err = New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer kill(t, g)
	var updates []zigbee.Update
	stop = runZigbee(g, func(u zigbee.Update) {
		mu.Lock()
		updates = append(updates, u)
		mu.Unlock()
		u.Ack()
	})
	defer stop()
	stacktest.WaitFor(t, "the marker", time.Minute, func() bool {
		publish("zigbee2mqtt/sos_button/availability", "offline")
		mu.Lock()
		defer mu.Unlock()
		return len(updates) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	for _, u := range updates {
		if len(u.Readings) > 0 {
			t.Errorf("the press was delivered again after it was spooled: %+v", u)
		}
	}
}

// z2mPublisher connects as Zigbee2MQTT to the home broker at url and returns how the test
// publishes (QoS 1) through it; it disconnects when the test ends.
func z2mPublisher(t *testing.T, url string) (publish func(topic, payload string)) {
	t.Helper()
	z2m := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("z2m"))
	if tok := z2m.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { z2m.Disconnect(100) })
	return func(topic, payload string) {
		t.Helper()
		if tok := z2m.Publish(topic, 1, false, payload); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
}

// runZigbee runs the gateway's Zigbee subscriber alone, handing its updates to deliver
// instead of the pipeline, until stop.
func runZigbee(g *Gateway, deliver func(zigbee.Update)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.zigbee.Run(ctx, deliver) }()
	return func() { cancel(); <-done }
}
