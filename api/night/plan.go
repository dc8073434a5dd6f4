// Package night is digital night supervision ("digitalt natteilsyn"): a home's care plan
// names the times of its night checks and what a good state is for the citizen; at each
// check the night board shows the home's state from its sensors (InfluxDB) and its gateway
// (the status lane), graded green, amber or red against that good state; staff record
// "checked, all well" or "visit needed" (an alert on the usual lane); a check not made
// within its window becomes an alert too. Every check is recorded and audited, and the
// counts of remote checks and visits feed the benefit model (docs/night-supervision.md).
package night

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
)

// Plan is the night checks of a home's care plan (the "night_checks" field of its
// settings).
type Plan struct {
	// Times are the checks' local times in the home's zone, "HH:MM" ("23:00", "02:00").
	Times []string `json:"times"`
	// Window is how long after its time a check may be made before it is missed and
	// escalates; null: DefaultWindow.
	Window *Duration `json:"window,omitempty"`
	// Good is what a good state is for this citizen.
	Good Good `json:"good"`
}

// Good is a citizen's good state at a night check; a condition left out is not checked.
type Good struct {
	InBed        bool         `json:"in_bed,omitempty"`        // a bed sensor says occupied
	DoorClosed   bool         `json:"door_closed,omitempty"`   // the front door is closed
	Temperature  *Temperature `json:"temperature,omitempty"`   // room temperature within [min, max] °C
	NoWater      bool         `json:"no_water,omitempty"`      // no water on the floor
	MotionWithin *Duration    `json:"motion_within,omitempty"` // a motion within this long before the check
}

// Temperature is a range in °C.
type Temperature struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// Duration is a time.Duration written as "30m" in JSON (as the care plan's).
type Duration time.Duration

// MarshalJSON writes "30m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON parses "30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration is a string like "30m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Limits of a plausible plan.
const (
	DefaultWindow = 30 * time.Minute
	MinWindow     = 5 * time.Minute
	MaxWindow     = 2 * time.Hour
	MaxTimes      = 8
	MinMotion     = 5 * time.Minute
	MaxMotion     = 12 * time.Hour
)

// WindowOrDefault is the plan's window.
func (p Plan) WindowOrDefault() time.Duration {
	if p.Window == nil {
		return DefaultWindow
	}
	return time.Duration(*p.Window)
}

// Condition is one thing a good state can demand, and the technologies whose devices can
// report it (what the gateway normalises them to: docs/wire.md, kinds).
type Condition struct {
	Field string            // JSON name under good
	Kind  vagt.Kind         // the reading that tells it
	Techs []vagt.Technology // devices that report that reading
}

// Conditions are the conditions in the order the board shows them.
var Conditions = []Condition{
	{"in_bed", vagt.KindBedOccupied, []vagt.Technology{vagt.TechBedSensor, vagt.TechNightSupervision}},
	{"door_closed", vagt.KindDoorOpen, []vagt.Technology{vagt.TechDoorSensor}},
	{"temperature", vagt.KindTemperature, []vagt.Technology{vagt.TechEnvironmentSensor}},
	{"no_water", vagt.KindWaterLeak, []vagt.Technology{vagt.TechWaterAlarm}},
	{"motion_within", vagt.KindMotion, []vagt.Technology{vagt.TechEnvironmentSensor, vagt.TechNightSupervision}},
}

// wants reports whether g demands the condition named field.
func (g Good) wants(field string) bool {
	switch field {
	case "in_bed":
		return g.InBed
	case "door_closed":
		return g.DoorClosed
	case "temperature":
		return g.Temperature != nil
	case "no_water":
		return g.NoWater
	case "motion_within":
		return g.MotionWithin != nil
	}
	return false
}

// FieldError is an invalid plan: the field under night_checks and why.
type FieldError struct {
	Field  string // "times[1]", "good.in_bed"
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("night_checks.%s: %s", e.Field, e.Reason) }

// Validate checks the plan against the technologies of the home's devices (its care
// plan's device map): a condition no device of the home can report is refused, naming it.
func (p Plan) Validate(techs []vagt.Technology) error {
	if len(p.Times) == 0 {
		return &FieldError{"times", "at least one check time, e.g. [\"23:00\", \"02:00\", \"05:00\"]"}
	}
	if len(p.Times) > MaxTimes {
		return &FieldError{"times", fmt.Sprintf("at most %d check times", MaxTimes)}
	}
	seen := map[vagt.TimeOfDay]bool{}
	for i, s := range p.Times {
		t, err := vagt.ParseTimeOfDay(s)
		if err != nil {
			return &FieldError{fmt.Sprintf("times[%d]", i), fmt.Sprintf("%q: want HH:MM", s)}
		}
		if seen[t] {
			return &FieldError{fmt.Sprintf("times[%d]", i), fmt.Sprintf("%q listed twice", s)}
		}
		seen[t] = true
	}
	w := p.WindowOrDefault()
	if w < MinWindow || w > MaxWindow || w%time.Minute != 0 {
		return &FieldError{"window", fmt.Sprintf("%s: whole minutes from %s to %s", w, MinWindow, MaxWindow)}
	}
	if spacing := minSpacing(p.Times); spacing > 0 && w > spacing {
		return &FieldError{"window", fmt.Sprintf("%s is longer than the %s between two checks", w, spacing)}
	}
	g := p.Good
	if !g.InBed && !g.DoorClosed && g.Temperature == nil && !g.NoWater && g.MotionWithin == nil {
		return &FieldError{"good", "name at least one condition (in_bed, door_closed, temperature, no_water, motion_within)"}
	}
	if t := g.Temperature; t != nil && (t.Min < 5 || t.Max > 35 || t.Min >= t.Max) {
		return &FieldError{"good.temperature", fmt.Sprintf("%g-%g °C: min below max, within 5-35 °C", t.Min, t.Max)}
	}
	if m := g.MotionWithin; m != nil && (time.Duration(*m) < MinMotion || time.Duration(*m) > MaxMotion) {
		return &FieldError{"good.motion_within", fmt.Sprintf("%s: from %s to %s", time.Duration(*m), MinMotion, MaxMotion)}
	}
	for _, c := range Conditions {
		if !g.wants(c.Field) {
			continue
		}
		if !slices.ContainsFunc(c.Techs, func(t vagt.Technology) bool { return slices.Contains(techs, t) }) {
			return &FieldError{"good." + c.Field, fmt.Sprintf("no device in the home can report it (%s needs a %s in the care plan's device map)",
				c.Kind, techNames(c.Techs))}
		}
	}
	return nil
}

func techNames(ts []vagt.Technology) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += " or "
		}
		s += t.String()
	}
	return s
}

// minSpacing is the shortest time between two consecutive checks around the clock.
func minSpacing(times []string) time.Duration {
	var ms []int
	for _, s := range times {
		if t, err := vagt.ParseTimeOfDay(s); err == nil {
			ms = append(ms, int(t))
		}
	}
	if len(ms) < 2 {
		return 0
	}
	slices.Sort(ms)
	best := ms[0] + 24*60 - ms[len(ms)-1]
	for i := 1; i < len(ms); i++ {
		best = min(best, ms[i]-ms[i-1])
	}
	return time.Duration(best) * time.Minute
}
