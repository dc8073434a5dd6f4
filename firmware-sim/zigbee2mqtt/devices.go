// Package zigbee2mqtt emulates Zigbee2MQTT and its devices on a home's MQTT broker: it
// publishes state payloads as Zigbee2MQTT 1.x does (<base>/<friendly name>, JSON with
// battery, linkquality and the device's own fields) and availability
// (<base>/<name>/availability, JSON or the legacy plain text).
package zigbee2mqtt

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Bridge is the emulated Zigbee2MQTT on a broker.
type Bridge struct {
	Base string // base_topic, default zigbee2mqtt
	c    mqtt.Client

	mu      sync.Mutex
	battery map[string]int
	sent    int
}

// Connect connects the bridge to the broker.
func Connect(broker, base string) (*Bridge, error) {
	if base == "" {
		base = "zigbee2mqtt"
	}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("z2m-sim-%d", time.Now().UnixNano())).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("zigbee2mqtt: connect %s: %v", broker, tok.Error())
	}
	return &Bridge{Base: base, c: c, battery: map[string]int{}}, nil
}

// Close disconnects.
func (b *Bridge) Close() { b.c.Disconnect(250) }

// Sent returns how many messages the bridge published.
func (b *Bridge) Sent() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sent
}

// Publish sends a state payload for the device, adding battery and linkquality as real
// devices do. QoS 1, so a test knows the broker has it.
func (b *Bridge) Publish(name string, fields map[string]any) error {
	b.mu.Lock()
	bat, ok := b.battery[name]
	if !ok {
		bat = 100
	}
	b.mu.Unlock()
	payload := map[string]any{"battery": bat, "linkquality": 96, "voltage": 2900 + bat*3}
	for k, v := range fields {
		payload[k] = v
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	return b.raw(b.Base+"/"+name, data)
}

// SetBattery sets the battery the device reports from now on.
func (b *Bridge) SetBattery(name string, pct int) {
	b.mu.Lock()
	b.battery[name] = pct
	b.mu.Unlock()
}

// Raw publishes bytes as they are: garbage, a truncated payload.
func (b *Bridge) Raw(name string, payload []byte) error { return b.raw(b.Base+"/"+name, payload) }

// Availability publishes online or offline, as JSON ({"state":"online"}) or plain.
func (b *Bridge) Availability(name string, online, plain bool) error {
	state := "offline"
	if online {
		state = "online"
	}
	p := []byte(`{"state":"` + state + `"}`)
	if plain {
		p = []byte(state)
	}
	return b.raw(b.Base+"/"+name+"/availability", p)
}

func (b *Bridge) raw(topic string, p []byte) error {
	tok := b.c.Publish(topic, 1, false, p)
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		return fmt.Errorf("zigbee2mqtt: publish %s: %v", topic, tok.Error())
	}
	b.mu.Lock()
	b.sent++
	b.mu.Unlock()
	return nil
}

// The payloads of common devices.

// Door reports a contact sensor: contact true means closed.
func (b *Bridge) Door(name string, open bool) error {
	return b.Publish(name, map[string]any{"contact": !open, "device_temperature": 21, "power_outage_count": 0})
}

// Motion reports an occupancy sensor.
func (b *Bridge) Motion(name string, occupied bool, lux int) error {
	return b.Publish(name, map[string]any{"occupancy": occupied, "illuminance": lux, "illuminance_lux": lux})
}

// Climate reports a temperature and humidity sensor.
func (b *Bridge) Climate(name string, celsius, humidity float64) error {
	return b.Publish(name, map[string]any{"temperature": celsius, "humidity": humidity, "pressure": 1013.2})
}

// Button reports a button's action: single, double, hold, emergency, sos.
func (b *Bridge) Button(name, action string) error {
	return b.Publish(name, map[string]any{"action": action})
}

// Water reports a water sensor.
func (b *Bridge) Water(name string, leak bool) error {
	return b.Publish(name, map[string]any{"water_leak": leak, "battery_low": false, "tamper": false})
}
