package vagt

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestMunicipalities(t *testing.T) {
	ms := Municipalities()
	if len(ms) != 98 {
		t.Fatalf("%d municipalities, Denmark has 98", len(ms))
	}
	perRegion := map[Region]int{}
	for i, m := range ms {
		if i > 0 && ms[i-1].Code >= m.Code {
			t.Errorf("not sorted at %d: %d after %d", i, m.Code, ms[i-1].Code)
		}
		perRegion[m.Region]++
		if got, ok := LookupMunicipality(m.Code); !ok || got != m {
			t.Errorf("lookup %d: %v %v", m.Code, got, ok)
		}
	}
	want := map[Region]int{RegionHovedstaden: 29, RegionSjaelland: 17, RegionSyddanmark: 22, RegionMidtjylland: 19, RegionNordjylland: 11}
	for r, n := range want {
		if perRegion[r] != n {
			t.Errorf("%s: %d municipalities, want %d", r, perRegion[r], n)
		}
	}
	if MunicipalityCode(766).String() != "Hedensted" {
		t.Errorf("766 is %s", MunicipalityCode(766))
	}
	for _, bad := range []MunicipalityCode{0, 100, 411, 999} {
		if err := bad.Validate(); !errors.Is(err, ErrUnknownMunicipality) {
			t.Errorf("%d: %v", bad, err)
		}
	}
}

func TestIDs(t *testing.T) {
	tests := []struct {
		id     string
		gw, dv bool
	}{
		{"gw-0042", true, true},
		{"abc", true, true},
		{"ab", false, true},
		{"0x00158d0001a2b3c4", true, true},
		{"bu-17:pir-2", false, true},
		{"GW-1", false, true},
		{"-gw1", false, true},
		{"gw/1", false, false},
		{"gw+1", false, false},
		{"gw#1", false, false},
		{"", false, false},
		{"gw 1", false, false},
		{"æøå", false, false},
		{string(make([]byte, 65)), false, false},
	}
	for _, tt := range tests {
		if err := GatewayID(tt.id).Validate(); (err == nil) != tt.gw || (err != nil && !errors.Is(err, ErrInvalidID)) {
			t.Errorf("gateway %q: %v, want valid=%v", tt.id, err, tt.gw)
		}
		if err := DeviceID(tt.id).Validate(); (err == nil) != tt.dv {
			t.Errorf("device %q: %v, want valid=%v", tt.id, err, tt.dv)
		}
	}
}

func TestKindsWireValues(t *testing.T) {
	tests := []struct {
		kind Kind
		v    float64
		wire int64
		err  error
	}{
		{KindTemperature, 21.37, 2137, nil},
		{KindTemperature, -12.5, -1250, nil},
		{KindTemperature, 21.374, 2137, nil}, // rounded to the kind's resolution
		{KindTemperature, 100.5, 0, ErrOutOfRange},
		{KindHumidity, 45.5, 455, nil},
		{KindDoorOpen, 1, 1, nil},
		{KindDoorOpen, 2, 0, ErrOutOfRange},
		{KindMotion, 0.5, 0, ErrOutOfRange},
		{KindBattery, 87, 87, nil},
		{KindButtonPress, PressEmergency, 4, nil},
		{KindButtonPress, 0, 0, ErrOutOfRange},
		{Kind(0), 1, 0, ErrUnknownKind},
		{Kind(99), 1, 0, ErrUnknownKind},
	}
	for _, tt := range tests {
		w, err := tt.kind.ToWire(tt.v)
		if !errors.Is(err, tt.err) || (err == nil && w != tt.wire) {
			t.Errorf("%s %v: %d %v, want %d %v", tt.kind, tt.v, w, err, tt.wire, tt.err)
			continue
		}
		if err == nil {
			back, err := tt.kind.FromWire(w)
			if err != nil || back != float64(w)/float64(must(tt.kind.Info()).Scale) {
				t.Errorf("%s: back %v %v", tt.kind, back, err)
			}
		}
	}
	for _, k := range Kinds() {
		if got, err := ParseKind(k.Name); err != nil || got != k.Kind {
			t.Errorf("parse %s: %v %v", k.Name, got, err)
		}
	}
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("must")
	}
	return v
}

func TestAlarmTypePriorities(t *testing.T) {
	want := map[Priority][]AlarmType{
		PriorityCritical: {AlarmPanic, AlarmFall, AlarmSmoke},
		PriorityHigh: {AlarmDoorAtNight, AlarmBedExit, AlarmInactivity, AlarmWaterLeak, AlarmLowTemperature, AlarmMissedMedication,
			AlarmNightVisit, AlarmNightCheckMissed, AlarmLeftSafeZone},
		PriorityTechnical: {AlarmLowBattery, AlarmSilentDevice, AlarmGatewayOffline, AlarmTamper, AlarmUnknownDevice},
	}
	n := 0
	for p, types := range want {
		for _, at := range types {
			n++
			if at.Priority() != p {
				t.Errorf("%s has priority %s, want %s", at, at.Priority(), p)
			}
		}
	}
	if len(AlarmTypes()) != n {
		t.Errorf("%d alarm types, %d with a priority in this test", len(AlarmTypes()), n)
	}
}

// TestJSONNames: the API shows codes by their stable names and refuses unknown ones.
func TestJSONNames(t *testing.T) {
	type doc struct {
		Kind       Kind       `json:"kind"`
		Type       AlarmType  `json:"type"`
		Priority   Priority   `json:"priority"`
		Technology Technology `json:"technology"`
	}
	in := doc{KindDoorOpen, AlarmDoorAtNight, PriorityHigh, TechMedicineDispenser}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"kind":"door_open","type":"door_at_night","priority":"high","technology":"medicine_dispenser"}` {
		t.Errorf("json: %s", b)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip: %+v %v", out, err)
	}
	for _, bad := range []string{`{"kind":"warp"}`, `{"type":"x"}`, `{"priority":"urgent"}`, `{"technology":"robot"}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestTopics(t *testing.T) {
	if got := Topic("gw-0042", LaneAlarm); got != "vagt/v1/gw/gw-0042/alarm" {
		t.Errorf("topic %s", got)
	}
	if got := SharedSubscription("vagt-ingest", LaneTelemetry); got != "$share/vagt-ingest/vagt/v1/gw/+/telemetry" {
		t.Errorf("shared %s", got)
	}
	if got := LaneSubscription(NoGroup, LaneAlarm); got != "vagt/v1/gw/+/alarm" {
		t.Errorf("direct %s", got)
	}
	if got := LaneSubscription("vagt-alerts", LaneAlarm); got != "$share/vagt-alerts/vagt/v1/gw/+/alarm" {
		t.Errorf("shared %s", got)
	}
	gw, lane, err := ParseTopic("vagt/v1/gw/gw-0042/status")
	if err != nil || gw != "gw-0042" || lane != LaneStatus {
		t.Errorf("parse: %s %s %v", gw, lane, err)
	}
	for _, bad := range []string{"vagt/v1/gw/gw-0042", "vagt/v1/gw/GW/alarm", "vagt/v2/gw/gw-0042/alarm", "vagt/v1/gw/gw-0042/other", "vagt/v1/gw/gw-0042/alarm/x"} {
		if _, _, err := ParseTopic(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestReason(t *testing.T) {
	if Reason(nil) != "" || Reason(errors.New("x")) != "other" {
		t.Error("nil or foreign error")
	}
	wrapped := fmt.Errorf("decode batch: reading 3: %w", fmt.Errorf("%w: kind 200", ErrUnknownKind))
	if Reason(wrapped) != "unknown_kind" {
		t.Errorf("wrapped: %s", Reason(wrapped))
	}
}
