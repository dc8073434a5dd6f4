package vagt

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Each fuzz target feeds its decoder arbitrary bytes, seeded with every vector of its
// message type. Whatever it is fed, the decoder must not panic, must name its reason for
// rejecting (Reason never "other"), and anything it accepts must survive a round trip:
// encode → the same bytes again on a second decode and encode.

func seedVectors(f *testing.F, prefix string) {
	files, _ := filepath.Glob(filepath.Join(vectorDir, prefix+"-*.hex"))
	if len(files) == 0 {
		f.Fatalf("no %s vectors to seed from", prefix)
	}
	for _, path := range files {
		f.Add(readVector(f, path).data)
	}
}

func fuzzRoundTrip[T any](t *testing.T, name string, data []byte, decode func([]byte) (T, error), encode func(*T) ([]byte, error)) {
	m, err := decode(data)
	if err != nil {
		if r := Reason(err); r == "other" || !strings.Contains(err.Error(), "decode") {
			t.Fatalf("%s: unnamed rejection: %v", name, err)
		}
		return
	}
	out, err := encode(&m)
	if err != nil {
		t.Fatalf("%s: decoded %+v but cannot encode it: %v", name, m, err)
	}
	m2, err := decode(out)
	if err != nil {
		t.Fatalf("%s: own encoding does not decode: %v", name, err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("%s: round trip changed the message:\n%+v\n%+v", name, m, m2)
	}
	out2, err := encode(&m2)
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("%s: encoding is not stable: %v", name, err)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	seedVectors(f, "batch")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, "batch", data, DecodeBatch, EncodeBatch) })
}

func FuzzDecodeAlarm(f *testing.F) {
	seedVectors(f, "alarm")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, "alarm", data, DecodeAlarm, EncodeAlarm) })
}

func FuzzDecodeStatus(f *testing.F) {
	seedVectors(f, "status")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, "status", data, DecodeStatus, EncodeStatus) })
}

func FuzzDecodeConfig(f *testing.F) {
	seedVectors(f, "config")
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRoundTrip(t, "config", data, DecodeConfig, EncodeConfig) })
}

// The encode targets check the other direction: whatever an encoder accepts, its decoder
// must accept and return unchanged — or a gateway sends what the platform throws away.

func FuzzEncodeAlarm(f *testing.F) {
	f.Add("gw-0042", uint64(1001), uint16(766), int64(1795403520000), "bu-17:btn", uint8(1), uint8(1), uint64(0), "door", "front")
	f.Add("gw-0042", uint64(1003), uint16(766), int64(1795403760000), "0x00158d0001a2b3c5", uint8(4), uint8(2), uint64(1002), "d\xf8r", "x")
	f.Fuzz(func(t *testing.T, gw string, seq uint64, mun uint16, ms int64, dev string, typ, prio uint8, clears uint64, k, v string) {
		a := Alarm{Gateway: GatewayID(gw), Seq: seq, Municipality: MunicipalityCode(mun), Time: time.UnixMilli(ms).UTC(),
			Device: DeviceID(dev), Type: AlarmType(typ), Priority: Priority(prio), Clears: clears}
		if k != "" {
			a.Details = map[string]string{k: v}
		}
		data, err := EncodeAlarm(&a)
		if err != nil {
			return
		}
		got, err := DecodeAlarm(data)
		if err != nil {
			t.Fatalf("encoded %+v, cannot decode it: %v", a, err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Fatalf("round trip changed the alarm:\n%+v\n%+v", a, got)
		}
	})
}

func FuzzEncodeBatch(f *testing.F) {
	f.Add("gw-0042", uint64(7), "dev-a", uint8(1), 21.37, int64(1795403520000), int64(1500))
	f.Add("gw-0042", uint64(7), "dev-b", uint8(2), 100.00000001, int64(1795403520000), int64(0))
	f.Fuzz(func(t *testing.T, gw string, seq uint64, dev string, kind uint8, value float64, ms, later int64) {
		b := Batch{Gateway: GatewayID(gw), Seq: seq, Municipality: 766, Readings: []Reading{
			{Device: DeviceID(dev), Kind: Kind(kind), Time: time.UnixMilli(ms).UTC(), Value: value},
			{Device: "dev-z", Kind: KindMotion, Time: time.UnixMilli(ms + later).UTC(), Value: 1},
		}}
		data, err := EncodeBatch(&b)
		if err != nil {
			return
		}
		got, err := DecodeBatch(data)
		if err != nil {
			t.Fatalf("encoded %+v, cannot decode it: %v", b, err)
		}
		w0, _ := b.Readings[0].Kind.ToWire(b.Readings[0].Value)
		w1, _ := got.Readings[0].Kind.ToWire(got.Readings[0].Value)
		if w0 != w1 || !got.Readings[1].Time.Equal(b.Readings[1].Time) || got.Seq != b.Seq {
			t.Fatalf("round trip changed the batch:\n%+v\n%+v", b, got)
		}
	})
}
