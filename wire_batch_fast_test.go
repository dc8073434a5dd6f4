package vagt

import (
	"bytes"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The batch decoder has a reflection-free path (fastBatch) and the reflective reference
// (referenceBatch). These tests hold them to one behaviour: for any input, the same batch
// or the same error, word for word.

// referenceDecodeBatch is DecodeBatch as it was before the fast path: kept as the oracle.
func referenceDecodeBatch(data []byte) (Batch, error) {
	w, err := referenceBatch(data)
	if err != nil {
		return Batch{}, err
	}
	return batchFromWire(&w)
}

func checkDecodersAgree(t *testing.T, name string, data []byte) {
	t.Helper()
	got, gotErr := decodeBatch(data)
	want, wantErr := referenceDecodeBatch(data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s: decodeBatch err %v, reference err %v (input %x)", name, gotErr, wantErr, data)
	}
	if gotErr != nil {
		if gotErr.Error() != wantErr.Error() || Reason(gotErr) != Reason(wantErr) {
			t.Fatalf("%s: decodeBatch err %q (%s), reference %q (%s)", name, gotErr, Reason(gotErr), wantErr, Reason(wantErr))
		}
		checkWireDecoderAgrees(t, name, data, Batch{})
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: decodeBatch %+v, reference %+v", name, got, want)
	}
	checkWireDecoderAgrees(t, name, data, got)
	// Whatever the fast path accepts, the reference decodes to the same wire struct.
	if w, ok := fastBatch(data, new([]wireReading)); ok {
		rw, err := referenceBatch(data)
		if err != nil || !reflect.DeepEqual(w, rw) {
			t.Fatalf("%s: fast path took %+v, reference %+v, %v", name, w, rw, err)
		}
	}
}

// checkWireDecoderAgrees: DecodeBatchWire accepts what DecodeBatch accepts, and the batch
// it leaves is the same one (want), or it fails with the same error and leaves b as it was.
// b comes in holding another batch, as ingest reuses one: nothing of it may remain.
func checkWireDecoderAgrees(t *testing.T, name string, data []byte, want Batch) {
	t.Helper()
	_, wantErr := DecodeBatch(data)
	stale := func() WireBatch {
		return WireBatch{Gateway: "stale", Seq: 99, Municipality: 101, Base: 1,
			Devices: []DeviceID{"a", "b", "c"}, Readings: make([]WireReading, 3, 600)}
	}
	b := stale()
	err := DecodeBatchWire(data, &b)
	if (err == nil) != (wantErr == nil) || err != nil && (err.Error() != wantErr.Error() || Reason(err) != Reason(wantErr)) {
		t.Fatalf("%s: DecodeBatchWire err %v, DecodeBatch err %v (input %x)", name, err, wantErr, data)
	}
	if err != nil {
		if !reflect.DeepEqual(b, stale()) {
			t.Fatalf("%s: DecodeBatchWire failed (%v) but changed the batch: %+v", name, err, b)
		}
		return
	}
	if got := b.batch(); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: DecodeBatchWire gives %+v, DecodeBatch %+v", name, got, want)
	}
}

// TestWireLimitsAgreeWithFromWire: the table checkWire consults is Kind.FromWire's check.
func TestWireLimitsAgreeWithFromWire(t *testing.T) {
	for k := range 256 {
		values := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64}
		if i, ok := Kind(k).Info(); ok {
			lo, hi := int64(i.Min*float64(i.Scale)), int64(i.Max*float64(i.Scale))
			values = append(values, lo-1, lo, lo+1, hi-1, hi, hi+1)
		}
		for _, v := range values {
			_, err := Kind(k).FromWire(v)
			l := wireLimits[k]
			if inTable := l.known && v >= l.lo && v <= l.hi; inTable != (err == nil) {
				t.Errorf("kind %d, wire %d: table says %v, FromWire %v", k, v, inTable, err)
			}
		}
	}
}

func batchVectors(t testing.TB) map[string][]byte {
	files, _ := filepath.Glob(filepath.Join(vectorDir, "batch-*.hex"))
	if len(files) == 0 {
		t.Fatal("no batch vectors")
	}
	out := make(map[string][]byte, len(files))
	for _, path := range files {
		out[filepath.Base(path)] = readVector(t, path).data
	}
	return out
}

func TestBatchDecodersAgreeOnVectors(t *testing.T) {
	for name, data := range batchVectors(t) {
		checkDecodersAgree(t, name, data)
		// The valid vectors are in canonical form: the fast path must take them, or it
		// would be a fast path in name only.
		if strings.HasPrefix(name, "batch-ok-") {
			if _, ok := fastBatch(data, new([]wireReading)); !ok {
				t.Errorf("%s: the fast path refused a canonical batch", name)
			}
		}
	}
}

// Every truncation and every single-byte change of every vector: the near misses a fuzzer
// would take a while to reach, run on each test.
func TestBatchDecodersAgreeOnMutations(t *testing.T) {
	for name, data := range batchVectors(t) {
		if len(data) > 4096 {
			data = data[:4096] // the 500-reading vector: its head is what differs in kind
		}
		for i := range len(data) + 1 {
			checkDecodersAgree(t, name+" cut", data[:i])
		}
		for i := range data {
			for _, b := range []byte{0x00, 0x01, 0x17, 0x18, 0x1b, 0x1f, 0x20, 0x3b, 0x5f, 0x60, 0x7f, 0x80, 0x84, 0x9f, 0xa7, 0xbf, 0xc1, 0xf4, 0xf6, 0xf7, 0xfa, 0xff, data[i] ^ 0x20, data[i] + 1} {
				m := bytes.Clone(data)
				m[i] = b
				checkDecodersAgree(t, name+" byte", m)
			}
		}
		checkDecodersAgree(t, name+" trailing", append(bytes.Clone(data), 0x00))
	}
	// Non-shortest integers and a large negative value decode the same on both paths.
	checkDecodersAgree(t, "long ints", rawMap(kv{0, 1}, kv{1, "gw-0042"}, kv{2, 7}, kv{3, 766}, kv{4, 1795403520000},
		kv{5, []string{"d1"}}, kv{6, [][]any{{0, 1, 0, -9223372036854775808}}}))
	canon := mustEncode(t, smallBatch())
	if !bytes.HasPrefix(canon, []byte{0xa7, 0x00, 0x01}) {
		t.Fatalf("small batch starts %x, not {0: 1, ...}", canon[:3])
	}
	long := append([]byte{0xa7, 0x18, 0x00, 0x1a, 0x00, 0x00, 0x00, 0x01}, canon[3:]...)
	checkDecodersAgree(t, "non-shortest", long)
	if _, ok := fastBatch(long, new([]wireReading)); !ok {
		t.Error("the fast path refused non-shortest integers, which the reference accepts")
	}
}

func FuzzBatchDecodersAgree(f *testing.F) {
	seedVectors(f, "batch")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodersAgree(t, "fuzz", data)
	})
}

func BenchmarkDecodeBatch500Reference(b *testing.B) {
	data := mustEncode(b, typicalBatch(500))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := referenceDecodeBatch(data); err != nil {
			b.Fatal(err)
		}
	}
	reportBatch(b, 500, len(data))
}
