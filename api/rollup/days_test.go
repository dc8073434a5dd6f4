package rollup

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// TestDays: local calendar days in Copenhagen, their length on the DST days, and the
// midnights around an instant.
func TestDays(t *testing.T) {
	loc := vagt.Copenhagen
	for _, c := range []struct {
		d    day
		hrs  time.Duration
		utc  string
		next day
	}{
		{20260329, 23, "2026-03-28T23:00:00Z", 20260330},
		{20261025, 25, "2026-10-24T22:00:00Z", 20261026},
		{20261231, 24, "2026-12-30T23:00:00Z", 20270101},
		{20240228, 24, "2024-02-27T23:00:00Z", 20240229},
	} {
		if got := c.d.end(loc).Sub(c.d.start(loc)); got != c.hrs*time.Hour {
			t.Errorf("%d lasts %s, want %dh", c.d, got, c.hrs)
		}
		if got := c.d.start(loc).UTC().Format(time.RFC3339); got != c.utc {
			t.Errorf("%d starts %s, want %s", c.d, got, c.utc)
		}
		if got := c.d.next(loc); got != c.next {
			t.Errorf("after %d: %d, want %d", c.d, got, c.next)
		}
		if got := dayOf(c.d.end(loc).Add(-time.Nanosecond), loc); got != c.d {
			t.Errorf("the last instant of %d is on %d", c.d, got)
		}
	}
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, c := range []struct{ t, ceil, floor string }{
		{"2026-01-01T00:00:00Z", "2026-01-01T23:00:00Z", "2025-12-31T23:00:00Z"},
		{"2026-01-01T23:00:00Z", "2026-01-01T23:00:00Z", "2026-01-01T23:00:00Z"},
		{"2026-07-01T00:00:00Z", "2026-07-01T22:00:00Z", "2026-06-30T22:00:00Z"},
	} {
		if got := ceilMidnight(at(c.t), loc).UTC().Format(time.RFC3339); got != c.ceil {
			t.Errorf("ceil %s: %s, want %s", c.t, got, c.ceil)
		}
		if got := floorMidnight(at(c.t), loc).UTC().Format(time.RFC3339); got != c.floor {
			t.Errorf("floor %s: %s, want %s", c.t, got, c.floor)
		}
	}
}
