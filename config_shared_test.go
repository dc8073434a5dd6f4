package vagt_test

import (
	"errors"
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

// TestParseWindow: the one parser of "HH:MM-HH:MM" (the care plan and the gateway's file
// both use it); its error is what docs/careplans.md shows, and ErrOutOfRange.
func TestParseWindow(t *testing.T) {
	for _, c := range []struct {
		in   string
		want vagt.Window
	}{
		{"", vagt.Window{}},
		{"22:00-07:00", vagt.Window{From: 22 * 60, To: 7 * 60}},
		{"07:00-22:00", vagt.Window{From: 7 * 60, To: 22 * 60}},
	} {
		if got, err := vagt.ParseWindow(c.in); err != nil || got != c.want {
			t.Errorf("ParseWindow(%q) = %+v, %v, want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"25:00-07:00", "22:00", "2200-0700", "22:00-7:00", "-"} {
		_, err := vagt.ParseWindow(in)
		if !errors.Is(err, vagt.ErrOutOfRange) {
			t.Errorf("ParseWindow(%q): %v, want ErrOutOfRange", in, err)
		}
	}
	if _, err := vagt.ParseWindow("25:00-07:00"); err == nil || err.Error() != `window "25:00-07:00": want HH:MM-HH:MM within a day` {
		t.Errorf("the message: %v", err)
	}
}
