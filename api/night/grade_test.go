package night

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// TestOccurrencesDST: check times are Danish wall-clock times across summer time.
func TestOccurrencesDST(t *testing.T) {
	cph := vagt.Copenhagen
	times := []string{"23:00", "02:00", "05:00"}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name     string
		from, to string
		want     []string
	}{
		{"winter", "2026-12-01T12:00:00Z", "2026-12-02T12:00:00Z",
			[]string{"2026-12-01T22:00:00Z", "2026-12-02T01:00:00Z", "2026-12-02T04:00:00Z"}},
		{"summer", "2026-07-01T12:00:00Z", "2026-07-02T12:00:00Z",
			[]string{"2026-07-01T21:00:00Z", "2026-07-02T00:00:00Z", "2026-07-02T03:00:00Z"}},
		// 29 March 2026: 02:00 does not exist (02:00 → 03:00); the check is at 03:00 CEST.
		{"spring forward", "2026-03-28T12:00:00Z", "2026-03-29T12:00:00Z",
			[]string{"2026-03-28T22:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T03:00:00Z"}},
		// 25 October 2026: 02:00-03:00 happens twice; the check happens once.
		{"fall back", "2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z",
			[]string{"2026-10-24T21:00:00Z", "2026-10-25T04:00:00Z"}},
	} {
		got := Occurrences(times, cph, utc(c.from), utc(c.to))
		var gs []string
		for _, g := range got {
			gs = append(gs, g.UTC().Format(time.RFC3339))
		}
		if c.name == "fall back" {
			// The 02:00 is one of the two instants that read 02:00; exactly one.
			if len(gs) != 3 || gs[0] != c.want[0] || gs[2] != c.want[1] || got[1].In(cph).Format("15:04") != "02:00" {
				t.Errorf("%s: %v", c.name, gs)
			}
			continue
		}
		if len(gs) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.name, gs, c.want)
			continue
		}
		for i := range gs {
			if gs[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, gs, c.want)
				break
			}
		}
	}
}

func TestJudge(t *testing.T) {
	at := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	yes, no := true, false
	temp := func(v float64) *float64 { return &v }
	motion := func(ago time.Duration) *time.Time { m := at.Add(-ago); return &m }
	w := Duration(time.Hour)
	good := Good{InBed: true, DoorClosed: true, Temperature: &Temperature{18, 26}, NoWater: true, MotionWithin: &w}
	ok := State{At: at, Telemetry: TelemetryOK, GatewayOnline: &yes, InBed: &yes, DoorOpen: &no, Temperature: temp(21), Water: &no, LastMotion: motion(10 * time.Minute)}
	for _, c := range []struct {
		name string
		edit func(*State)
		want Grade
	}{
		{"all good", func(*State) {}, Green},
		{"out of bed", func(s *State) { s.InBed = &no }, Red},
		{"door open", func(s *State) { s.DoorOpen = &yes }, Red},
		{"cold", func(s *State) { s.Temperature = temp(15) }, Red},
		{"water", func(s *State) { s.Water = &yes }, Red},
		{"no motion for long", func(s *State) { s.LastMotion = motion(2 * time.Hour) }, Red},
		{"no motion at all", func(s *State) { s.LastMotion = nil }, Red},
		{"no door reading", func(s *State) { s.DoorOpen = nil }, Amber},
		{"gateway offline", func(s *State) { s.GatewayOnline = &no }, Amber},
		{"InfluxDB down", func(s *State) {
			*s = State{At: at, Telemetry: TelemetryUnavailable, GatewayOnline: &yes}
		}, Amber},
		{"red beats amber", func(s *State) { s.GatewayOnline = &no; s.Water = &yes }, Red},
	} {
		s := ok
		c.edit(&s)
		if g, fs := Judge(good, s); g != c.want {
			t.Errorf("%s: %s %+v, want %s", c.name, g, fs, c.want)
		}
	}
}
