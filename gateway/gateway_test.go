package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/zigbee"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

type zigbeeStats = zigbee.Stats

func TestMain(m *testing.M) { stacktest.Main(m) }

func testConfig(t *testing.T, broker string) Config {
	t.Helper()
	c := Defaults()
	c.Gateway, c.Municipality = "gw-cfg", 766
	c.Spool.Path = filepath.Join(t.TempDir(), "spool.db")
	c.Uplink.Broker, c.Zigbee.Broker = broker, broker
	c.Uplink.Heartbeat = Duration(time.Second)
	c.StatusAddr = "127.0.0.1:0"
	return c
}

func TestValidate(t *testing.T) {
	c := testConfig(t, "tcp://127.0.0.1:1")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"no gateway":          func(c *Config) { c.Gateway = "" },
		"status on a network": func(c *Config) { c.StatusAddr = "0.0.0.0:8089" },
		"no input":            func(c *Config) { c.Zigbee.Broker, c.Serial.Path = "", "" },
		"cert without key":    func(c *Config) { c.Uplink.CertFile = "x.pem" },
		"lane QoS 2":          func(c *Config) { c.Uplink.LaneQoS = 2 },
		"lane QoS -1":         func(c *Config) { c.Uplink.LaneQoS = -1 },
		"bad window":          func(c *Config) { c.Home.Rules.Night = "22:00" },
		"bad device":          func(c *Config) { c.Home.Devices = []DeviceFile{{Device: "a b", Technology: vagt.TechDoorSensor}} },
	} {
		c := testConfig(t, "tcp://127.0.0.1:1")
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseConfig([]byte(`{"gateway": "gw-1", "spool": {"pathh": "x"}}`)); err == nil || !strings.Contains(err.Error(), "pathh") {
		t.Errorf("unknown key: %v", err)
	}
}

// TestConfigLane: a newer home configuration on the config lane is applied, reported in
// the status, kept across a restart; one for another gateway is refused and reported.
func TestConfigLane(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	cfg := testConfig(t, broker.URL())
	api := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("api"))
	if tok := api.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer api.Disconnect(100)
	publish := func(c *vagt.HomeConfig) {
		t.Helper()
		data, err := vagt.EncodeConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		if tok := api.Publish(vagt.Topic(cfg.Gateway, vagt.LaneConfig), 1, true, data); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	home := &vagt.HomeConfig{Gateway: cfg.Gateway, Version: 5, Municipality: 751, Devices: []vagt.DeviceConfig{
		{Device: "0x01", Technology: vagt.TechDoorSensor, Zigbee: "front_door"}}}
	publish(home)

	run := func() (*Gateway, func()) {
		g, err := New(cfg, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		return g, func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	g, stop := run()
	waitFor(t, "config 5 applied", func() bool { return g.Snapshot().ConfigVersion == 5 })
	if s := g.status(); s.Municipality != 751 || len(s.Inventory) != 1 || s.ConfigVersion != 5 {
		t.Fatalf("status %+v", s)
	}
	other := *home
	other.Gateway, other.Version = "gw-other", 6
	publish(&other)
	waitFor(t, "the foreign config refused", func() bool { return strings.Contains(g.Snapshot().ConfigError, "gateway mismatch") })
	if g.Snapshot().ConfigVersion != 5 {
		t.Fatal("a foreign config replaced the running one")
	}
	stop()

	// Offline restart: the platform's configuration comes from the spool, not the file.
	cfg.Uplink.Broker = "tcp://127.0.0.1:1"
	g, stop = run()
	defer stop()
	if v := g.Snapshot().ConfigVersion; v != 5 {
		t.Fatalf("after a restart without uplink: config version %d, want 5", v)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	stacktest.WaitFor(t, what, time.Minute, cond)
}

// TestEpisodeClearedAfterRestart: a water leak raised before a restart is cleared after
// it, naming the raise's seq (the open episodes are kept in the spool).
func TestEpisodeClearedAfterRestart(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	cfg := testConfig(t, broker.URL())
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
	leak := func(g *Gateway, wet bool) vagt.Alarm {
		t.Helper()
		waitFor(t, "the Zigbee subscription", func() bool {
			client.Publish("zigbee2mqtt/bathroom_leak/availability", 1, false, "online").Wait()
			s, _ := g.Snapshot().Zigbee.(zigbeeStats)
			return s.Messages > 0
		})
		client.Publish("zigbee2mqtt/bathroom_leak", 1, false, fmt.Sprintf(`{"water_leak":%t}`, wet)).Wait()
		select {
		case a := <-alarms:
			return a
		case <-time.After(time.Minute):
			t.Fatal("no alarm within a minute")
		}
		return vagt.Alarm{}
	}
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
	g, stop := run()
	raise := leak(g, true)
	stop()
	g, stop = run()
	defer stop()
	clear := leak(g, false)
	if raise.Type != vagt.AlarmWaterLeak || clear.Clears != raise.Seq || clear.Seq <= raise.Seq {
		t.Fatalf("raise %+v, clear %+v", raise, clear)
	}
}
