package gateway

import (
	"context"
	"testing"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestZigbeeOfflineNotAckedUncommitted: Zigbee2MQTT's "offline" for a mapped device raises
// the silent-device alert (rules.Engine.Seen). When the spool cannot commit it, the message
// is not acknowledged to the home broker (real Mosquitto): it must come again. Before the
// fix Seen's error was only logged and the message acknowledged, so the alert was lost with
// the PUBACK.
func TestZigbeeOfflineNotAckedUncommitted(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	cfg := testConfig(t, "tcp://127.0.0.1:1") // no platform
	cfg.Zigbee.Broker, cfg.StatusAddr = broker.URL(), ""
	cfg.Home.Devices = []DeviceFile{{Device: "0x0d", Technology: vagt.TechSmokeAlarm, Zigbee: "smoke_hall"}}
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- g.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	publish := z2mPublisher(t, broker.URL())
	waitFor(t, "the subscription", func() bool {
		publish("zigbee2mqtt/smoke_hall/availability", "online")
		return g.zigbee.Stats().Messages > 0
	})
	waitFor(t, "every message acknowledged", func() bool { return g.zigbee.Stats().Unacked == 0 })

	// The disk goes away: the silent-device alert of "offline" cannot be committed.
	kill(t, g)
	publish("zigbee2mqtt/smoke_hall/availability", "offline")
	waitFor(t, "the offline message left unacknowledged", func() bool { return g.Snapshot().Counters.ZigbeeNotAcked > 0 })
}
