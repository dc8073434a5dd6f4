package vagt

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// A wireVector is one file in testdata/wire. Valid vectors hold the message they decode to
// (and that encodes to them byte for byte); invalid ones the Reason their decoder gives.
type wireVector struct {
	name   string // file name without .hex; its prefix (batch-, alarm-, status-) picks the decoder
	about  string
	value  any    // *Batch, *Alarm or *Status for a valid vector
	reason string // for an invalid vector
	raw    func() []byte
}

var t0 = time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC) // 1795403520000 ms: a fall at 03:12

func smallBatch() *Batch {
	return &Batch{Gateway: "gw-0042", Seq: 7, Municipality: 766, Readings: []Reading{
		{Device: "0x00158d0001a2b3c4", Kind: KindTemperature, Time: t0, Value: 21.37},
		{Device: "0x00158d0001a2b3c4", Kind: KindHumidity, Time: t0, Value: 45.5},
		{Device: "bu-17:pir-2", Kind: KindMotion, Time: t0.Add(1500 * time.Millisecond), Value: 1},
		{Device: "bu-17:pir-2", Kind: KindBattery, Time: t0.Add(1500 * time.Millisecond), Value: 87},
	}}
}

// typicalBatch is what a home with 25 devices sends when a batch is cut at n readings:
// a mix of climate, presence, door and bed states and radio figures within a minute.
func typicalBatch(n int) *Batch {
	b := &Batch{Gateway: "gw-3f9a2c", Seq: 123456, Municipality: 751}
	mix := []struct {
		kind Kind
		v    func(i int) float64
	}{
		{KindTemperature, func(i int) float64 { return 20 + float64(i%300)/100 }},
		{KindHumidity, func(i int) float64 { return 40 + float64(i%200)/10 }},
		{KindMotion, func(i int) float64 { return float64(i % 2) }},
		{KindDoorOpen, func(i int) float64 { return float64(i / 7 % 2) }},
		{KindBedOccupied, func(i int) float64 { return 1 }},
		{KindIlluminance, func(i int) float64 { return float64(i * 37 % 900) }},
		{KindLinkQuality, func(i int) float64 { return float64(60 + i%150) }},
		{KindBattery, func(i int) float64 { return float64(100 - i%40) }},
		{KindPower, func(i int) float64 { return float64(i%2000) / 10 }},
	}
	for i := range n {
		m := mix[i%len(mix)]
		b.Readings = append(b.Readings, Reading{
			Device: DeviceID(fmt.Sprintf("0x00158d00%08x", i%25)),
			Kind:   m.kind,
			Time:   t0.Add(time.Duration(i*60000/n) * time.Millisecond),
			Value:  m.v(i),
		})
	}
	return b
}

func panicAlarm() *Alarm {
	return &Alarm{Gateway: "gw-0042", Seq: 1001, Municipality: 766, Time: t0, Device: "bu-17:btn", Type: AlarmPanic, Priority: PriorityCritical}
}

func clearAlarm() *Alarm {
	return &Alarm{Gateway: "gw-0042", Seq: 1003, Municipality: 766, Time: t0.Add(4 * time.Minute), Device: "0x00158d0001a2b3c5",
		Type: AlarmDoorAtNight, Priority: PriorityHigh, Clears: 1002, Details: map[string]string{"door": "front", "open_s": "240"}}
}

func onlineStatus() *Status {
	return &Status{Gateway: "gw-0042", Online: true, Time: t0, Municipality: 766, Software: "vagt-gateway 0.1.0",
		Inventory: []DeviceStatus{
			{Device: "0x00158d0001a2b3c4", Technology: TechEnvironmentSensor, LastSeen: t0.Add(-10 * time.Second), Battery: 87},
			{Device: "bu-17:btn", Technology: TechPersonalAlarm, Battery: -1},
		},
		SpoolDepth: 3, DroppedReadings: 0, Heartbeat: 60 * time.Second, ConfigVersion: 4}
}

// kv is one map pair for rawMap, which writes maps the encoder refuses to: duplicate keys,
// any order, any types.
type kv struct {
	k, v any
}

func rawMap(pairs ...kv) []byte {
	var b bytes.Buffer
	if len(pairs) > 23 {
		panic("rawMap: too many pairs for a one-byte header")
	}
	b.WriteByte(0xa0 | byte(len(pairs)))
	for _, p := range pairs {
		b.Write(mustRaw(p.k))
		b.Write(mustRaw(p.v))
	}
	return b.Bytes()
}

func mustRaw(v any) []byte {
	if r, ok := v.(cbor.RawMessage); ok {
		return r
	}
	out, err := encMode.Marshal(v)
	if err != nil {
		panic(err)
	}
	return out
}

// batchPairs are the pairs of a small valid batch; bad vectors change one of them.
func batchPairs() []kv {
	return []kv{
		{0, 1}, {1, "gw-0042"}, {2, 7}, {3, 766}, {4, t0.UnixMilli()},
		{5, []string{"dev-a", "dev-b"}},
		{6, [][]any{{0, 1, 0, 2137}, {1, 4, 1500, 1}}},
	}
}

func batchWith(key int, v any) []byte {
	p := batchPairs()
	for i := range p {
		if p[i].k == key {
			p[i].v = v
			return rawMap(p...)
		}
	}
	return rawMap(append(p, kv{key, v})...)
}

func batchWithout(key int) []byte {
	var p []kv
	for _, x := range batchPairs() {
		if x.k != key {
			p = append(p, x)
		}
	}
	return rawMap(p...)
}

func alarmPairs() []kv {
	return []kv{{0, 1}, {1, "gw-0042"}, {2, 1001}, {3, 766}, {4, t0.UnixMilli()}, {5, "bu-17:btn"}, {6, 1}, {7, 1}}
}

func alarmWith(key int, v any) []byte {
	p := alarmPairs()
	for i := range p {
		if p[i].k == key {
			p[i].v = v
			return rawMap(p...)
		}
	}
	return rawMap(append(p, kv{key, v})...)
}

func statusPairs() []kv {
	return []kv{{0, 1}, {1, "gw-0042"}, {2, true}, {3, t0.UnixMilli()}}
}

func statusWith(key int, v any) []byte {
	p := statusPairs()
	for i := range p {
		if p[i].k == key {
			p[i].v = v
			return rawMap(p...)
		}
	}
	return rawMap(append(p, kv{key, v})...)
}

func manyReadings(n int) [][]any {
	out := make([][]any, n)
	for i := range out {
		out[i] = []any{0, 4, 0, 1}
	}
	return out
}

func manyDetails(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("k%02d", i)] = "v"
	}
	return m
}

// homeConfig is a home with a base unit and its pendant, a Zigbee door and bed sensor,
// and every rule on.
func homeConfig() *HomeConfig {
	return &HomeConfig{Gateway: "gw-0042", Version: 4, Municipality: 766,
		Devices: []DeviceConfig{
			{Device: "bu-17", Technology: TechPersonalAlarm, ReportEvery: time.Minute},
			{Device: "bu-17:btn", Technology: TechPersonalAlarm, PanicOnPress: true},
			{Device: "0x00158d0001a2b3c5", Technology: TechDoorSensor, Zigbee: "front_door", ReportEvery: time.Hour},
			{Device: "0x00158d0001a2b3c6", Technology: TechBedSensor, Zigbee: "bed", ReportEvery: time.Hour,
				Fields: map[string]Kind{"occupancy": KindBedOccupied}},
		},
		Rules: RuleSettings{
			Night: Window{From: 22 * 60, To: 7 * 60}, Day: Window{From: 7 * 60, To: 22 * 60},
			Inactivity: 4 * time.Hour, DoorAtNight: true, BedExit: 20 * time.Minute,
			LowTemperature: 16, LowTemperatureFor: 30 * time.Minute,
			Medication: []DoseWindow{{Dose: 1, Window: Window{From: 8 * 60, To: 10 * 60}}},
			LowBattery: 20, SilentFactor: 3,
		}}
}

func configPairs() []kv { return []kv{{0, 1}, {1, "gw-0042"}, {2, 4}, {3, 766}} }

// configWith2 is configPairs in wire version 2.
func configWith2() []kv {
	p := configPairs()
	p[0].v = 2
	return p
}

func configWith(key int, v any) []byte {
	p := configPairs()
	for i := range p {
		if p[i].k == key {
			p[i].v = v
			return rawMap(p...)
		}
	}
	return rawMap(append(p, kv{key, v})...)
}

var wireVectors = []wireVector{
	{name: "batch-ok-small", about: "two devices, four readings: temperature 21.37 °C, humidity 45.5 %RH, motion, battery 87 %", value: smallBatch()},
	{name: "batch-ok-typical-500", about: "a typical batch: 500 readings of 25 devices within a minute", value: typicalBatch(500)},
	{name: "alarm-ok-panic", about: "a panic press on a base unit's button", value: panicAlarm()},
	{name: "alarm-ok-panic-clock-unsynced", about: "a panic raised under a clock the gateway cannot trust (docs/wire.md): its best time, marked; seq 1 of spool incarnation 1234567890",
		value: &Alarm{Gateway: "gw-0042", Seq: 1234567890<<32 | 1, Municipality: 766, Time: t0, Device: "bu-17:btn", Type: AlarmPanic, Priority: PriorityCritical,
			Details: map[string]string{"clock": "unsynced"}}},
	{name: "alarm-ok-clear-door", about: "the front door closed again: clears the door-at-night alarm raised as event 1002", value: clearAlarm()},
	{name: "status-ok-online", about: "a gateway's retained status after connecting", value: onlineStatus()},
	{name: "status-ok-will", about: "the will the broker publishes when the gateway vanishes", value: &Status{Gateway: "gw-0042", Online: false, Time: t0}},

	{name: "batch-bad-empty", about: "no bytes at all", reason: "malformed", raw: func() []byte { return nil }},
	{name: "batch-bad-truncated", about: "a valid batch cut short", reason: "malformed", raw: func() []byte { b := rawMap(batchPairs()...); return b[:len(b)-3] }},
	{name: "batch-bad-trailing", about: "a valid batch followed by one more byte", reason: "malformed", raw: func() []byte { return append(rawMap(batchPairs()...), 0x00) }},
	{name: "batch-bad-not-a-map", about: "an array where the batch map belongs", reason: "malformed", raw: func() []byte { return mustRaw([]int{1, 2, 3}) }},
	{name: "batch-bad-version-2", about: "version 2, which this decoder does not speak", reason: "unknown_version", raw: func() []byte { return batchWith(0, 2) }},
	{name: "batch-bad-no-version", about: "the version key is missing", reason: "missing_field", raw: func() []byte { return batchWithout(0) }},
	{name: "batch-bad-duplicate-key", about: "key 2 (seq) twice", reason: "duplicate_key", raw: func() []byte { return rawMap(append(batchPairs(), kv{2, 8})...) }},
	{name: "batch-bad-unknown-key", about: "key 7, which version 1 does not define", reason: "unknown_field", raw: func() []byte { return batchWith(7, "x") }},
	{name: "batch-bad-seq-zero", about: "batch seq 0", reason: "missing_field", raw: func() []byte { return batchWith(2, 0) }},
	{name: "batch-bad-gateway-id", about: "a gateway id with MQTT wildcards", reason: "invalid_id", raw: func() []byte { return batchWith(1, "gw/+/#") }},
	{name: "batch-bad-utf8", about: "a gateway id that is not UTF-8", reason: "malformed", raw: func() []byte { return batchWith(1, cbor.RawMessage{0x63, 0x67, 0xff, 0x77}) }},
	{name: "batch-bad-municipality", about: "municipality code 999", reason: "unknown_municipality", raw: func() []byte { return batchWith(3, 999) }},
	{name: "batch-bad-base-time", about: "base time 0 (1970: a clock never set)", reason: "out_of_range", raw: func() []byte { return batchWith(4, 0) }},
	{name: "batch-bad-no-readings", about: "an empty readings array", reason: "missing_field", raw: func() []byte { return batchWith(6, []any{}) }},
	{name: "batch-bad-duplicate-device", about: "the device table lists one id twice", reason: "duplicate_key", raw: func() []byte { return batchWith(5, []string{"dev-a", "dev-a"}) }},
	{name: "batch-bad-device-index", about: "a reading points at device 5 of 2", reason: "out_of_range", raw: func() []byte { return batchWith(6, [][]any{{5, 1, 0, 2137}}) }},
	{name: "batch-bad-kind", about: "kind 200", reason: "unknown_kind", raw: func() []byte { return batchWith(6, [][]any{{0, 200, 0, 1}}) }},
	{name: "batch-bad-value-range", about: "a temperature of 200.00 °C", reason: "out_of_range", raw: func() []byte { return batchWith(6, [][]any{{0, 1, 0, 20000}}) }},
	{name: "batch-bad-float-value", about: "a float where the scaled integer belongs", reason: "malformed", raw: func() []byte { return batchWith(6, [][]any{{0, 1, 0, 21.5}}) }},
	{name: "batch-bad-offset", about: "an offset of 25 hours", reason: "out_of_range", raw: func() []byte { return batchWith(6, [][]any{{0, 4, 25 * 3600 * 1000, 1}}) }},
	{name: "batch-bad-short-reading", about: "a reading with three elements", reason: "malformed", raw: func() []byte { return batchWith(6, [][]any{{0, 4, 0}}) }},
	{name: "batch-bad-nesting", about: "a value nested five arrays deep", reason: "too_large", raw: func() []byte { return batchWith(6, []any{[]any{0, 4, 0, []any{[]any{[]any{1}}}}}) }},
	{name: "batch-bad-indefinite", about: "an indefinite-length readings array", reason: "malformed", raw: func() []byte {
		return batchWith(6, cbor.RawMessage{0x9f, 0x84, 0x00, 0x04, 0x00, 0x01, 0xff})
	}},
	{name: "batch-bad-tag", about: "a tagged base time (tag 1)", reason: "malformed", raw: func() []byte { return batchWith(4, cbor.RawMessage{0xc1, 0x1a, 0x6a, 0x0a, 0x3e, 0x00}) }},
	{name: "batch-bad-too-many-readings", about: "5001 readings, one more than a batch may hold", reason: "too_large", raw: func() []byte { return batchWith(6, manyReadings(MaxBatchReadings+1)) }},
	{name: "alarm-bad-version-0", about: "version 0", reason: "unknown_version", raw: func() []byte { return alarmWith(0, 0) }},
	{name: "alarm-bad-type", about: "alarm type 99", reason: "unknown_alarm_type", raw: func() []byte { return alarmWith(6, 99) }},
	{name: "alarm-bad-priority", about: "priority 7", reason: "unknown_priority", raw: func() []byte { return alarmWith(7, 7) }},
	{name: "alarm-bad-device-id", about: "an empty device id", reason: "invalid_id", raw: func() []byte { return alarmWith(5, "") }},
	{name: "alarm-bad-time", about: "a time in the year 2200", reason: "out_of_range", raw: func() []byte { return alarmWith(4, int64(7258118400000)) }},
	{name: "alarm-bad-clears-later", about: "clears an event that comes after it", reason: "out_of_range", raw: func() []byte { return alarmWith(9, 5000) }},
	{name: "alarm-bad-details-many", about: "17 details, one more than a map may hold", reason: "too_large", raw: func() []byte { return alarmWith(8, manyDetails(17)) }},
	{name: "alarm-bad-details-key", about: "details keyed by an integer", reason: "malformed", raw: func() []byte { return alarmWith(8, map[int]string{1: "x"}) }},
	{name: "status-bad-no-online", about: "the online key is missing", reason: "missing_field", raw: func() []byte { return rawMap(kv{0, 1}, kv{1, "gw-0042"}, kv{3, t0.UnixMilli()}) }},
	{name: "status-bad-battery", about: "a device battery of 101 %", reason: "out_of_range", raw: func() []byte { return statusWith(5, [][]any{{"dev-a", 8, 0, 101}}) }},
	{name: "status-bad-technology", about: "technology 42", reason: "unknown_technology", raw: func() []byte { return statusWith(5, [][]any{{"dev-a", 42, 0, 50}}) }},
	{name: "status-bad-duplicate-device", about: "one device twice in the inventory", reason: "duplicate_key", raw: func() []byte {
		return statusWith(5, [][]any{{"dev-a", 8, 0, 50}, {"dev-a", 8, 0, 50}})
	}},
	{name: "status-bad-heartbeat", about: "a heartbeat of two days", reason: "out_of_range", raw: func() []byte { return statusWith(8, 172800) }},

	{name: "config-ok-home", about: "a home: base unit, pendant, Zigbee door and bed sensors, every rule on", value: homeConfig()},
	{name: "config-ok-time-zone", about: "a home in Greenland's time zone", value: &HomeConfig{Gateway: "gw-0042", Version: 2, Municipality: 766, TimeZone: "America/Nuuk"}},
	{name: "config-ok-minimal", about: "no devices, every rule off", value: &HomeConfig{Gateway: "gw-0042", Version: 1, Municipality: 766}},
	{name: "config-ok-absence", about: "version 2: a home whose citizen is away (in hospital) from 1 to 15 December 2026", value: &HomeConfig{
		Gateway: "gw-0042", Version: 5, Municipality: 766, Rules: RuleSettings{Day: Window{From: 7 * 60, To: 22 * 60}, Inactivity: 4 * time.Hour},
		Absence: Absence{From: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Until: time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)}}},
	{name: "config-bad-version-3", about: "wire version 3", reason: "unknown_version", raw: func() []byte { return configWith(0, 3) }},
	{name: "config-bad-version-2-no-absence", about: "version 2 without the absence that makes it version 2", reason: "missing_field", raw: func() []byte { return configWith(0, 2) }},
	{name: "config-bad-absence-in-version-1", about: "an absence (key 16) in a version 1 message", reason: "unknown_field", raw: func() []byte {
		return configWith(16, []uint64{1796115600000, 1797336000000})
	}},
	{name: "config-bad-absence-reversed", about: "an absence that ends before it begins", reason: "out_of_range", raw: func() []byte {
		return rawMap(append(configWith2(), kv{16, []uint64{1797336000000, 1796115600000}})...)
	}},
	{name: "config-bad-absence-1970", about: "an absence from 1970", reason: "out_of_range", raw: func() []byte {
		return rawMap(append(configWith2(), kv{16, []uint64{0, 1797336000000}})...)
	}},
	{name: "config-bad-config-version-0", about: "configuration version 0", reason: "missing_field", raw: func() []byte { return configWith(2, 0) }},
	{name: "config-bad-unknown-key", about: "key 17, which no version defines", reason: "unknown_field", raw: func() []byte { return configWith(17, 1) }},
	{name: "config-bad-duplicate-key", about: "key 2 twice", reason: "duplicate_key", raw: func() []byte { return rawMap(append(configPairs(), kv{2, 5})...) }},
	{name: "config-bad-device-unknown-key", about: "a device with key 9", reason: "unknown_field", raw: func() []byte {
		return configWith(5, []map[int]any{{0: "dev-a", 1: 8, 9: 1}})
	}},
	{name: "config-bad-duplicate-device", about: "one device listed twice", reason: "duplicate_key", raw: func() []byte {
		return configWith(5, []map[int]any{{0: "dev-a", 1: 8}, {0: "dev-a", 1: 3}})
	}},
	{name: "config-bad-field-kind", about: "a Zigbee field mapped to kind 99", reason: "unknown_kind", raw: func() []byte {
		return configWith(5, []map[int]any{{0: "dev-a", 1: 8, 4: map[string]int{"occupancy": 99}}})
	}},
	{name: "config-bad-technology", about: "technology 42", reason: "unknown_technology", raw: func() []byte { return configWith(5, []map[int]any{{0: "dev-a", 1: 42}}) }},
	{name: "config-bad-window", about: "a night window ending at minute 1440", reason: "out_of_range", raw: func() []byte { return configWith(6, []int{1320, 1440}) }},
	{name: "config-bad-dose-twice", about: "dose 1 in two windows", reason: "duplicate_key", raw: func() []byte { return configWith(13, [][]int{{1, 480, 600}, {1, 720, 780}}) }},
	{name: "config-bad-low-temperature", about: "a low-temperature threshold of 150 °C", reason: "out_of_range", raw: func() []byte { return configWith(11, 15000) }},
	{name: "config-bad-municipality", about: "municipality code 999", reason: "unknown_municipality", raw: func() []byte { return configWith(3, 999) }},
}

// encodeValue encodes a valid vector's message.
func encodeValue(v any) ([]byte, error) {
	switch m := v.(type) {
	case *Batch:
		return EncodeBatch(m)
	case *Alarm:
		return EncodeAlarm(m)
	case *Status:
		return EncodeStatus(m)
	case *HomeConfig:
		return EncodeConfig(m)
	case *Downlink:
		return EncodeDownlink(m)
	}
	return nil, fmt.Errorf("no encoder for %T", v)
}

// decodeByName decodes data with the decoder its vector name's prefix picks.
func decodeByName(name string, data []byte) (any, error) {
	switch {
	case strings.HasPrefix(name, "batch-"):
		b, err := DecodeBatch(data)
		return &b, err
	case strings.HasPrefix(name, "alarm-"):
		a, err := DecodeAlarm(data)
		return &a, err
	case strings.HasPrefix(name, "status-"):
		s, err := DecodeStatus(data)
		return &s, err
	case strings.HasPrefix(name, "config-"):
		c, err := DecodeConfig(data)
		return &c, err
	case strings.HasPrefix(name, "downlink-"):
		d, err := DecodeDownlink(data)
		return &d, err
	}
	return nil, fmt.Errorf("no decoder for %s", name)
}
