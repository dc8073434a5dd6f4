package vagt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

var update = flag.Bool("update", false, "rewrite testdata/wire from the vector table")

const vectorDir = "testdata/wire"

// vectorFile is a parsed testdata/wire/*.hex file: '#' lines, then hex (spaces and line
// breaks ignored). The comment "# expect: ok" or "# expect: <reason>" says what it is.
type vectorFile struct {
	expect string
	data   []byte
}

func readVector(t testing.TB, path string) vectorFile {
	t.Helper()
	vf, err := parseVectorFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return vf
}

func parseVectorFile(path string) (vectorFile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return vectorFile{}, err
	}
	var vf vectorFile
	var hx strings.Builder
	for line := range strings.SplitSeq(string(raw), "\n") {
		if c, ok := strings.CutPrefix(line, "#"); ok {
			if e, ok := strings.CutPrefix(strings.TrimSpace(c), "expect:"); ok {
				vf.expect = strings.TrimSpace(e)
			}
			continue
		}
		hx.WriteString(strings.Join(strings.Fields(line), ""))
	}
	if vf.data, err = hex.DecodeString(hx.String()); err != nil {
		return vectorFile{}, fmt.Errorf("%s: %w", path, err)
	}
	if vf.expect == "" {
		return vectorFile{}, fmt.Errorf("%s: no '# expect:' line", path)
	}
	return vf, nil
}

func writeVector(t *testing.T, v wireVector) {
	t.Helper()
	var data []byte
	expect := v.reason
	if v.value != nil {
		var err error
		if data, err = encodeValue(v.value); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		expect = "ok"
	} else {
		data = v.raw()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n# expect: %s\n", v.about, expect)
	h := hex.EncodeToString(data)
	for len(h) > 0 {
		n := min(len(h), 64)
		b.WriteString(h[:n] + "\n")
		h = h[n:]
	}
	if err := os.WriteFile(filepath.Join(vectorDir, v.name+".hex"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWireVectors decodes every vector file; valid ones must decode to the table's message
// and re-encode byte for byte, invalid ones must fail with the reason the file names.
func TestWireVectors(t *testing.T) {
	if *update {
		for _, v := range wireVectors {
			writeVector(t, v)
		}
	}
	table := map[string]wireVector{}
	for _, v := range wireVectors {
		table[v.name] = v
	}
	files, _ := filepath.Glob(filepath.Join(vectorDir, "*.hex"))
	if len(files) != len(wireVectors) {
		t.Errorf("%d vector files, %d vectors in the table (run go test -run TestWireVectors -update)", len(files), len(wireVectors))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".hex")
		t.Run(name, func(t *testing.T) {
			vf := readVector(t, path)
			want, ok := table[name]
			if !ok {
				t.Fatalf("vector file %s is not in the table", name)
			}
			got, err := decodeByName(name, vf.data)
			if vf.expect != "ok" {
				if err == nil {
					t.Fatalf("decoded an invalid vector; want reason %s", vf.expect)
				}
				if r := Reason(err); r != vf.expect || r != want.reason {
					t.Fatalf("reason %q (%v); file says %q, table says %q", r, err, vf.expect, want.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, want.value) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, want.value)
			}
			again, err := encodeValue(got)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if !bytes.Equal(again, vf.data) {
				t.Fatalf("re-encoded\n%x\nvector\n%x", again, vf.data)
			}
		})
	}
}

// TestWireDoc checks that every example in docs/wire.md is the diagnostic notation of the
// vector it names, and that each message type has one.
func TestWireDoc(t *testing.T) {
	doc, err := os.ReadFile("docs/wire.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```cbor-diag (testdata/wire/[a-z0-9-]+\\.hex)\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	seen := map[string]bool{}
	for _, b := range blocks {
		vf := readVector(t, b[1])
		diag, err := cbor.Diagnose(vf.data)
		if err != nil {
			t.Fatalf("%s: %v", b[1], err)
		}
		if squash(diag) != squash(b[2]) {
			t.Errorf("docs/wire.md example for %s differs from the vector:\n doc: %s\n hex: %s", b[1], squash(b[2]), diag)
		}
		seen[strings.SplitN(filepath.Base(b[1]), "-", 2)[0]] = true
	}
	for _, m := range []string{"batch", "alarm", "status", "downlink"} {
		if !seen[m] {
			t.Errorf("docs/wire.md has no example of a %s", m)
		}
	}
}

// squash drops white space and comments (/ ... /) so the doc may lay examples out freely.
func squash(s string) string {
	s = regexp.MustCompile(`/[^/]*/`).ReplaceAllString(s, "")
	return strings.Join(strings.Fields(s), "")
}

func TestDecodeRejectsOversizedPayloads(t *testing.T) {
	big := make([]byte, MaxBatchBytes+1)
	for name, err := range map[string]error{
		"batch":  errOf(DecodeBatch(big)),
		"alarm":  errOf(DecodeAlarm(big[:MaxAlarmBytes+1])),
		"status": errOf(DecodeStatus(big[:MaxStatusBytes+1])),
	} {
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

func TestEncodeValidates(t *testing.T) {
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"no readings", func() error { return errOf(EncodeBatch(&Batch{Gateway: "gw-1", Seq: 1, Municipality: 101})) }, ErrMissingField},
		{"bad value", func() error {
			b := smallBatch()
			b.Readings[0].Value = -60
			return errOf(EncodeBatch(b))
		}, ErrOutOfRange},
		{"fraction in a state", func() error {
			b := smallBatch()
			b.Readings[2].Value = 0.5
			return errOf(EncodeBatch(b))
		}, ErrOutOfRange},
		{"span over a day", func() error {
			b := smallBatch()
			b.Readings[0].Time = b.Readings[1].Time.Add(-MaxBatchSpan / 2)
			b.Readings[3].Time = b.Readings[1].Time.Add(MaxBatchSpan/2 + 1e6)
			return errOf(EncodeBatch(b))
		}, ErrOutOfRange},
		{"alarm without seq", func() error { a := panicAlarm(); a.Seq = 0; return errOf(EncodeAlarm(a)) }, ErrMissingField},
		{"status heartbeat fraction", func() error { s := onlineStatus(); s.Heartbeat += 1e6; return errOf(EncodeStatus(s)) }, ErrOutOfRange},
	}
	for _, tt := range tests {
		if err := tt.do(); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestCheckGateway(t *testing.T) {
	b, err := DecodeBatch(mustEncode(t, smallBatch()))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckGateway("gw-0042", b.Gateway); err != nil {
		t.Errorf("own gateway: %v", err)
	}
	if err := CheckGateway("gw-0043", b.Gateway); !errors.Is(err, ErrGatewayMismatch) || Reason(err) != "gateway_mismatch" {
		t.Errorf("other gateway: %v", err)
	}
}

func TestTypicalBatchSize(t *testing.T) {
	data := mustEncode(t, typicalBatch(500))
	perReading := float64(len(data)) / 500
	t.Logf("typical 500-reading batch: %d bytes, %.2f bytes per reading", len(data), perReading)
	if perReading > 12 {
		t.Errorf("%.2f bytes per reading; the format promises at most 12", perReading)
	}
}

func mustEncode(t testing.TB, v any) []byte {
	t.Helper()
	data, err := encodeValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
