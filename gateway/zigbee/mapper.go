// Package zigbee reads Zigbee2MQTT devices from the home's local MQTT broker: a pure mapper
// from Zigbee2MQTT's JSON payloads to readings, and a subscriber (paho) on
// <base_topic>/+ and <base_topic>/+/availability.
package zigbee

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
)

// Errors a payload is rejected with.
var (
	ErrNotJSON    = errors.New("zigbee: payload is not a JSON object")
	ErrBadField   = errors.New("zigbee: field value unusable")
	ErrBadPayload = errors.New("zigbee: availability payload is neither online nor offline")
)

// defaultKinds says what a Zigbee2MQTT field means when the device map does not say
// otherwise. Fields not listed here are ignored (there are hundreds of them).
var defaultKinds = map[string]vagt.Kind{
	"contact":         vagt.KindDoorOpen,
	"occupancy":       vagt.KindMotion,
	"water_leak":      vagt.KindWaterLeak,
	"smoke":           vagt.KindSmoke,
	"tamper":          vagt.KindTamper,
	"battery":         vagt.KindBattery,
	"battery_low":     vagt.KindBatteryLow,
	"temperature":     vagt.KindTemperature,
	"humidity":        vagt.KindHumidity,
	"illuminance":     vagt.KindIlluminance,
	"illuminance_lux": vagt.KindIlluminance,
	"power":           vagt.KindPower,
	"linkquality":     vagt.KindLinkQuality,
	"action":          vagt.KindButtonPress,
	"sos":             vagt.KindButtonPress,
}

// actions maps Zigbee2MQTT's action values to presses; emergency and sos are the
// dedicated help buttons. Other actions (release, brightness_up, ...) are no press.
var actions = map[string]float64{
	"single":    vagt.PressSingle,
	"double":    vagt.PressDouble,
	"hold":      vagt.PressHold,
	"long":      vagt.PressHold,
	"emergency": vagt.PressEmergency,
	"sos":       vagt.PressEmergency,
	"panic":     vagt.PressEmergency,
}

// Map turns a Zigbee2MQTT state payload of the device into readings stamped at. A payload
// that is not a JSON object is rejected with ErrNotJSON. A field whose value cannot be
// used is skipped and named in an ErrBadField error, returned with the other readings.
// Unknown fields are ignored.
func Map(dev vagt.DeviceConfig, payload []byte, at time.Time) ([]vagt.Reading, error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		return nil, fmt.Errorf("%w: %.40q", ErrNotJSON, payload)
	}
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names) // readings in a stable order
	if _, ok := fields["illuminance_lux"]; ok {
		// Older Zigbee2MQTT sends a raw "illuminance" beside the lux value: use the lux.
		names = remove(names, "illuminance")
	}
	var out []vagt.Reading
	var bad []string
	for _, f := range names {
		kind, ok := dev.Fields[f]
		if !ok {
			if kind, ok = defaultKinds[f]; !ok {
				continue
			}
		}
		v, ok, err := value(f, kind, fields[f])
		if err != nil {
			bad = append(bad, f)
			continue
		}
		if !ok {
			continue
		}
		r := vagt.Reading{Device: dev.Device, Kind: kind, Time: at, Value: v}
		if _, err := kind.ToWire(v); err != nil {
			bad = append(bad, f)
			continue
		}
		out = append(out, r)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("%w: %s", ErrBadField, strings.Join(bad, ", "))
	}
	return out, nil
}

func remove(s []string, x string) []string {
	out := s[:0]
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// value converts one field; ok is false for a value that is no reading (a null, an
// action that is no press, sos false).
func value(field string, kind vagt.Kind, raw json.RawMessage) (float64, bool, error) {
	if string(raw) == "null" {
		return 0, false, nil
	}
	switch field {
	case "action":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false, err
		}
		p, ok := actions[s]
		return p, ok, nil
	case "sos":
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return 0, false, err
		}
		return vagt.PressEmergency, b, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		if field == "contact" {
			b = !b // contact true means the magnet is at the reed switch: CLOSED
		}
		if b {
			return 1, true, nil
		}
		return 0, true, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false, err
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false, fmt.Errorf("number %s", n)
	}
	if i, _ := kind.Info(); i.Type != vagt.ValueDecimal {
		f = math.Round(f) // lux 123.4 is 123 lx
	}
	return f, true, nil
}

// MapAvailability parses an availability payload: {"state":"online"} (Zigbee2MQTT ≥ 1.22)
// or the plain online / offline of older versions.
func MapAvailability(payload []byte) (online bool, err error) {
	s := strings.TrimSpace(string(payload))
	var obj struct {
		State string `json:"state"`
	}
	if strings.HasPrefix(s, "{") {
		if err := json.Unmarshal(payload, &obj); err != nil {
			return false, fmt.Errorf("%w: %v", ErrNotJSON, err)
		}
		s = obj.State
	}
	switch s {
	case "online":
		return true, nil
	case "offline":
		return false, nil
	}
	return false, fmt.Errorf("%w: %.40q", ErrBadPayload, payload)
}

// alarmCapable are the fields whose readings can raise an alarm no care plan switches off
// (panic, smoke, water); a device not in the device map that sends one is not dropped.
var alarmCapable = map[string]bool{"action": true, "sos": true, "smoke": true, "water_leak": true}

// MapUnmapped maps the payload of a device not in the device map (friendly name name): the
// readings of its alarm-capable fields, under a device id made from the name (Zigbee2MQTT's
// default names are IEEE addresses, which are valid ids), and false when the payload has
// no such field. A panic from an unmapped device is still a panic: the gateway forwards it
// and raises a technical alert about the device (docs/gateway.md).
func MapUnmapped(name string, payload []byte, at time.Time) (vagt.DeviceID, []vagt.Reading, bool) {
	id := UnmappedID(name)
	rs, _ := Map(vagt.DeviceConfig{Device: id}, payload, at)
	var fields map[string]json.RawMessage
	if json.Unmarshal(payload, &fields) != nil {
		return id, nil, false
	}
	capable := false
	for f := range fields {
		capable = capable || alarmCapable[f]
	}
	var out []vagt.Reading
	for _, r := range rs {
		switch r.Kind {
		case vagt.KindButtonPress, vagt.KindSmoke, vagt.KindWaterLeak:
			out = append(out, r)
		}
	}
	return id, out, capable
}

// UnmappedID is the device id of an unmapped Zigbee device: its friendly name when that is
// a valid id, else "zigbee:" and the name with other characters replaced, cut to fit.
func UnmappedID(name string) vagt.DeviceID {
	if id := vagt.DeviceID(name); id.Validate() == nil {
		return id
	}
	b := []byte("zigbee:")
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == ':'
		if !ok {
			c = '_'
		}
		b = append(b, c)
	}
	return vagt.DeviceID(b[:min(len(b), 64)])
}
