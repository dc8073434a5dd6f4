package gateway

import (
	"context"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/serial"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestUnmappedZigbeeDeviceAlarms (issue 22 item 1): a Zigbee device left out of the device
// map that presses for help is not dropped: the panic goes out as a panic and an
// unknown_device technical alert names it; a payload without an alarm field from another
// unmapped device raises nothing; a configuration that takes the device in clears the
// technical alert. Real Mosquitto for Zigbee2MQTT and the platform.
func TestUnmappedZigbeeDeviceAlarms(t *testing.T) {
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
	next := func(what string) vagt.Alarm {
		t.Helper()
		select {
		case a := <-alarms:
			return a
		case <-time.After(time.Minute):
			t.Fatalf("no %s within a minute", what)
		}
		return vagt.Alarm{}
	}
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the Zigbee subscription", func() bool {
		client.Publish("zigbee2mqtt/bathroom_leak/availability", 1, false, "online").Wait()
		s, _ := g.Snapshot().Zigbee.(zigbeeStats)
		return s.Messages > 0
	})

	client.Publish("zigbee2mqtt/kitchen_plug", 1, false, `{"power":12}`).Wait()
	client.Publish("zigbee2mqtt/hall_pendant", 1, false, `{"action":"emergency","battery":80}`).Wait()
	panic, tech := next("panic"), next("technical alert")
	if panic.Type != vagt.AlarmPanic || panic.Device != "hall_pendant" || panic.Priority != vagt.PriorityCritical {
		t.Fatalf("the unmapped pendant's press: %+v", panic)
	}
	if tech.Type != vagt.AlarmUnknownDevice || tech.Device != "hall_pendant" || tech.Priority != vagt.PriorityTechnical ||
		tech.Details["source"] != "zigbee" || tech.Details["name"] != "hall_pendant" {
		t.Fatalf("the technical alert: %+v", tech)
	}
	// Pressed again: another panic (after the quiet time it would be a new one), no second technical alert.
	client.Publish("zigbee2mqtt/hall_pendant", 1, false, `{"smoke":true}`).Wait()
	if a := next("smoke"); a.Type != vagt.AlarmSmoke || a.Device != "hall_pendant" {
		t.Fatalf("smoke from the unmapped device: %+v", a)
	}
	if s, _ := g.Snapshot().Zigbee.(zigbeeStats); g.zigbee.UnmappedAlarms() != 2 || s.UnknownDevice != 1 {
		t.Fatalf("zigbee stats %+v, unmapped alarms %d", s, g.zigbee.UnmappedAlarms())
	}

	home := &vagt.HomeConfig{Gateway: cfg.Gateway, Version: 2, Municipality: 766, Devices: []vagt.DeviceConfig{
		{Device: "0x08", Technology: vagt.TechWaterAlarm, Zigbee: "bathroom_leak"},
		{Device: "hall_pendant", Technology: vagt.TechPersonalAlarm, Zigbee: "hall_pendant", PanicOnPress: true}}}
	data, err := vagt.EncodeConfig(home)
	if err != nil {
		t.Fatal(err)
	}
	client.Publish(vagt.Topic(cfg.Gateway, vagt.LaneConfig), 1, true, data).Wait()
	if c := next("the clear"); c.Type != vagt.AlarmUnknownDevice || c.Clears != tech.Seq {
		t.Fatalf("after the map took the device in: %+v", c)
	}
	select {
	case a := <-alarms:
		t.Fatalf("unexpected alarm %+v (the plug has no alarm field)", a)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestUnmappedSerialPeripheral: an alarm frame of a serial peripheral not in the device
// map (nor its base unit) is raised as its alarm and an unknown_device technical alert; one
// in the map, or of a unit in the map, only as its alarm; a gateway with no device map and
// no platform configuration (not set up yet) raises only the alarm.
func TestUnmappedSerialPeripheral(t *testing.T) {
	frame := func(unit, dev string) input {
		f := serial.Frame{Type: serial.TypeAlarm, Unit: unit, Device: dev, Alarm: vagt.AlarmFall}
		kind, value, _ := serial.AlarmReading(f.Alarm)
		return input{seen: f.DeviceID(), ack: &f, readings: []vagt.Reading{{Device: f.DeviceID(), Kind: kind, Value: value}}}
	}
	for name, tc := range map[string]struct {
		devices []DeviceFile
		want    []vagt.AlarmType
	}{
		"mapped":          {[]DeviceFile{{Device: "bu-17:fall", Technology: vagt.TechFallDetector}, {Device: "bu-17:x", Technology: vagt.TechFallDetector}}, []vagt.AlarmType{vagt.AlarmFall}},
		"unmapped":        {[]DeviceFile{{Device: "bu-17:x", Technology: vagt.TechFallDetector}}, []vagt.AlarmType{vagt.AlarmFall, vagt.AlarmUnknownDevice}},
		"not set up":      {nil, []vagt.AlarmType{vagt.AlarmFall}},
		"its unit mapped": {[]DeviceFile{{Device: "bu-17", Technology: vagt.TechPersonalAlarm}}, []vagt.AlarmType{vagt.AlarmFall}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, "tcp://127.0.0.1:1") // no broker: the alarms stay in the spool
			cfg.StatusAddr, cfg.Zigbee.Broker, cfg.Serial.Path = "", "", "/dev/null"
			cfg.Home.Devices = tc.devices
			g, err := New(cfg, Deps{})
			if err != nil {
				t.Fatal(err)
			}
			g.serial = nil // no unit to acknowledge to: process skips the K
			x := frame("bu-17", "fall")
			x.readings[0].Time = time.Now()
			g.process([]input{x})
			g.unmapped([]input{x})
			kill(t, g)
			var got []vagt.AlarmType
			for _, a := range spooledAlarms(t, cfg) {
				got = append(got, a.Type)
				if a.Device != "bu-17:fall" || a.Type == vagt.AlarmUnknownDevice && a.Details["source"] != "serial" {
					t.Errorf("alarm %+v", a)
				}
			}
			if len(got) != len(tc.want) || got[0] != tc.want[0] || len(got) > 1 && got[1] != tc.want[1] {
				t.Fatalf("spooled %v, want %v", got, tc.want)
			}
		})
	}
}
