package zigbee

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// TestMapUnmapped: the alarm-capable fields of an unmapped device's payload are kept (a
// false too: it clears), other fields are not; the id is the friendly name when valid.
func TestMapUnmapped(t *testing.T) {
	at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, payload string
		id            vagt.DeviceID
		capable       bool
		kinds         []vagt.Kind
	}{
		{"0x00158d0001a2b3c4", `{"action":"emergency","battery":90}`, "0x00158d0001a2b3c4", true, []vagt.Kind{vagt.KindButtonPress}},
		{"Hall pendant", `{"sos":true}`, "zigbee:Hall_pendant", true, []vagt.Kind{vagt.KindButtonPress}},
		{"leak", `{"water_leak":false,"temperature":20}`, "leak", true, []vagt.Kind{vagt.KindWaterLeak}},
		{"smoke", `{"smoke":true}`, "smoke", true, []vagt.Kind{vagt.KindSmoke}},
		{"plug", `{"power":12,"occupancy":true}`, "plug", false, nil},
		{"junk", `not json`, "junk", false, nil},
	} {
		id, rs, capable := MapUnmapped(tc.name, []byte(tc.payload), at)
		if id != tc.id || capable != tc.capable || len(rs) != len(tc.kinds) {
			t.Errorf("%s %s: %s %v %+v", tc.name, tc.payload, id, capable, rs)
			continue
		}
		for i, r := range rs {
			if r.Kind != tc.kinds[i] || r.Device != tc.id || !r.Time.Equal(at) {
				t.Errorf("%s: reading %+v", tc.name, r)
			}
		}
	}
	if id := UnmappedID(string(make([]byte, 200))); len(id) != 64 || id.Validate() != nil {
		t.Errorf("a long name: %q", id)
	}
}
