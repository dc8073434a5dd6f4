package vagt

import (
	"errors"
	"testing"
	"time"
)

func TestWindowContains(t *testing.T) {
	night := Window{From: 22 * 60, To: 7 * 60}
	day := Window{From: 7 * 60, To: 22 * 60}
	for _, tt := range []struct {
		hh, mm         int
		inNight, inDay bool
	}{{21, 59, false, true}, {22, 0, true, false}, {23, 59, true, false}, {0, 0, true, false}, {6, 59, true, false}, {7, 0, false, true}, {12, 0, false, true}} {
		at := time.Date(2026, 11, 23, tt.hh, tt.mm, 0, 0, time.UTC)
		if night.Contains(at) != tt.inNight || day.Contains(at) != tt.inDay {
			t.Errorf("%02d:%02d: night %v day %v", tt.hh, tt.mm, night.Contains(at), day.Contains(at))
		}
	}
	if (Window{From: 60, To: 60}).Contains(time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)) {
		t.Error("an empty window contains a time")
	}
}

func TestParseTimeOfDay(t *testing.T) {
	if v, err := ParseTimeOfDay("22:05"); err != nil || v != 22*60+5 || v.String() != "22:05" {
		t.Errorf("22:05: %v %v", v, err)
	}
	for _, bad := range []string{"24:00", "7:00", "07:60", "x", ""} {
		if _, err := ParseTimeOfDay(bad); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
