package ingest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

func TestAppendBatch(t *testing.T) {
	b := &vagt.Batch{Gateway: "gw-0042", Seq: 7, Municipality: 766, Readings: []vagt.Reading{
		{Device: "0x00158d0001a2b3c4", Kind: vagt.KindTemperature, Time: at, Value: 21.37},
		{Device: "bu-17:pir-2", Kind: vagt.KindMotion, Time: at.Add(1500 * time.Millisecond), Value: 1},
		{Device: "bu-17:pir-2", Kind: vagt.KindBattery, Time: at.Add(1500 * time.Millisecond), Value: 87},
		{Device: "med-1", Kind: vagt.KindMedicationMissed, Time: at, Value: 3},
	}}
	want := strings.Join([]string{
		"reading,dev=0x00158d0001a2b3c4,gw=gw-0042,kind=temperature,mun=766,tech=environment_sensor value=21.37 1795403520000",
		"reading,dev=bu-17:pir-2,gw=gw-0042,kind=motion,mun=766,tech=environment_sensor value=1 1795403521500",
		"reading,dev=bu-17:pir-2,gw=gw-0042,kind=battery,mun=766,tech=unknown value=87 1795403521500",
		"reading,dev=med-1,gw=gw-0042,kind=medication_missed,mun=766,tech=medicine_dispenser value=3 1795403520000",
	}, "\n") + "\n"
	if got := string(AppendBatch([]byte("x\n"), wireOf(t, b))); got != "x\n"+want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// plain is b's line protocol formatted the plain way, from the decoded floats and times.
func plain(b *vagt.Batch) string {
	var sb strings.Builder
	for _, r := range b.Readings {
		fmt.Fprintf(&sb, "reading,dev=%s,gw=%s,kind=%s,mun=%d,tech=%s value=%s %d\n", r.Device, b.Gateway, r.Kind,
			b.Municipality, TechnologyOf(r.Kind), strconv.FormatFloat(r.Value, 'f', -1, 64), r.Time.UnixMilli())
	}
	return sb.String()
}

// wireOf is b as ingest decodes it from the wire.
func wireOf(t testing.TB, b *vagt.Batch) *vagt.WireBatch {
	t.Helper()
	data, err := vagt.EncodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	var w vagt.WireBatch
	if err := vagt.DecodeBatchWire(data, &w); err != nil {
		t.Fatal(err)
	}
	return &w
}

// TestAppendBatchAsFromFloats: the lines written from the wire integers are the lines the
// decoded batch (floats, times) gives when formatted the plain way, for every kind at the
// ends and in the middle of its range, negative values, and readings spread over the day a
// batch may span; and for every valid batch vector.
func TestAppendBatchAsFromFloats(t *testing.T) {
	b := &vagt.Batch{Gateway: "gw-0042", Seq: 7, Municipality: 101}
	for n, k := range vagt.Kinds() {
		for j, v := range []float64{k.Min, k.Max, (k.Min + k.Max) / 2, min(k.Max, k.Min+1/float64(k.Scale))} {
			if k.Type != vagt.ValueDecimal {
				v = float64(int64(v))
			}
			b.Readings = append(b.Readings, vagt.Reading{Device: vagt.DeviceID(fmt.Sprintf("dev-%d", n%7)), Kind: k.Kind,
				Time: at.Add(time.Duration(n*4+j) * 21 * time.Minute).Add(time.Duration(j) * time.Millisecond), Value: v})
		}
	}
	var w vagt.WireBatch // reused, as the filler reuses it
	for _, batch := range []*vagt.Batch{b, {Gateway: "gw-x1", Seq: 1, Municipality: 851, Readings: b.Readings[:3]}} {
		data, err := vagt.EncodeBatch(batch)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := vagt.DecodeBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := vagt.DecodeBatchWire(data, &w); err != nil {
			t.Fatal(err)
		}
		if got, want := string(AppendBatch(nil, &w)), plain(&decoded); got != want {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	}
	files, _ := filepath.Glob("../testdata/wire/batch-ok-*.hex")
	if len(files) == 0 {
		t.Fatal("no batch vectors")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var hexText strings.Builder
		for _, line := range strings.Split(string(raw), "\n") {
			if line, _, _ = strings.Cut(line, "#"); strings.TrimSpace(line) != "" {
				hexText.WriteString(strings.Join(strings.Fields(line), ""))
			}
		}
		data, err := hex.DecodeString(hexText.String())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		decoded, err := vagt.DecodeBatch(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := vagt.DecodeBatchWire(data, &w); err != nil {
			t.Fatal(err)
		}
		if got, want := string(AppendBatch(nil, &w)), plain(&decoded); got != want {
			t.Fatalf("%s: got\n%s\nwant\n%s", f, got, want)
		}
	}
}

func TestAppendAlarm(t *testing.T) {
	a := &vagt.Alarm{Gateway: "gw-0042", Seq: 1003, Municipality: 766, Time: at, Device: "door-1",
		Type: vagt.AlarmDoorAtNight, Priority: vagt.PriorityHigh, Clears: 1002}
	want := "alarm,dev=door-1,gw=gw-0042,mun=766,priority=high,type=door_at_night seq=1003i,clears=1002i 1795403520000\n"
	if got := string(AppendAlarm(nil, a)); got != want {
		t.Errorf("got  %swant %s", got, want)
	}
}

// Every kind has a technology tag, and the kinds that name a device type map to it.
func TestTechnologyOfEveryKind(t *testing.T) {
	for _, k := range vagt.Kinds() {
		tech := TechnologyOf(k.Kind)
		if tech == "" {
			t.Errorf("%s: no tech tag", k.Name)
		}
		if tech != techUnknown {
			if _, err := vagt.ParseTechnology(tech); err != nil {
				t.Errorf("%s: tech %q is not a technology: %v", k.Name, tech, err)
			}
		}
	}
	if got := TechnologyOf(vagt.KindFall); got != "fall_detector" {
		t.Errorf("fall: %s", got)
	}
}

// TestRejectLogOncePerMinute: a gateway's rejections are logged once per minute, with the
// count suppressed in between; another gateway is logged on its own.
func TestRejectLogOncePerMinute(t *testing.T) {
	var buf bytes.Buffer
	now := at
	r := newRejectLog(slog.New(slog.NewTextHandler(&buf, nil)), func() time.Time { return now }, time.Minute)
	err := vagt.ErrMalformed
	r.log("gw-a", "t", err)
	r.log("gw-a", "t", err)
	r.log("gw-b", "t", err)
	now = now.Add(59 * time.Second)
	r.log("gw-a", "t", err)
	now = now.Add(time.Second)
	r.log("gw-a", "t", err)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[2], "gateway=gw-a") || !strings.Contains(lines[2], "suppressed_since_last=2") || !strings.Contains(lines[2], "reason=malformed") {
		t.Errorf("third line %q: want gw-a with 2 suppressed", lines[2])
	}
}

// BenchmarkDecodeToLineProtocol: the filler's work per message, a 500-reading batch from 25
// devices decoded, validated and turned into line protocol.
func BenchmarkDecodeToLineProtocol(b *testing.B) {
	batch := &vagt.Batch{Gateway: "gw-3f9a2c", Seq: 1, Municipality: 751}
	for i := range 500 {
		batch.Readings = append(batch.Readings, vagt.Reading{Device: vagt.DeviceID("0x00158d00000000" + string(rune('a'+i%25))),
			Kind: vagt.KindTemperature, Time: at.Add(time.Duration(i) * time.Millisecond), Value: 20 + float64(i%300)/100})
	}
	payload, err := vagt.EncodeBatch(batch)
	if err != nil {
		b.Fatal(err)
	}
	m := Message{Topic: vagt.Topic("gw-3f9a2c", vagt.LaneTelemetry), Payload: payload}
	buf := make([]byte, 0, 1<<20)
	var d decoder
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var n int
		buf, n, _, _, err = d.decode(buf[:0], &m)
		if err != nil || n != 500 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/500, "ns/reading")
}

// TestAppendValueExact: for every kind and a sweep of its wire values, the decimal written
// from the wire integer parses back to exactly the float64 the decoder produces, and is
// what strconv's shortest form writes for that float.
func TestAppendValueExact(t *testing.T) {
	for _, k := range vagt.Kinds() {
		lo, hi := int64(k.Min*float64(k.Scale)), int64(k.Max*float64(k.Scale))
		step := max(1, (hi-lo)/5000)
		for w := lo; w <= hi; w += step {
			v, err := k.Kind.FromWire(w)
			if err != nil {
				t.Fatal(err)
			}
			got := string(appendValue(nil, k.Kind, w))
			parsed, err := strconv.ParseFloat(got, 64)
			if err != nil || parsed != v {
				t.Fatalf("%s wire %d: wrote %q, parses to %v (%v), want %v", k.Name, w, got, parsed, err, v)
			}
			if want := strconv.FormatFloat(v, 'f', -1, 64); got != want {
				t.Fatalf("%s wire %d: wrote %q, strconv writes %q", k.Name, w, got, want)
			}
		}
	}
	if got := string(appendValue(nil, vagt.KindTemperature, -5)); got != "-0.05" {
		t.Errorf("-0.05 written as %q", got)
	}
}

// TestDecoderKeysPerMessage: the filler's decoder keeps series keys from message to
// message only as buffers; a message from another gateway or municipality, with the same
// device ids and kinds, and a device that changes kind and back, gets its own keys.
func TestDecoderKeysPerMessage(t *testing.T) {
	readings := []vagt.Reading{
		{Device: "dev-a", Kind: vagt.KindTemperature, Time: at, Value: 21.5},
		{Device: "dev-a", Kind: vagt.KindBattery, Time: at, Value: 80},
		{Device: "dev-b", Kind: vagt.KindTemperature, Time: at, Value: 19},
		{Device: "dev-a", Kind: vagt.KindTemperature, Time: at.Add(time.Second), Value: 21.25},
		{Device: "dev-b", Kind: vagt.KindTemperature, Time: at.Add(time.Second), Value: 19.5},
	}
	var d decoder
	for _, b := range []*vagt.Batch{
		{Gateway: "gw-1", Seq: 1, Municipality: 101, Readings: readings},
		{Gateway: "gw-2", Seq: 1, Municipality: 751, Readings: readings},
		{Gateway: "gw-1", Seq: 2, Municipality: 101, Readings: readings[2:]},
	} {
		payload, err := vagt.EncodeBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		m := Message{Topic: vagt.Topic(b.Gateway, vagt.LaneTelemetry), Payload: payload}
		got, n, _, _, err := d.decode([]byte("x\n"), &m)
		if err != nil || n != len(b.Readings) {
			t.Fatalf("%s: %d points, %v", b.Gateway, n, err)
		}
		if want := "x\n" + plain(b); string(got) != want {
			t.Errorf("%s: got\n%s\nwant\n%s", b.Gateway, got, want)
		}
	}
}
