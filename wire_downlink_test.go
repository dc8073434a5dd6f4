package vagt

import (
	"errors"
	"testing"
	"time"
)

// The downlink vectors join the table that TestWireVectors checks against testdata/wire.
func init() { wireVectors = append(wireVectors, downlinkVectors...) }

func receivedDownlink() *Downlink {
	return &Downlink{Gateway: "gw-0042", Events: []uint64{1001}, State: HelpReceived, Time: t0.Add(180 * time.Millisecond), Alert: 57}
}

func downlinkPairs() []kv {
	return []kv{{0, 1}, {1, "gw-0042"}, {2, []uint64{1001}}, {3, 1}, {4, t0.UnixMilli()}, {5, 57}}
}

func downlinkWith(key int, v any) []byte {
	p := downlinkPairs()
	for i := range p {
		if p[i].k == key {
			p[i].v = v
			return rawMap(p...)
		}
	}
	return rawMap(append(p, kv{key, v})...)
}

func downlinkWithout(key int) []byte {
	var p []kv
	for _, x := range downlinkPairs() {
		if x.k != key {
			p = append(p, x)
		}
	}
	return rawMap(p...)
}

func manySeqs(n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

var downlinkVectors = []wireVector{
	{name: "downlink-ok-received", about: "the panic of event 1001 is alert 57 on the platform, 180 ms after the press", value: receivedDownlink()},
	{name: "downlink-ok-acknowledged", about: "staff acknowledged alert 57, which folded three presses", value: &Downlink{Gateway: "gw-0042",
		Events: []uint64{1001, 1004, 1009}, State: HelpAcknowledged, Time: t0.Add(95 * time.Second), Alert: 57}},
	{name: "downlink-ok-on-the-way", about: "staff said on my way to alert 57", value: &Downlink{Gateway: "gw-0042",
		Events: []uint64{1001}, State: HelpOnTheWay, Time: t0.Add(3 * time.Minute), Alert: 57}},
	{name: "downlink-ok-arrived", about: "staff arrived in the home of alert 57, which folded two presses", value: &Downlink{Gateway: "gw-0042",
		Events: []uint64{1001, 1004}, State: HelpArrived, Time: t0.Add(14 * time.Minute), Alert: 57}},
	{name: "downlink-bad-version-2", about: "wire version 2", reason: "unknown_version", raw: func() []byte { return downlinkWith(0, 2) }},
	{name: "downlink-bad-no-events", about: "the events key is missing", reason: "missing_field", raw: func() []byte { return downlinkWithout(2) }},
	{name: "downlink-bad-empty-events", about: "an empty events array", reason: "missing_field", raw: func() []byte { return downlinkWith(2, []uint64{}) }},
	{name: "downlink-bad-events-order", about: "event seqs not ascending", reason: "out_of_range", raw: func() []byte { return downlinkWith(2, []uint64{1004, 1001}) }},
	{name: "downlink-bad-event-twice", about: "one event seq twice", reason: "out_of_range", raw: func() []byte { return downlinkWith(2, []uint64{1001, 1001}) }},
	{name: "downlink-bad-event-zero", about: "event seq 0", reason: "missing_field", raw: func() []byte { return downlinkWith(2, []uint64{0}) }},
	{name: "downlink-bad-too-many-events", about: "65 event seqs, one more than a message may name", reason: "too_large", raw: func() []byte {
		return downlinkWith(2, manySeqs(MaxDownlinkEvents+1))
	}},
	{name: "downlink-bad-state-0", about: "no state (0)", reason: "missing_field", raw: func() []byte { return downlinkWith(3, 0) }},
	{name: "downlink-bad-state-6", about: "state 6, which version 1 does not define", reason: "out_of_range", raw: func() []byte { return downlinkWith(3, 6) }},
	{name: "downlink-bad-time", about: "time 0 (1970)", reason: "out_of_range", raw: func() []byte { return downlinkWith(4, 0) }},
	{name: "downlink-bad-no-alert", about: "the alert key is missing", reason: "missing_field", raw: func() []byte { return downlinkWithout(5) }},
	{name: "downlink-bad-gateway-id", about: "a gateway id with MQTT wildcards", reason: "invalid_id", raw: func() []byte { return downlinkWith(1, "gw/+/#") }},
	{name: "downlink-bad-unknown-key", about: "key 6, which version 1 does not define", reason: "unknown_field", raw: func() []byte { return downlinkWith(6, 1) }},
	{name: "downlink-bad-duplicate-key", about: "key 3 twice", reason: "duplicate_key", raw: func() []byte { return rawMap(append(downlinkPairs(), kv{3, 2})...) }},
	{name: "downlink-bad-float-state", about: "a float state", reason: "malformed", raw: func() []byte { return downlinkWith(3, 2.0) }},
}

func TestEncodeDownlinkValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Downlink
		want error
	}{
		{"no events", Downlink{Gateway: "gw-0042", State: HelpReceived, Time: t0, Alert: 1}, ErrMissingField},
		{"unknown state", Downlink{Gateway: "gw-0042", Events: []uint64{1}, State: 9, Time: t0, Alert: 1}, ErrOutOfRange},
		{"no alert", Downlink{Gateway: "gw-0042", Events: []uint64{1}, State: HelpReceived, Time: t0}, ErrMissingField},
		{"1970", Downlink{Gateway: "gw-0042", Events: []uint64{1}, State: HelpReceived, Time: time.Unix(0, 0), Alert: 1}, ErrOutOfRange},
		{"too many", Downlink{Gateway: "gw-0042", Events: manySeqs(MaxDownlinkEvents + 1), State: HelpReceived, Time: t0, Alert: 1}, ErrTooLarge},
	} {
		if _, err := EncodeDownlink(&tc.d); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestHelpStateNames(t *testing.T) {
	for s := HelpReceived; s <= HelpResolved; s++ {
		got, err := ParseHelpState(s.String())
		if err != nil || got != s {
			t.Errorf("%d: %q parses to %d, %v", s, s.String(), got, err)
		}
	}
	if _, err := ParseHelpState("help"); err == nil {
		t.Error("an unknown name parses")
	}
}

func TestDownlinkTopic(t *testing.T) {
	topic := Topic("gw-0042", LaneDownlink)
	if topic != "vagt/v1/gw/gw-0042/downlink" {
		t.Fatalf("topic %q", topic)
	}
	gw, lane, err := ParseTopic(topic)
	if err != nil || gw != "gw-0042" || lane != LaneDownlink {
		t.Fatalf("ParseTopic: %q %q %v", gw, lane, err)
	}
}

func FuzzDecodeDownlink(f *testing.F) {
	seedVectors(f, "downlink")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, "downlink", data, DecodeDownlink, EncodeDownlink) })
}

func FuzzEncodeDownlink(f *testing.F) {
	f.Add("gw-0042", uint64(1001), uint64(1004), uint8(2), int64(1795403520000), uint64(57))
	f.Fuzz(func(t *testing.T, gw string, a, b uint64, state uint8, ms int64, alert uint64) {
		d := Downlink{Gateway: GatewayID(gw), Events: []uint64{a, b}, State: HelpState(state), Time: time.UnixMilli(ms).UTC(), Alert: alert}
		data, err := EncodeDownlink(&d)
		if err != nil {
			return
		}
		if _, err := DecodeDownlink(data); err != nil {
			t.Fatalf("encoder accepted what the decoder refuses: %+v: %v", d, err)
		}
	})
}
