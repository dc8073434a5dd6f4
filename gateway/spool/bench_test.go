package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// typical readings: 25 devices with Zigbee addresses, a mix of kinds.
func typical(n int, at time.Time) []vagt.Reading {
	kinds := []vagt.Kind{vagt.KindTemperature, vagt.KindHumidity, vagt.KindMotion, vagt.KindBattery, vagt.KindLinkQuality}
	rs := make([]vagt.Reading, n)
	for i := range rs {
		k := kinds[i%len(kinds)]
		v := float64(i % 2)
		if k == vagt.KindTemperature || k == vagt.KindHumidity {
			v = 20 + float64(i%300)/100
		}
		rs[i] = vagt.Reading{Device: vagt.DeviceID(fmt.Sprintf("0x00158d00%08x", i%25)), Kind: k, Time: at.Add(time.Duration(i) * 10 * time.Millisecond), Value: v}
	}
	return rs
}

// BenchmarkSpoolWrite: readings committed (fsynced) per second, one transaction per group
// of readings, as the gateway's pipeline groups what arrives together.
func BenchmarkSpoolWrite(b *testing.B) {
	for _, group := range []int{1, 50} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			q, err := Open(Options{Path: filepath.Join(b.TempDir(), "spool.db"), Gateway: "gw-0042", Municipality: 766, MaxBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			rs := typical(group, t0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := q.AddReadings(rs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*group)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

// BenchmarkSpoolWriteCutAck: the whole life of a reading in the spool — written in groups
// of 50, cut into batches of 500, handed out and acknowledged — in readings per second.
// It also reports the spool's bytes per reading, on disk (bbolt file) and logical.
func BenchmarkSpoolWriteCutAck(b *testing.B) {
	path := filepath.Join(b.TempDir(), "spool.db")
	q, err := Open(Options{Path: path, Gateway: "gw-0042", Municipality: 766, MaxBytes: 1 << 30, BatchReadings: 500})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	const rounds = 10 // 10 × 50 = one batch
	rs := typical(50, t0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for range rounds {
			if err := q.AddReadings(rs); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := q.Cut(false); err != nil {
			b.Fatal(err)
		}
		it, ok, err := q.Next()
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		if err := q.Ack(it); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*rounds*50)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkSpoolBytesPerReading fills a spool with a backlog of 100,000 readings (an
// outage of about six hours for a home of 50 devices every 10 s) and reports the bytes per
// reading: pending (not yet cut), batched, and the bbolt file on disk.
func BenchmarkSpoolBytesPerReading(b *testing.B) {
	for i := 0; i < b.N; i++ {
		path := filepath.Join(b.TempDir(), "spool.db")
		q, err := Open(Options{Path: path, Gateway: "gw-0042", Municipality: 766, MaxBytes: 1 << 30, BatchReadings: 500})
		if err != nil {
			b.Fatal(err)
		}
		const n = 100000
		for j := 0; j < n; j += 1000 {
			if err := q.AddReadings(typical(1000, t0.Add(time.Duration(j)*10*time.Millisecond))); err != nil {
				b.Fatal(err)
			}
		}
		pending := float64(q.Stats().Bytes) / n
		if _, err := q.Cut(true); err != nil {
			b.Fatal(err)
		}
		batched := float64(q.Stats().Bytes) / n
		q.Close()
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(pending, "B/pending-reading")
		b.ReportMetric(batched, "B/batched-reading")
		b.ReportMetric(float64(fi.Size())/n, "file-B/reading")
	}
}

// BenchmarkPutRuleTimers: one keep of the rules' timer state for a home of 50 devices
// (last seen of each, a few timers running), fsynced; the gateway does this about once a
// minute. Reports the state's size and the time per keep.
func BenchmarkPutRuleTimers(b *testing.B) {
	q, err := Open(Options{Path: filepath.Join(b.TempDir(), "spool.db"), Gateway: "gw-0042", Municipality: 766})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	// The JSON of rules.Timers (spool cannot import rules: it is the rules' sink).
	state := fmt.Sprintf(`{"v":1,"saved_at":%q,"started":%q,"last_activity":%q,"last_seen":{`, t0.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano))
	for i := range 50 {
		if i > 0 {
			state += ","
		}
		state += fmt.Sprintf(`"0x00158d00%08x":%q`, i, t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano))
	}
	state += fmt.Sprintf(`},"bed_out_since":{"0x00158d0000000001":%q},"cold_since":{"0x00158d0000000002":%q},"taken_at":{"1":%q,"2":%q}}`,
		t0.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := q.PutRuleTimers([]byte(state)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(state)), "state-bytes")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/keep")
}
