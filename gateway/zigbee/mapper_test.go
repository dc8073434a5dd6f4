package zigbee

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// A case file in testdata/zigbee2mqtt: a device and a state payload with the readings it
// must give, or an availability payload and the state it means.
type caseFile struct {
	About  string `json:"about"`
	Device struct {
		Technology vagt.Technology      `json:"technology"`
		Fields     map[string]vagt.Kind `json:"fields"`
	} `json:"device"`
	Payload      json.RawMessage `json:"payload"`
	PayloadText  *string         `json:"payload_text"`
	Availability *string         `json:"availability"`
	Online       *bool           `json:"online"`
	Want         []struct {
		Kind  vagt.Kind `json:"kind"`
		Value float64   `json:"value"`
	} `json:"want"`
	Error string `json:"error"`
}

func reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNotJSON):
		return "not_json"
	case errors.Is(err, ErrBadField):
		return "bad_field"
	case errors.Is(err, ErrBadPayload):
		return "bad_payload"
	}
	return "other"
}

func TestMapTestdata(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/zigbee2mqtt/*.json")
	if len(files) < 20 {
		t.Fatalf("%d case files", len(files))
	}
	at := time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var c caseFile
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			if c.Availability != nil {
				online, err := MapAvailability([]byte(*c.Availability))
				if reason(err) != c.Error || (c.Online != nil && online != *c.Online) {
					t.Fatalf("%s: online %v, %v; want %v, error %q", c.About, online, err, c.Online, c.Error)
				}
				return
			}
			dev := vagt.DeviceConfig{Device: "0x00158d0001a2b3c5", Technology: c.Device.Technology, Fields: c.Device.Fields}
			payload := []byte(c.Payload)
			if c.PayloadText != nil {
				payload = []byte(*c.PayloadText)
			}
			got, err := Map(dev, payload, at)
			if reason(err) != c.Error {
				t.Fatalf("%s: error %v, want %q", c.About, err, c.Error)
			}
			if len(got) != len(c.Want) {
				t.Fatalf("%s: %d readings %+v, want %d", c.About, len(got), got, len(c.Want))
			}
			for i, w := range c.Want {
				r := got[i]
				if r.Kind != w.Kind || r.Value != w.Value || r.Device != dev.Device || !r.Time.Equal(at) {
					t.Errorf("%s: reading %d is %s=%v, want %s=%v", c.About, i, r.Kind, r.Value, w.Kind, w.Value)
				}
			}
		})
	}
}
