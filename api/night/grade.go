package night

import (
	"fmt"
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
)

// Occurrences returns the times of the plan's checks that fall in [from, to), in order.
// A time is local wall-clock time in loc, so 02:00 is 01:00 UTC in winter and 00:00 UTC in
// summer; on the night the clocks go forward a 02:00 check (a time that does not exist)
// is at 03:00 local, and on the night they go back it happens once.
func Occurrences(times []string, loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	day := from.In(loc)
	day = time.Date(day.Year(), day.Month(), day.Day()-1, 0, 0, 0, 0, loc)
	for d := 0; !time.Date(day.Year(), day.Month(), day.Day()+d, 0, 0, 0, 0, loc).After(to); d++ {
		for _, s := range times {
			t, err := vagt.ParseTimeOfDay(s)
			if err != nil {
				continue
			}
			at := time.Date(day.Year(), day.Month(), day.Day()+d, int(t)/60, int(t)%60, 0, 0, loc)
			if !at.Before(from) && at.Before(to) && !slices.ContainsFunc(out, at.Equal) {
				out = append(out, at)
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// Grade is the board's colour for a home.
type Grade string

// The grades.
const (
	Green Grade = "green" // every condition of the good state is known and met
	Amber Grade = "amber" // a condition is unknown (no reading, InfluxDB not answering) or the gateway is offline
	Red   Grade = "red"   // a known state breaks the good state
)

// State is what the platform knows about a home at a moment. A nil field is unknown.
type State struct {
	At            time.Time  `json:"at"`
	Telemetry     string     `json:"telemetry"` // "ok", or why the sensor state is unknown ("unavailable": InfluxDB did not answer)
	GatewayOnline *bool      `json:"gateway_online,omitempty"`
	GatewaySeen   *time.Time `json:"gateway_last_seen,omitempty"`
	InBed         *bool      `json:"in_bed,omitempty"`
	InBedSince    *time.Time `json:"in_bed_since,omitempty"` // at the latest: the first occupied reading after the last empty one
	LastMotion    *time.Time `json:"last_motion,omitempty"`
	DoorOpen      *bool      `json:"door_open,omitempty"`
	Temperature   *float64   `json:"temperature,omitempty"`
	Water         *bool      `json:"water,omitempty"`
}

// TelemetryOK and TelemetryUnavailable are State.Telemetry's values.
const (
	TelemetryOK          = "ok"
	TelemetryUnavailable = "unavailable"
)

// Finding is one condition's verdict.
type Finding struct {
	Condition string `json:"condition"`
	Grade     Grade  `json:"grade"`
	Reason    string `json:"reason"`
}

// Judge grades the state against the good state: red when a known reading breaks it,
// amber when something it needs is unknown (never green on missing data), green
// otherwise. The findings say why, condition by condition.
func Judge(g Good, s State) (Grade, []Finding) {
	var fs []Finding
	add := func(cond string, gr Grade, reason string, a ...any) {
		fs = append(fs, Finding{Condition: cond, Grade: gr, Reason: fmt.Sprintf(reason, a...)})
	}
	switch {
	case s.GatewayOnline == nil:
		add("gateway", Amber, "gateway state unknown")
	case !*s.GatewayOnline:
		add("gateway", Amber, "gateway offline: the sensors' state may be old")
	}
	if s.Telemetry != TelemetryOK {
		add("telemetry", Amber, "sensor state unknown: %s", s.Telemetry)
	}
	if g.InBed {
		switch {
		case s.InBed == nil:
			add("in_bed", Amber, "no bed reading")
		case !*s.InBed:
			add("in_bed", Red, "not in bed")
		}
	}
	if g.DoorClosed {
		switch {
		case s.DoorOpen == nil:
			add("door_closed", Amber, "no door reading")
		case *s.DoorOpen:
			add("door_closed", Red, "front door open")
		}
	}
	if t := g.Temperature; t != nil {
		switch {
		case s.Temperature == nil:
			add("temperature", Amber, "no temperature reading")
		case *s.Temperature < t.Min || *s.Temperature > t.Max:
			add("temperature", Red, "%.1f °C, outside %g-%g °C", *s.Temperature, t.Min, t.Max)
		}
	}
	if g.NoWater {
		switch {
		case s.Water == nil:
			add("no_water", Amber, "no water sensor reading")
		case *s.Water:
			add("no_water", Red, "water on the floor")
		}
	}
	if m := g.MotionWithin; m != nil {
		switch {
		case s.LastMotion == nil && s.Telemetry != TelemetryOK:
			add("motion_within", Amber, "last motion unknown")
		case s.LastMotion == nil:
			add("motion_within", Red, "no motion in the last %s", StateHorizon)
		case s.At.Sub(*s.LastMotion) > time.Duration(*m):
			add("motion_within", Red, "last motion %s ago, more than %s", s.At.Sub(*s.LastMotion).Truncate(time.Minute), time.Duration(*m))
		}
	}
	grade := Green
	for _, f := range fs {
		if f.Grade == Red {
			return Red, fs
		}
		grade = Amber
	}
	return grade, fs
}
