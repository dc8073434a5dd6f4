package backoff

import (
	"slices"
	"testing"
	"time"
)

// Each wait is below its window's ceiling, the ceiling doubles up to Max, and Reset
// starts over; without jitter the wait is the ceiling itself.
func TestBackoffFullJitterWindows(t *testing.T) {
	b := New(time.Second, 10*time.Second, "gw-000001")
	ceilings := []time.Duration{1, 2, 4, 8, 10, 10}
	for round := range 2 {
		for i, c := range ceilings {
			if d := b.Next(); d < 0 || d >= c*time.Second {
				t.Fatalf("round %d wait %d: %v, want in [0, %vs)", round, i, d, c)
			}
		}
		b.Reset()
	}
	plain := New(time.Second, 10*time.Second, "gw-000001")
	plain.NoJitter = true
	for i, c := range ceilings {
		if d := plain.Next(); d != c*time.Second {
			t.Fatalf("without jitter, wait %d: %v, want %vs", i, d, c)
		}
	}
}

// Seeded per gateway: two gateways draw different waits, the same gateway the same ones,
// and over many gateways the first waits spread over the whole window (not in a lump).
func TestBackoffSeededPerGateway(t *testing.T) {
	draw := func(id string) []time.Duration {
		b := New(time.Second, time.Minute, id)
		var w []time.Duration
		for range 5 {
			w = append(w, b.Next())
		}
		return w
	}
	if a, b := draw("gw-000001"), draw("gw-000002"); slices.Equal(a, b) {
		t.Fatalf("two gateways drew the same waits %v", a)
	}
	if a, b := draw("gw-000001"), draw("gw-000001"); !slices.Equal(a, b) {
		t.Fatalf("one gateway drew %v, then %v", a, b)
	}
	var buckets [10]int
	for i := range 10000 {
		d := New(time.Second, time.Minute, "gw-"+itoa6(i)).Next()
		buckets[d*10/time.Second]++
	}
	for i, n := range buckets { // 1,000 expected in each tenth
		if n < 800 || n > 1200 {
			t.Fatalf("first waits of 10,000 gateways by tenth of the window: %v (bucket %d)", buckets, i)
		}
	}
}

func itoa6(i int) string {
	b := []byte("000000")
	for p := 5; p >= 0; p-- {
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b)
}
