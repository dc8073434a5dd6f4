package vagt_test

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// TestCopenhagen: the one loaded Danish time zone every component cuts its days in is
// DefaultTimeZone, with winter and summer time.
func TestCopenhagen(t *testing.T) {
	if vagt.Copenhagen.String() != vagt.DefaultTimeZone {
		t.Errorf("vagt.Copenhagen is %q, want %q", vagt.Copenhagen, vagt.DefaultTimeZone)
	}
	for _, c := range []struct {
		at   time.Time
		want int
	}{
		{time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), 3600},
		{time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC), 7200},
	} {
		if _, off := c.at.In(vagt.Copenhagen).Zone(); off != c.want {
			t.Errorf("%v: offset %ds, want %ds", c.at, off, c.want)
		}
	}
	// March 2026 has the change to summer time: one hour short.
	march := time.Date(2026, 4, 1, 0, 0, 0, 0, vagt.Copenhagen).Sub(time.Date(2026, 3, 1, 0, 0, 0, 0, vagt.Copenhagen))
	if march != 743*time.Hour {
		t.Errorf("March 2026 in Copenhagen: %v, want 743h", march)
	}
}
