package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/serial"
	"github.com/vagt-dk/vagt/gateway/zigbee"
)

var epoch = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// serialFrame parses a frame written by hand from docs/serial.md.
func serialFrame(t *testing.T, body string) serial.Frame {
	t.Helper()
	f, err := serial.ParseFrame(fmt.Appendf(nil, "$%s*%04X", body, serial.CRC16([]byte(body))))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestAlarmAtEpochIsSpooled (issue 15, defect 1): a panic press (a serial A frame) and a
// Zigbee SOS on a gateway whose clock reads 1970-01-01 — a Raspberry Pi without a hardware
// clock before NTP — are spooled, with the best time the gateway has (never before the
// sane floor) and marked "clock": "unsynced". Before the fix the readings failed the
// telemetry time check and never reached the rules: 0 alarms spooled.
func TestAlarmAtEpochIsSpooled(t *testing.T) {
	cfg := testConfig(t, "tcp://127.0.0.1:1") // no broker: the alarms stay in the spool
	cfg.StatusAddr = ""
	cfg.Home.Devices = []DeviceFile{{Device: "0x0c", Technology: vagt.TechPersonalAlarm, Zigbee: "sos_button"}}
	clock := &testClock{t: epoch}
	g, err := New(cfg, Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	g.fromSerial(serialFrame(t, "bu-1,7,A,btn,panic"), func(x input) { g.process([]input{x}) })
	clock.set(epoch.Add(3 * time.Second))
	rs, err := zigbee.Map(vagt.DeviceConfig{Device: "0x0c", Technology: vagt.TechPersonalAlarm}, []byte(`{"sos":true,"battery":90}`), clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	g.process([]input{{readings: rs, seen: "0x0c"}})
	kill(t, g)

	got := spooledAlarms(t, cfg)
	if len(got) != 2 {
		t.Fatalf("%d alarms spooled, want 2 (the serial panic and the Zigbee SOS): %+v", len(got), got)
	}
	for i, dev := range []vagt.DeviceID{"bu-1:btn", "0x0c"} {
		a := got[i]
		if a.Type != vagt.AlarmPanic || a.Device != dev || a.Details[DetailClock] != DetailClockUnsynced {
			t.Errorf("alarm %d: %+v, want a panic of %s marked clock unsynced", i, a, dev)
		}
		if a.Time.Before(saneFloor) {
			t.Errorf("alarm %d: time %s before the sane floor %s", i, a.Time, saneFloor)
		}
	}
	if d := got[1].Time.Sub(got[0].Time); d != 3*time.Second {
		t.Errorf("the two alarms %s apart, want the 3 s that passed on the clock", d)
	}
}

// TestClockTrust walks the clock through what a Raspberry Pi without a hardware clock
// does: boot at 1970, NTP steps it to the real time, a settle period, a step back by an
// hour, and a clock the kernel calls synchronised.
func TestClockTrust(t *testing.T) {
	real0 := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	kept := real0.Add(-time.Hour) // the floor the last run kept
	c := newClockTrust(5*time.Minute, kept)
	for i, s := range []struct {
		clock   time.Time
		synced  bool
		best    time.Time
		trusted bool
	}{
		{clock: epoch, best: kept},                                   // boot at 1970: the kept floor
		{clock: epoch.Add(time.Second), best: kept.Add(time.Second)}, // advancing with the clock
		{clock: epoch.Add(2 * time.Minute), best: kept.Add(2 * time.Minute)},
		{clock: real0, best: real0},                                   // NTP's step: believed after settling
		{clock: real0.Add(time.Minute), best: real0.Add(time.Minute)}, // still settling
		{clock: real0.Add(2 * time.Minute), best: real0.Add(2 * time.Minute), trusted: true},
		{clock: real0.Add(time.Hour), best: real0.Add(time.Hour)}, // a step forward settles too
		{clock: real0.Add(time.Hour + 2*time.Minute), best: real0.Add(time.Hour + 2*time.Minute), trusted: true},
		{clock: real0.Add(3 * time.Minute), best: real0.Add(time.Hour + 2*time.Minute)}, // back by an hour: before the floor
		{clock: real0.Add(4 * time.Minute), best: real0.Add(time.Hour + 3*time.Minute)},
		{clock: real0.Add(5 * time.Minute), synced: true, best: real0.Add(5 * time.Minute), trusted: true}, // NTP says so
		{clock: time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC), best: real0.Add(5 * time.Minute)},             // beyond the wire
	} {
		best, trusted := c.observe(s.clock, s.synced)
		if !best.Equal(s.best) || trusted != s.trusted {
			t.Errorf("step %d (clock %s): best %s trusted %v, want %s %v", i, s.clock, best, trusted, s.best, s.trusted)
		}
	}
}

// TestClockFloorKept: the floor survives a restart in the spool, so a reboot at 1970
// starts from where the last run got to, not from the sane floor.
func TestClockFloorKept(t *testing.T) {
	cfg := testConfig(t, "tcp://127.0.0.1:1")
	cfg.StatusAddr = ""
	cfg.Home.Devices = []DeviceFile{{Device: "0x0c", Technology: vagt.TechPersonalAlarm, Zigbee: "sos_button"}}
	day := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{t: day}
	g, err := New(cfg, Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		clock.set(day.Add(time.Duration(i) * 30 * time.Second))
		g.tick()
	}
	kill(t, g) // kill -9: the floor as last kept, at most a minute old

	clock.set(epoch)
	if g, err = New(cfg, Deps{Clock: clock}); err != nil {
		t.Fatal(err)
	}
	g.process([]input{{readings: []vagt.Reading{{Device: "0x0c", Kind: vagt.KindButtonPress, Time: epoch, Value: vagt.PressEmergency}}}})
	kill(t, g)
	got := spooledAlarms(t, cfg)
	if len(got) != 1 || got[0].Details[DetailClock] != DetailClockUnsynced {
		t.Fatalf("alarms %+v, want one panic marked unsynced", got)
	}
	if at := got[0].Time; at.Before(day.Add(time.Minute)) || at.After(day.Add(2*time.Minute)) {
		t.Fatalf("alarm at %s, want the kept floor (%s .. %s)", at, day.Add(time.Minute), day.Add(2*time.Minute))
	}
}

// TestAlarmAfterAStep: an alarm raised within the settle time after the clock stepped is
// marked unsynced (its time is the clock's: it is past the floor); once the clock has run
// without a step for the settle time, alarms are not marked.
func TestAlarmAfterAStep(t *testing.T) {
	cfg := testConfig(t, "tcp://127.0.0.1:1")
	cfg.StatusAddr = ""
	day := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := &testClock{t: day}
	g, err := New(cfg, Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	press := func(dev vagt.DeviceID) {
		g.process([]input{{readings: []vagt.Reading{{Device: dev, Kind: vagt.KindButtonPress, Time: clock.Now(), Value: vagt.PressEmergency}}}})
	}
	g.tick()
	press("bu-1:btn") // trusted
	step := day.Add(3 * time.Hour)
	clock.set(step) // NTP steps the clock forward
	g.tick()
	press("bu-2:btn") // not settled
	ticks(g, clock, step.Add(30*time.Second), step.Add(clockSettle))
	press("bu-3:btn") // settled
	kill(t, g)
	got := spooledAlarms(t, cfg)
	if len(got) != 3 {
		t.Fatalf("%d alarms, want 3", len(got))
	}
	for i, want := range []struct {
		at       time.Time
		unsynced bool
	}{{day, false}, {step, true}, {step.Add(clockSettle), false}} {
		a := got[i]
		if !a.Time.Equal(want.at) || (a.Details[DetailClock] == DetailClockUnsynced) != want.unsynced {
			t.Errorf("alarm %d: at %s, details %v; want at %s, unsynced %v", i, a.Time, a.Details, want.at, want.unsynced)
		}
	}
}

// TestTimedAlarmAtEpoch: a timed rule's alarm (a silent device) raised while the clock
// reads 1970 is spooled, moved by what the clock is off by and marked. Before, its 1970
// time failed the alarm's encoding and the alarm was lost with an error in the log.
func TestTimedAlarmAtEpoch(t *testing.T) {
	cfg := testConfig(t, "tcp://127.0.0.1:1")
	cfg.StatusAddr = ""
	cfg.Home.Devices = []DeviceFile{{Device: "0x0d", Technology: vagt.TechDoorSensor, Zigbee: "door", ReportEvery: Duration(time.Minute)}}
	cfg.Home.Rules.SilentFactor = 3
	clock := &testClock{t: epoch}
	g, err := New(cfg, Deps{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ticks(g, clock, epoch, epoch.Add(4*time.Minute))
	kill(t, g)
	got := spooledAlarms(t, cfg)
	if len(got) != 1 || got[0].Type != vagt.AlarmSilentDevice || got[0].Details[DetailClock] != DetailClockUnsynced {
		t.Fatalf("alarms %+v, want one silent device marked unsynced", got)
	}
	// Due 3 min after the start (when the clock read 1970), so 3 min after the floor.
	if want := saneFloor.Add(3 * time.Minute); !got[0].Time.Equal(want) {
		t.Fatalf("alarm at %s, want %s", got[0].Time, want)
	}
}
