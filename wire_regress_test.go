package vagt

// Regression tests from the first review of the root package: each pins a bug that was
// found and fixed (what an encoder accepts its decoder must accept, priorities, seq
// ranges, rounding, strict forms), or guards a property nothing else tests.

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// An alarm whose details are not UTF-8 encodes (Validate passes, fxamacker writes the bytes
// as a text string) and is then refused by every consumer as malformed: a lost alarm. The
// encoder must refuse what the decoder refuses.
func TestAlarmDetailsInvalidUTF8(t *testing.T) {
	for name, details := range map[string]map[string]string{
		"value": {"door": "fr\xffnt"},
		"key":   {"d\xf8r": "front"}, // Latin-1 ø
	} {
		a := panicAlarm()
		a.Details = details
		data, err := EncodeAlarm(a)
		if err != nil {
			continue // the fix: refused at the gateway, where it can be repaired
		}
		if _, derr := DecodeAlarm(data); derr != nil {
			t.Errorf("%s: EncodeAlarm accepted it, DecodeAlarm refuses it (%v): the alarm is lost", name, derr)
		}
	}
}

// gateway/process.go cuts ConfigError at MaxConfigErrorLen bytes; error texts quote
// names with %q, which keeps "ø" as two bytes, so the cut can split a rune. The status then
// encodes but is refused by the api: the retained status of that gateway is never read.
func TestStatusInvalidUTF8(t *testing.T) {
	cut := (strings.Repeat("x", MaxConfigErrorLen-1) + "ø")[:MaxConfigErrorLen]
	for name, mutate := range map[string]func(*Status){
		"config error cut mid-rune": func(s *Status) { s.ConfigError = cut },
		"software":                  func(s *Status) { s.Software = "vagt-gateway \xff" },
	} {
		s := onlineStatus()
		mutate(s)
		data, err := EncodeStatus(s)
		if err != nil {
			continue
		}
		if _, derr := DecodeStatus(data); derr != nil {
			t.Errorf("%s: EncodeStatus accepted it, DecodeStatus refuses it: %v", name, derr)
		}
	}
}

// A configuration the api validates and publishes (retained) but no gateway can decode:
// the home keeps running its old rules, or none.
func TestConfigInvalidUTF8(t *testing.T) {
	for name, mutate := range map[string]func(*HomeConfig){
		"zigbee name": func(c *HomeConfig) { c.Devices[2].Zigbee = "k\xf8kken" },
		"field name":  func(c *HomeConfig) { c.Devices[3].Fields = map[string]Kind{"occ\xffupancy": KindBedOccupied} },
		"time zone":   func(c *HomeConfig) { c.TimeZone = "Europe/K\xf8benhavn" },
	} {
		c := homeConfig()
		mutate(c)
		data, err := EncodeConfig(c)
		if err != nil {
			continue
		}
		if _, derr := DecodeConfig(data); derr != nil {
			t.Errorf("%s: EncodeConfig accepted it, DecodeConfig refuses it: %v", name, derr)
		}
	}
}

// HomeConfig.Validate never loads the time zone. gateway/rules.SetConfig does, and refuses
// the configuration: a typo in the api leaves a home without its edge rules. "Local" would
// load, and mean the gateway box's own zone (UTC on a Raspberry Pi): windows 1-2 h off.
func TestConfigTimeZoneValidated(t *testing.T) {
	for _, tz := range []string{"Europe/Copenhagn", "Mars/Olympus", "Local", "../../etc/passwd"} {
		c := homeConfig()
		c.TimeZone = tz
		if err := c.Validate(); err == nil {
			t.Errorf("time zone %q validates; a gateway cannot run it", tz)
		}
	}
	c := homeConfig()
	c.TimeZone = "Europe/Copenhagen"
	if err := c.Validate(); err != nil {
		t.Errorf("Europe/Copenhagen: %v", err)
	}
}

// A rule switched on without the window it needs validates, encodes, and never fires (or,
// for a dose window From == To, fires a false missed-medication alarm every day: the
// gateway computes a zero-length window that no intake falls into).
func TestConfigRuleWithoutWindow(t *testing.T) {
	for name, mutate := range map[string]func(*RuleSettings){
		"door at night, no night":   func(r *RuleSettings) { r.Night = Window{} },
		"bed exit, no night":        func(r *RuleSettings) { r.Night = Window{From: 600, To: 600} },
		"inactivity, no day":        func(r *RuleSettings) { r.Day = Window{} },
		"dose with an empty window": func(r *RuleSettings) { r.Medication = []DoseWindow{{Dose: 1, Window: Window{480, 480}}} },
	} {
		c := homeConfig()
		mutate(&c.Rules)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: validates, and the rule can never fire correctly", name)
		}
	}
}

// Validate accepts a panic or a fall with priority "technical". A gateway bug (or a
// hostile gateway) can thereby sort a life-threatening alarm below low-battery noise on the
// staff screen. A gateway may escalate a type's default priority, never lower it.
func TestAlarmPriorityNotDowngraded(t *testing.T) {
	for _, typ := range []AlarmType{AlarmPanic, AlarmFall, AlarmSmoke} {
		a := panicAlarm()
		a.Type, a.Priority = typ, PriorityTechnical
		data, err := EncodeAlarm(a)
		if err == nil {
			_, err = DecodeAlarm(data)
		}
		if err == nil {
			t.Errorf("%s with priority %s is accepted", typ, PriorityTechnical)
		}
	}
}

// Seqs travel as CBOR uint up to 2^64-1, but api/sqlstore stores them as int64(a.Seq):
// above 2^63-1 they turn negative, and the "clears < seq" and "strictly increasing"
// orderings no longer hold in SQL. Cap every seq and version at math.MaxInt64.
func TestSeqFitsInt64(t *testing.T) {
	a := panicAlarm()
	a.Seq = math.MaxUint64
	a.Clears = math.MaxInt64 + 1 // int64: negative; < Seq in Go, > Seq in SQL
	if err := a.Validate(); err == nil {
		t.Errorf("seq %d / clears %d validate; stored as int64 they are %d / %d",
			a.Seq, a.Clears, int64(a.Seq), int64(a.Clears))
	}
	b := smallBatch()
	b.Seq = math.MaxUint64
	if err := b.Validate(); err == nil {
		t.Errorf("batch seq %d validates; as int64 it is %d", b.Seq, int64(b.Seq))
	}
}

// ToWire checks the range before rounding, FromWire after: a temperature of 100.000001 °C
// (float noise from a scaled sensor) is refused though at the kind's resolution it is
// 100.00, the wire value 10000 that FromWire accepts. Round first, then check the integer.
func TestKindToWireRoundsBeforeRangeCheck(t *testing.T) {
	for _, tt := range []struct {
		k    Kind
		v    float64
		want int64
	}{
		{KindTemperature, 100.000001, 10000},
		{KindTemperature, -50.004, -5000},
		{KindHumidity, math.Nextafter(100, 200), 1000},
		{KindPower, 100000.04, 1000000},
	} {
		w, err := tt.k.ToWire(tt.v)
		if err != nil || w != tt.want {
			t.Errorf("%s %v: %d %v, want %d (its value at the kind's resolution)", tt.k, tt.v, w, err, tt.want)
		}
	}
}

// Passing guard: every wire value of every kind survives FromWire → ToWire unchanged, and
// the range ends are exactly the CDDL's. A change of scale or range that breaks the round
// trip (and so the fuzzers' stable-encoding property) fails here first.
func TestKindWireRoundTripAllValues(t *testing.T) {
	for _, k := range Kinds() {
		lo, hi := int64(k.Min*float64(k.Scale)), int64(k.Max*float64(k.Scale))
		for w := lo; w <= hi; w++ {
			v, err := k.Kind.FromWire(w)
			if err != nil {
				t.Fatalf("%s: FromWire(%d): %v", k.Name, w, err)
			}
			back, err := k.Kind.ToWire(v)
			if err != nil || back != w {
				t.Fatalf("%s: %d → %v → %d %v", k.Name, w, v, back, err)
			}
		}
		for _, w := range []int64{lo - 1, hi + 1, math.MinInt64, math.MaxInt64} {
			if _, err := k.Kind.FromWire(w); !errors.Is(err, ErrOutOfRange) {
				t.Errorf("%s: FromWire(%d): %v, want ErrOutOfRange", k.Name, w, err)
			}
		}
	}
}

// Passing guard: TestDecodeRejectsOversizedPayloads leaves out the config decoder.
func TestDecodeRejectsOversizedConfig(t *testing.T) {
	if _, err := DecodeConfig(make([]byte, MaxConfigBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("config: %v, want ErrTooLarge", err)
	}
}

// docs/wire.md says details are 1*16 pairs, an inventory 1*1000 entries, software and a
// config error at least 1 byte; the decoders accept the empty forms, which are not
// canonical and not in the CDDL. Either reject them or write 0*16 / .size (0..64) in the doc.
func TestDecodersFollowCDDLMinimums(t *testing.T) {
	for name, data := range map[string][]byte{
		"alarm 8: {}":    alarmWith(8, map[string]string{}),
		"status 5: []":   statusWith(5, []any{}),
		"status 4: \"\"": statusWith(4, ""),
		"alarm 9: null":  alarmWith(9, nil), // decodes as a raise: CBOR null becomes 0

	} {
		var err error
		if strings.HasPrefix(name, "alarm") {
			_, err = DecodeAlarm(data)
		} else {
			_, err = DecodeStatus(data)
		}
		if err == nil {
			t.Errorf("%s: accepted, the CDDL does not allow it", name)
		}
	}
}

// ParseTimeOfDay documents "HH:MM" but Sscanf's %d takes a sign and a short field.
func TestParseTimeOfDayStrict(t *testing.T) {
	for _, bad := range []string{"+1:05", "-0:05", "01:+5", "1:005"} {
		if v, err := ParseTimeOfDay(bad); err == nil {
			t.Errorf("%q parses as %s", bad, v)
		}
	}
}

// Passing guard for the DST question: Window.Contains reads the wall clock of t's own
// location, so a 22:00-07:00 night holds on both DST change nights in Copenhagen, and a
// caller that forgets In(loc) gets UTC (an hour or two off). Keep this explicit.
func TestWindowContainsAcrossDST(t *testing.T) {
	cph := Copenhagen
	night := Window{From: 22 * 60, To: 7 * 60}
	for _, utc := range []time.Time{
		time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC),  // 01:59 CET, just before spring forward
		time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),   // 03:00 CEST
		time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), // 02:30 CEST, first pass
		time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), // 02:30 CET, second pass
		time.Date(2026, 10, 25, 5, 59, 0, 0, time.UTC), // 06:59 CET
	} {
		if !night.Contains(utc.In(cph)) {
			t.Errorf("%s (%s local) not in the night", utc, utc.In(cph).Format("15:04 MST"))
		}
	}
	// 21:30 UTC in summer is 23:30 in Copenhagen: in the night only when read locally.
	summer := time.Date(2026, 7, 1, 21, 30, 0, 0, time.UTC)
	if night.Contains(summer) == night.Contains(summer.In(cph)) {
		t.Error("Contains ignores t's location; callers must pass local time")
	}
}

// A night across a DST change has its real length, and Bounds finds the occurrence that
// contains (or next follows) the given local time.
func TestWindowBoundsAcrossDST(t *testing.T) {
	cph := Copenhagen
	night := Window{From: 22 * 60, To: 7 * 60}
	for _, tt := range []struct {
		local      time.Time
		start, len string
	}{
		{time.Date(2026, 3, 29, 2, 30, 0, 0, cph), "2026-03-28 22:00", "8h0m0s"},   // spring forward: an hour short
		{time.Date(2026, 10, 24, 23, 0, 0, 0, cph), "2026-10-24 22:00", "10h0m0s"}, // fall back: an hour long
		{time.Date(2026, 11, 23, 12, 0, 0, 0, cph), "2026-11-23 22:00", "9h0m0s"},  // midday: tonight's
		{time.Date(2026, 11, 23, 6, 59, 0, 0, cph), "2026-11-22 22:00", "9h0m0s"},  // before the end
		{time.Date(2026, 11, 23, 7, 0, 0, 0, cph), "2026-11-23 22:00", "9h0m0s"},   // the end is exclusive
	} {
		start, end := night.Bounds(tt.local)
		if got := start.Format("2006-01-02 15:04"); got != tt.start || end.Sub(start).String() != tt.len {
			t.Errorf("%s: %s for %s, want %s for %s", tt.local, got, end.Sub(start), tt.start, tt.len)
		}
	}
	day := Window{From: 8 * 60, To: 20 * 60}
	start, end := day.Bounds(time.Date(2026, 11, 23, 9, 0, 0, 0, cph))
	if start.Hour() != 8 || end.Hour() != 20 || start.Day() != 23 {
		t.Errorf("day window: %s - %s", start, end)
	}
}

func TestTruncateText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 5, "abc"},
		{"abø", 3, "ab"}, // ø is two bytes: not split
		{"abø", 4, "abø"},
		{"a\xffb", 5, "a\uFFFDb"},
	} {
		if got := TruncateText(tt.in, tt.max); got != tt.want || !utf8.ValidString(got) {
			t.Errorf("TruncateText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
