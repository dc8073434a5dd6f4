package gateway

import (
	"context"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestAbsenceOverConfigLane: the real gateway, Mosquitto and Zigbee2MQTT payloads. A care
// plan with an absence (wire config version 2) arrives on the config lane: the front door
// opened within the night window raises nothing, a water leak after it does. The next
// version ends the absence: the same door raises door_at_night. Both are kept across a
// restart without uplink (the spool keeps the version 2 bytes).
func TestAbsenceOverConfigLane(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	cfg := testConfig(t, broker.URL())
	client := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("z2m-and-platform-away"))
	if tok := client.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer client.Disconnect(100)
	alarms := make(chan vagt.Alarm, 10)
	client.Subscribe(vagt.Topic(cfg.Gateway, vagt.LaneAlarm), 1, func(_ mqtt.Client, m mqtt.Message) {
		if a, err := vagt.DecodeAlarm(m.Payload()); err == nil {
			alarms <- a
		}
	}).Wait()
	next := func() vagt.Alarm {
		t.Helper()
		select {
		case a := <-alarms:
			return a
		case <-time.After(time.Minute):
			t.Fatal("no alarm within a minute")
		}
		return vagt.Alarm{}
	}

	// A night window around now, in the home's (default) time zone.
	now := time.Now()
	local := now.In(mustLocation(t, "Europe/Copenhagen"))
	minute := local.Hour()*60 + local.Minute()
	night := vagt.Window{From: vagt.TimeOfDay((minute + 1440 - 120) % 1440), To: vagt.TimeOfDay((minute + 120) % 1440)}
	home := vagt.HomeConfig{Gateway: cfg.Gateway, Version: 5, Municipality: 766,
		Devices: []vagt.DeviceConfig{
			{Device: "0x0d", Technology: vagt.TechDoorSensor, Zigbee: "front_door"},
			{Device: "0x08", Technology: vagt.TechWaterAlarm, Zigbee: "bathroom_leak"}},
		Rules:   vagt.RuleSettings{Night: night, DoorAtNight: true},
		Absence: vagt.Absence{From: now.Add(-time.Hour).Truncate(time.Second), Until: now.Add(48 * time.Hour).Truncate(time.Second)}}
	publish := func(c *vagt.HomeConfig) {
		t.Helper()
		data, err := vagt.EncodeConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		if tok := client.Publish(vagt.Topic(cfg.Gateway, vagt.LaneConfig), 1, true, data); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	publish(&home)
	run := func() (*Gateway, func()) {
		g, err := New(cfg, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		return g, func() { cancel(); <-done }
	}
	zigbee := func(g *Gateway, topic, payload string) {
		t.Helper()
		waitFor(t, "the Zigbee subscription", func() bool {
			client.Publish("zigbee2mqtt/"+topic+"/availability", 1, false, "online").Wait()
			s, _ := g.Snapshot().Zigbee.(zigbeeStats)
			return s.Messages > 0
		})
		client.Publish("zigbee2mqtt/"+topic, 1, false, payload).Wait()
	}

	g, stop := run()
	waitFor(t, "config 5 (with the absence) applied", func() bool { return g.Snapshot().ConfigVersion == 5 })
	stop()
	cfg.Uplink.Broker = "tcp://127.0.0.1:1" // restart without uplink: the absence comes from the spool
	g, stop = run()
	if g.Snapshot().ConfigVersion != 5 {
		t.Fatal("config 5 not kept")
	}
	stop()
	cfg.Uplink.Broker = broker.URL()
	g, stop = run()
	defer func() { stop() }()
	zigbee(g, "front_door", `{"contact":false}`)
	zigbee(g, "bathroom_leak", `{"water_leak":true}`)
	if a := next(); a.Type != vagt.AlarmWaterLeak {
		t.Fatalf("while away: first alarm %s, want the water leak (the door at night is silent)", a.Type)
	}

	zigbee(g, "front_door", `{"contact":true}`)
	back := home
	back.Version, back.Absence = 6, vagt.Absence{}
	publish(&back)
	waitFor(t, "config 6 (no absence) applied", func() bool { return g.Snapshot().ConfigVersion == 6 })
	zigbee(g, "front_door", `{"contact":false}`)
	if a := next(); a.Type != vagt.AlarmDoorAtNight {
		t.Fatalf("after the absence: alarm %s, want door_at_night", a.Type)
	}
}

func mustLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
