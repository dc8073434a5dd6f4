package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/careplan"
)

// Night supervision in the demo (docs/night-supervision.md): the homes with a bed sensor
// get night checks at 23:00, 02:00 and 05:00 in their care plan, so the night board at
// /night has a shift to show; --night-speed runs the board's clock and the homes' day
// faster from 22:55 so the shift passes in minutes. Only the schedule is accelerated:
// alarms, escalation, tokens, sensor readings and what is recorded keep the wall clock.

// shiftClock is the clock of an accelerated night: it starts at origin (22:55 Danish
// time) when the demo starts and runs speed times faster than the wall clock.
type shiftClock struct {
	origin, start time.Time
	speed         float64
}

// newShiftClock starts a shift clock at the first 22:55 Danish time after now, so the
// care plans the demo saves now are older than the shift's first check (a check before
// its plan was saved is never due).
func newShiftClock(speed float64, now time.Time) *shiftClock {
	d := now.In(copenhagen)
	origin := time.Date(d.Year(), d.Month(), d.Day(), 22, 55, 0, 0, copenhagen)
	if !origin.After(now) {
		origin = time.Date(d.Year(), d.Month(), d.Day()+1, 22, 55, 0, 0, copenhagen)
	}
	return &shiftClock{origin: origin, start: now, speed: speed}
}

// Now is the accelerated time (time.Since reads the monotonic clock: no jumps).
func (c *shiftClock) Now() time.Time {
	return c.origin.Add(time.Duration(float64(time.Since(c.start)) * c.speed)).UTC()
}

// nightClocks are the night board's shift clock for the API (nil: its own clock) and
// the homes' time of day: under --night-speed both are the accelerated shift, so the
// citizens are in bed when the board's checks fall due.
func nightClocks(speed float64, now time.Time) (shift, day api.Clock) {
	if speed > 0 {
		c := newShiftClock(speed, now)
		return c, c
	}
	return nil, api.SystemClock{}
}

// planNights gives every home with a bed sensor a care plan with night checks (at the
// first run: a home whose plan already has them is left as staff left it). The device map
// is the one the home's gateway runs, so the pushed plan changes nothing else for it.
func planNights(ctx context.Context, plans *careplan.Service, homes []demoHome, tick time.Duration) (int, error) {
	n := 0
	for _, h := range homes {
		bed := false
		for _, d := range h.devices {
			bed = bed || d.tech == vagt.TechBedSensor
		}
		if !bed {
			continue
		}
		home := vagt.HomeID("home-" + string(h.gateway)[len("demo-gw-"):])
		v, err := plans.View(ctx, api.Scope{All: true}, home)
		if err != nil {
			return n, err
		}
		if v.Version > 0 && v.Settings.NightChecks != nil {
			continue
		}
		every := careplan.Duration(max(tick, time.Minute))
		set := careplan.Settings{Rules: careplan.Rules{DoorAtNight: ptrTo(true), LowBattery: ptrTo(15), SilentFactor: ptrTo(6)}}
		for _, d := range h.devices {
			dev := careplan.Device{Device: d.id, Technology: d.tech, Zigbee: d.zigbee, PanicOnPress: ptrTo(d.panic)}
			if d.zigbee != "" {
				dev.ReportEvery = &every
			}
			set.Devices = append(set.Devices, dev)
			// The plan writes down the device map the demo's gateway already runs, where
			// the base unit and the fall detector send their own alarms and a press of
			// theirs is no panic: confirmed, as the care plan asks (api/careplan/safety.go).
			if !d.panic && (d.tech == vagt.TechPersonalAlarm || d.tech == vagt.TechFallDetector) {
				set.Confirm = append(set.Confirm, "panic_on_press_off:"+string(d.id))
			}
		}
		nc := `{"times":["23:00","02:00","05:00"],"window":"30m","good":{"in_bed":true,"door_closed":true,"temperature":{"min":17,"max":26}}}`
		if err := json.Unmarshal([]byte(nc), &set.NightChecks); err != nil {
			return n, err
		}
		if _, err := plans.Update(ctx, api.Scope{All: true}, home, set, 0, "demo"); err != nil {
			return n, fmt.Errorf("night checks for %s: %w", home, err)
		}
		n++
	}
	return n, nil
}

func ptrTo[T any](v T) *T { return &v }
