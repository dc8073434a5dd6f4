package gateway

import (
	"context"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestValidateSecondary(t *testing.T) {
	ok := testConfig(t, "tcp://127.0.0.1:1")
	ok.Uplink.Secondary.Broker = "tcp://127.0.0.1:2"
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"the primary again":       func(c *Config) { c.Uplink.Secondary.Broker = c.Uplink.Broker },
		"cert without key":        func(c *Config) { c.Uplink.Secondary.CertFile = "x.pem" },
		"negative failover":       func(c *Config) { c.Uplink.Secondary.TelemetryFailoverAfter = Duration(-time.Second) },
		"no hedge":                func(c *Config) { c.Uplink.Secondary.AlarmHedge = 0 },
		"key without certificate": func(c *Config) { c.Uplink.Secondary.KeyFile = "x.key" },
	} {
		c := ok
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	data := []byte(`{"uplink": {"broker": "tcp://a:1883", "secondary": {"broker": "ssl://b:8883", "username": "gw-2",
		"telemetry_failover_after": "2m", "alarm_hedge": "5s"}}}`)
	c, err := ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Uplink.Secondary; s.Broker != "ssl://b:8883" || s.Username != "gw-2" ||
		s.TelemetryFailoverAfter != Duration(2*time.Minute) || s.AlarmHedge != Duration(5*time.Second) {
		t.Fatalf("secondary %+v", s)
	}
	if d := Defaults().Uplink.Secondary; d.Broker != "" || d.TelemetryFailoverAfter <= 0 || d.AlarmHedge <= 0 {
		t.Fatalf("defaults %+v", d)
	}
}

// TestSecondLinkWhenPrimaryUnreachable: a gateway whose primary broker cannot be reached
// takes its home configuration from the secondary broker's config lane and sends its
// alarm through the secondary; the status page shows each link.
func TestSecondLinkWhenPrimaryUnreachable(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	cfg := testConfig(t, "tcp://127.0.0.1:1") // nothing listens there
	cfg.Zigbee.Broker = broker.URL()
	cfg.Uplink.Secondary.Broker = broker.URL()
	cfg.Home.Devices = []DeviceFile{{Device: "0x08", Technology: vagt.TechWaterAlarm, Zigbee: "bathroom_leak"}}

	client := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("z2m-and-platform"))
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
	home := &vagt.HomeConfig{Gateway: cfg.Gateway, Version: 9, Municipality: 766, Devices: []vagt.DeviceConfig{
		{Device: "0x08", Technology: vagt.TechWaterAlarm, Zigbee: "bathroom_leak"}}}
	data, err := vagt.EncodeConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	if tok := client.Publish(vagt.Topic(cfg.Gateway, vagt.LaneConfig), 1, true, data); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "config 9 from the secondary", func() bool { return g.Snapshot().ConfigVersion == 9 })
	waitFor(t, "the Zigbee subscription", func() bool {
		client.Publish("zigbee2mqtt/bathroom_leak/availability", 1, false, "online").Wait()
		s, _ := g.Snapshot().Zigbee.(zigbeeStats)
		return s.Messages > 0
	})
	client.Publish("zigbee2mqtt/bathroom_leak", 1, false, `{"water_leak":true}`).Wait()
	select {
	case a := <-alarms:
		if a.Type != vagt.AlarmWaterLeak {
			t.Fatalf("alarm %+v", a)
		}
	case <-time.After(time.Minute):
		t.Fatal("no alarm through the secondary within a minute")
	}
	s := g.Snapshot()
	if !s.UplinkUp || s.Links["primary"] || !s.Links["secondary"] {
		t.Fatalf("uplink %v, links %v", s.UplinkUp, s.Links)
	}
}
