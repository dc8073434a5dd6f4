package vagt

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
