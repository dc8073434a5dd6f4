package gateway

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// TestStatusEncodesAtEpoch (issue 15, the status at 1970): a gateway whose clock reads
// 1970-01-01 (a box without RTC before NTP) and has heard from a device must still send a
// status the wire carries, or no status and no heartbeat reaches the platform, which then
// raises a false "gateway offline". The status carries the best time the gateway has, for
// itself and for the device's last-seen time. Before the fix the device's last seen was
// 1970 and the status did not encode ("last seen … not in [2020, 2100)").
func TestStatusEncodesAtEpoch(t *testing.T) {
	cfg := testConfig(t, "tcp://127.0.0.1:1")
	cfg.StatusAddr = ""
	cfg.Home.Devices = []DeviceFile{{Device: "0x0c", Technology: vagt.TechPersonalAlarm, Zigbee: "sos_button"}}
	clock := &testClock{t: epoch.Add(7 * time.Second)}
	g, err := New(cfg, Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer kill(t, g)
	g.process([]input{{seen: "0x0c", readings: []vagt.Reading{{Device: "0x0c", Kind: vagt.KindBattery, Time: clock.Now(), Value: 90}}}})

	s := g.status()
	s.Gateway, s.Online, s.Heartbeat = cfg.Gateway, true, time.Minute
	if s.Time.IsZero() {
		s.Time = clock.Now() // what the uplink would put there: the system clock, 1970 too
	}
	if _, err := vagt.EncodeStatus(&s); err != nil {
		t.Fatalf("the status at 1970 does not encode: %v", err)
	}
	if s.Time.Before(saneFloor) {
		t.Errorf("status time %s, want the best time the gateway has (not before %s)", s.Time, saneFloor)
	}
	if len(s.Inventory) != 1 || s.Inventory[0].LastSeen.Before(saneFloor) {
		t.Errorf("inventory %+v: the device was heard; want its last seen at the gateway's best time", s.Inventory)
	}
}
