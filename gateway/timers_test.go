package gateway

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/spool"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

const timerBed vagt.DeviceID = "0x0b"

func bedConfig(t *testing.T) Config {
	cfg := testConfig(t, "tcp://127.0.0.1:1") // no broker: every alarm stays in the spool
	cfg.StatusAddr = ""
	cfg.Home.Devices = []DeviceFile{{Device: timerBed, Technology: vagt.TechBedSensor, Zigbee: "bed"}}
	cfg.Home.Rules.Night, cfg.Home.Rules.Day = "22:00-07:00", "07:00-22:00"
	cfg.Home.Rules.BedExit = Duration(20 * time.Minute)
	return cfg
}

// spooledAlarms opens the spool file after the gateway is gone and reads its alarms.
func spooledAlarms(t *testing.T, cfg Config) []vagt.Alarm {
	t.Helper()
	q, err := spool.Open(spool.Options{Path: cfg.Spool.Path, Gateway: cfg.Gateway})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var out []vagt.Alarm
	for {
		it, ok, err := q.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok || it.Lane != vagt.LaneAlarm {
			q.Release(it)
			return out
		}
		a, err := vagt.DecodeAlarm(it.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
		if err := q.Ack(it); err != nil {
			t.Fatal(err)
		}
	}
}

// kill stops a gateway that was never Run the way kill -9 does: no shutdown, the spool
// file as the last commit left it.
func kill(t *testing.T, g *Gateway) {
	t.Helper()
	if err := g.spool.Close(); err != nil {
		t.Fatal(err)
	}
}

// ticks ticks the gateway every 30 s of the clock from from to to (inclusive).
func ticks(g *Gateway, c *testClock, from, to time.Time) {
	for at := from; !at.After(to); at = at.Add(30 * time.Second) {
		c.set(at)
		g.tick()
	}
}

// TestBedExitAcrossAKill: with the real bbolt spool, out of bed at 02:00, the gateway
// killed at 02:10 and started again: the bed-exit alarm is raised at 02:20 (the clock
// ticking every 30 s as the pipeline's ticker would, with clock-step detection on), with
// 02:20 as its time, not at 02:30. A second run with the gateway off from 02:10 to 02:50
// raises it at the first tick after the start, still with 02:20 as its time.
func TestBedExitAcrossAKill(t *testing.T) {
	cph := vagt.Copenhagen
	at := func(hh, mm, ss int) time.Time { return time.Date(2026, 11, 24, hh, mm, ss, 0, cph) }
	for _, offUntil := range []time.Time{at(2, 10, 30), at(2, 50, 0)} {
		cfg := bedConfig(t)
		clock := &testClock{t: at(1, 0, 0)}
		g, err := New(cfg, Deps{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		ticks(g, clock, at(1, 59, 0), at(2, 0, 0))
		g.process([]input{{seen: timerBed, readings: []vagt.Reading{{Device: timerBed, Kind: vagt.KindBedOccupied, Time: clock.Now(), Value: 0}}}})
		ticks(g, clock, at(2, 0, 30), at(2, 10, 0))
		kill(t, g)

		clock.set(offUntil)
		if g, err = New(cfg, Deps{Clock: clock}); err != nil {
			t.Fatal(err)
		}
		if offUntil.Before(at(2, 20, 0)) {
			ticks(g, clock, offUntil, at(2, 19, 30))
			kill(t, g)
			if a := spooledAlarms(t, cfg); len(a) != 0 {
				t.Fatalf("off until %s: alarms before the due time: %+v", offUntil, a)
			}
			if g, err = New(cfg, Deps{Clock: clock}); err != nil {
				t.Fatal(err)
			}
			ticks(g, clock, at(2, 20, 0), at(2, 20, 0))
		} else {
			g.tick() // what Run does first
		}
		kill(t, g)
		a := spooledAlarms(t, cfg)
		if len(a) != 1 || a[0].Type != vagt.AlarmBedExit || a[0].Device != timerBed || !a[0].Time.Equal(at(2, 20, 0)) {
			t.Fatalf("off until %s: alarms %+v, want one bed exit at 02:20", offUntil, a)
		}
	}
}

// TestUnreadableTimerState: garbage in the spool's rule_timers bucket is logged as an
// error, the gateway starts with fresh timers (no false alarm at start) and the rules
// still work.
func TestUnreadableTimerState(t *testing.T) {
	cph := vagt.Copenhagen
	at := func(hh, mm int) time.Time { return time.Date(2026, 11, 24, hh, mm, 0, 0, cph) }
	for name, data := range map[string][]byte{
		"garbage":         []byte("\x00\xff not json"),
		"unknown version": []byte(`{"v":99,"saved_at":"2026-11-24T00:10:00Z","started":"2026-11-23T20:00:00Z","last_activity":"2026-11-24T00:00:00Z"}`),
		"since in the future of its save": []byte(`{"v":1,"saved_at":"2026-11-24T00:10:00Z","started":"2026-11-23T20:00:00Z",` +
			`"last_activity":"2026-11-24T00:00:00Z","bed_out_since":{"0x0b":"2026-11-25T00:00:00Z"}}`),
	} {
		cfg := bedConfig(t)
		q, err := spool.Open(spool.Options{Path: cfg.Spool.Path, Gateway: cfg.Gateway})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.PutRuleTimers(data); err != nil {
			t.Fatal(err)
		}
		q.Close()
		var logs bytes.Buffer
		clock := &testClock{t: at(2, 0)}
		g, err := New(cfg, Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Clock: clock})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "rule timers unreadable") {
			t.Fatalf("%s: no clear error in the log:\n%s", name, logs.String())
		}
		ticks(g, clock, at(2, 0), at(2, 5))
		g.process([]input{{seen: timerBed, readings: []vagt.Reading{{Device: timerBed, Kind: vagt.KindBedOccupied, Time: clock.Now(), Value: 0}}}})
		ticks(g, clock, at(2, 5), at(2, 24))
		kill(t, g)
		if a := spooledAlarms(t, cfg); len(a) != 0 {
			t.Fatalf("%s: alarms %+v before the bed exit was due", name, a)
		}
		if g, err = New(cfg, Deps{Clock: clock}); err != nil {
			t.Fatal(err)
		}
		ticks(g, clock, at(2, 25), at(2, 25))
		kill(t, g)
		if a := spooledAlarms(t, cfg); len(a) != 1 || a[0].Type != vagt.AlarmBedExit || !a[0].Time.Equal(at(2, 25)) {
			t.Fatalf("%s: alarms %+v, want the bed exit at 02:25", name, a)
		}
	}
}

// TestInactivityInARebootLoop: with the real spool, a gateway restarting every 20 minutes
// from 08:00 (each a kill -9) raises inactivity at 12:00, 4 hours after the last motion at
// 08:00, once; timers started afresh at each start would never raise it.
func TestInactivityInARebootLoop(t *testing.T) {
	cph := vagt.Copenhagen
	at := func(hh, mm int) time.Time { return time.Date(2026, 11, 24, hh, mm, 0, 0, cph) }
	const pir vagt.DeviceID = "0x0c"
	cfg := testConfig(t, "tcp://127.0.0.1:1")
	cfg.StatusAddr = ""
	cfg.Home.Devices = []DeviceFile{{Device: pir, Technology: vagt.TechEnvironmentSensor, Zigbee: "hall"}}
	cfg.Home.Rules.Night, cfg.Home.Rules.Day = "22:00-07:00", "07:00-22:00"
	cfg.Home.Rules.Inactivity = Duration(4 * time.Hour)
	clock := &testClock{t: at(7, 50)}
	g, err := New(cfg, Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ticks(g, clock, at(7, 50), at(8, 0))
	g.process([]input{{seen: pir, readings: []vagt.Reading{{Device: pir, Kind: vagt.KindMotion, Time: clock.Now(), Value: 1}}}})
	kill(t, g)
	restarts := 0
	for start := at(8, 5); start.Before(at(12, 30)); start = start.Add(20 * time.Minute) {
		clock.set(start)
		if g, err = New(cfg, Deps{Clock: clock}); err != nil {
			t.Fatal(err)
		}
		ticks(g, clock, start, start.Add(15*time.Minute))
		kill(t, g)
		restarts++
	}
	a := spooledAlarms(t, cfg)
	if len(a) != 1 || a[0].Type != vagt.AlarmInactivity || !a[0].Time.Equal(at(12, 0)) {
		t.Fatalf("after %d restarts: alarms %+v, want one inactivity at 12:00", restarts, a)
	}
}
