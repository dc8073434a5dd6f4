// Package scenario scripts what happens in a home — a panic press, a fall at night, a door
// opened at 03:00, a sensor that falls silent, a serial cable pulled out, noise on the
// line — on the emulated base unit and Zigbee2MQTT devices, so tests and the demo drive the
// real gateway with it.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/firmware-sim/zigbee2mqtt"
)

// Env is what a scenario acts on. Zigbee may be nil: its steps are then skipped.
type Env struct {
	Unit   *baseunit.Unit
	Line   *baseunit.Line
	Zigbee *zigbee2mqtt.Bridge
	Out    io.Writer // a line per step; nil discards
	// Serve runs the unit on the line after a replug (the caller owns that goroutine).
	Serve func(end io.ReadWriteCloser)
	// Scale shortens every wait (0.01: a 4-minute scenario takes 2.4 s); 0 means 1.
	Scale float64
}

// Step is one thing that happens, After the step before it.
type Step struct {
	After time.Duration
	Say   string
	Do    func(ctx context.Context, e *Env) error
}

// Scenario is a named script.
type Scenario struct {
	Name, About string
	Steps       []Step
}

// ErrNoZigbee: the scenario needs Zigbee devices and the Env has none.
var ErrNoZigbee = errors.New("scenario: no Zigbee2MQTT bridge")

func zb(f func(b *zigbee2mqtt.Bridge) error) func(context.Context, *Env) error {
	return func(_ context.Context, e *Env) error {
		if e.Zigbee == nil {
			return ErrNoZigbee
		}
		return f(e.Zigbee)
	}
}

// waitAck waits until the unit's alarm frame seq is acked by the gateway.
func waitAck(ctx context.Context, e *Env, seq uint16, limit time.Duration) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for !e.Unit.Acked(seq) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.Unit.AckSignal():
		case <-deadline.C:
			return fmt.Errorf("scenario: alarm frame %d not acked within %s", seq, limit)
		}
	}
	return nil
}

func panicPress(ctx context.Context, e *Env) error {
	seq, err := e.Unit.Alarm("btn", "panic")
	if err != nil {
		return err
	}
	return waitAck(ctx, e, seq, time.Minute)
}

// All are the scenarios, by name.
var All = []Scenario{
	{Name: "panic", About: "the citizen presses the pendant's button; the gateway acks the frame", Steps: []Step{
		{Say: "panic button pressed", Do: panicPress},
	}},
	{Name: "fall-at-night", About: "out of bed at 03:12, then the fall detector goes off", Steps: []Step{
		{Say: "bed: out of bed", Do: zb(func(b *zigbee2mqtt.Bridge) error { return b.Publish("bed", map[string]any{"occupancy": false}) })},
		{After: 30 * time.Second, Say: "fall detector: fall", Do: func(ctx context.Context, e *Env) error {
			seq, err := e.Unit.Alarm("fall-1", "fall")
			if err != nil {
				return err
			}
			return waitAck(ctx, e, seq, time.Minute)
		}},
	}},
	{Name: "door-at-night", About: "the front door opens (run it in the night window) and closes four minutes later", Steps: []Step{
		{Say: "front door opened", Do: zb(func(b *zigbee2mqtt.Bridge) error { return b.Door("front_door", true) })},
		{After: 4 * time.Minute, Say: "front door closed", Do: zb(func(b *zigbee2mqtt.Bridge) error { return b.Door("front_door", false) })},
	}},
	{Name: "silent-sensor", About: "the living-room sensor reports once, then its battery dies: it falls silent", Steps: []Step{
		{Say: "living room 21.5 °C", Do: zb(func(b *zigbee2mqtt.Bridge) error { return b.Climate("living_room", 21.5, 41) })},
		{After: 10 * time.Second, Say: "living room: battery 3 %, last report", Do: zb(func(b *zigbee2mqtt.Bridge) error {
			b.SetBattery("living_room", 3)
			return b.Climate("living_room", 21.4, 41)
		})},
		{After: 35 * time.Minute, Say: "(nothing more from it: silent for longer than 3 × 10 min)"},
	}},
	{Name: "unplugged-cable", About: "the serial cable is pulled out, the panic button pressed meanwhile, the cable put back", Steps: []Step{
		{Say: "cable unplugged", Do: func(_ context.Context, e *Env) error { return e.Line.Unplug() }},
		{After: 2 * time.Second, Say: "panic pressed while unplugged (the unit keeps it)", Do: func(_ context.Context, e *Env) error {
			_, err := e.Unit.Alarm("btn", "panic")
			return err
		}},
		{After: 10 * time.Second, Say: "cable plugged back in", Do: func(ctx context.Context, e *Env) error {
			if err := e.Line.Plug(); err != nil {
				return err
			}
			e.Unit.Attach(e.Line.End())
			if e.Serve != nil {
				e.Serve(e.Line.End())
			}
			for _, seq := range e.Unit.Pending() {
				if err := waitAck(ctx, e, seq, time.Minute); err != nil {
					return err
				}
			}
			return nil
		}},
	}},
	{Name: "noise", About: "line noise, a frame torn by a power dip and a bit flip, then clean frames", Steps: []Step{
		{Say: "noise", Do: func(_ context.Context, e *Env) error { return e.Unit.Raw([]byte("\x00\xff\x13~~garbage\x07")) }},
		{Say: "torn frame", Do: func(_ context.Context, e *Env) error {
			return e.Unit.Raw(baseunit.Encode(e.Unit.ID, "999", "R", "pir-2", "motion", "1")[:12])
		}},
		{Say: "bit flip", Do: func(_ context.Context, e *Env) error {
			f := baseunit.Encode(e.Unit.ID, "998", "R", "pir-2", "motion", "1")
			f[5] ^= 0x02
			return e.Unit.Raw(f)
		}},
		{Say: "a clean reading", Do: func(_ context.Context, e *Env) error { return e.Unit.Reading("temp-1", "temperature", 21.3) }},
		{Say: "a clean panic", Do: panicPress},
	}},
	{Name: "zigbee-garbage", About: "Zigbee2MQTT payloads that are not JSON, then a good one", Steps: []Step{
		{Say: "garbage", Do: zb(func(b *zigbee2mqtt.Bridge) error { return b.Raw("front_door", []byte("\x00not json")) })},
		{Say: "truncated", Do: zb(func(b *zigbee2mqtt.Bridge) error { return b.Raw("front_door", []byte(`{"contact":tr`)) })},
		{Say: "good", Do: zb(func(b *zigbee2mqtt.Bridge) error { return b.Door("front_door", false) })},
	}},
}

// Find returns the scenario with the name.
func Find(name string) (Scenario, bool) {
	for _, s := range All {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// Run plays the scenario's steps in order, waiting between them (scaled by e.Scale).
func (s Scenario) Run(ctx context.Context, e *Env) error {
	scale := e.Scale
	if scale <= 0 {
		scale = 1
	}
	out := e.Out
	if out == nil {
		out = io.Discard
	}
	for i, st := range s.Steps {
		if st.After > 0 {
			t := time.NewTimer(time.Duration(float64(st.After) * scale))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		fmt.Fprintf(out, "%s %s step %d: %s\n", time.Now().Format("15:04:05"), s.Name, i+1, st.Say)
		if st.Do == nil {
			continue
		}
		if err := st.Do(ctx, e); err != nil {
			return fmt.Errorf("%s step %d (%s): %w", s.Name, i+1, st.Say, err)
		}
	}
	return nil
}
