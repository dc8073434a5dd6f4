package vagt

import "testing"

// The benchmarks report readings/s and wire bytes per reading for a typical 500-reading
// batch (see typicalBatch), the figures docs/wire.md quotes.

func BenchmarkEncodeBatch500(b *testing.B) {
	batch := typicalBatch(500)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		data, err := EncodeBatch(batch)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	reportBatch(b, 500, size)
}

func BenchmarkDecodeBatch500(b *testing.B) {
	data := mustEncode(b, typicalBatch(500))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(data); err != nil {
			b.Fatal(err)
		}
	}
	reportBatch(b, 500, len(data))
}

func BenchmarkDecodeAlarm(b *testing.B) {
	data := mustEncode(b, clearAlarm())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAlarm(data); err != nil {
			b.Fatal(err)
		}
	}
}

func reportBatch(b *testing.B, readings, size int) {
	b.ReportMetric(float64(readings*b.N)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(size)/float64(readings), "B/reading")
}
