package zigbee

import (
	"errors"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/spool"
)

// FuzzMap feeds the mapper whatever a Zigbee2MQTT bridge (or anybody on the home's bus)
// might publish: it must not panic, must refuse with its named errors, and every reading
// it returns must be one the spool accepts.
func FuzzMap(f *testing.F) {
	for _, s := range []string{
		`{"temperature":21.5,"humidity":48,"battery":90,"linkquality":120}`,
		`{"occupancy":true,"illuminance":12}`, `{"contact":false}`, `{"water_leak":true,"battery_low":false}`,
		`{"action":"single"}`, `{"action":"panic"}`, `{"smoke":true,"tamper":false}`,
		`{"temperature":"21.5"}`, `{"temperature":1e309}`, `{"temperature":-1e308}`, `{"contact":null}`,
		`[]`, `null`, `{}`, `{"a":1}{"b":2}`, `{"temperature":21.5,"temperature":22}`,
	} {
		for tech := range uint8(11) {
			f.Add(tech, []byte(s))
		}
	}
	at := time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, tech uint8, payload []byte) {
		dev := vagt.DeviceConfig{Device: "0x00158d0001a2b3c5", Technology: vagt.Technology(tech)}
		readings, err := Map(dev, payload, at)
		if err != nil && !errors.Is(err, ErrNotJSON) && !errors.Is(err, ErrBadField) {
			t.Fatalf("unnamed error %v", err)
		}
		for i := range readings {
			if err := spool.ValidReading(&readings[i]); err != nil {
				t.Fatalf("reading %+v the spool refuses: %v", readings[i], err)
			}
		}
		_, _ = MapAvailability(payload) // the availability topic gets the same bytes: no panic
	})
}
