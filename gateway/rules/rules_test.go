package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// sink numbers alarms like the spool does.
type sink struct{ alarms []vagt.Alarm }

func (s *sink) AddAlarm(a *vagt.Alarm) (uint64, error) {
	a.Seq = uint64(len(s.alarms) + 1)
	s.alarms = append(s.alarms, *a)
	return a.Seq, nil
}

var cph = mustLoc("Europe/Copenhagen")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// local is a wall-clock time in Copenhagen.
func local(day, hh, mm int) time.Time { return time.Date(2026, 11, day, hh, mm, 0, 0, cph) }

const (
	door vagt.DeviceID = "0x00158d0001a2b3c5"
	bed  vagt.DeviceID = "0x00158d0001a2b3c6"
	btn  vagt.DeviceID = "bu-17:btn"
	temp vagt.DeviceID = "bu-17:temp-1"
	unit vagt.DeviceID = "bu-17"
)

func home() vagt.HomeConfig {
	return vagt.HomeConfig{Gateway: "gw-0042", Version: 1, Municipality: 766,
		Devices: []vagt.DeviceConfig{
			{Device: unit, Technology: vagt.TechPersonalAlarm, ReportEvery: time.Minute},
			{Device: btn, Technology: vagt.TechPersonalAlarm, PanicOnPress: true},
			{Device: door, Technology: vagt.TechDoorSensor, Zigbee: "front_door"},
			{Device: bed, Technology: vagt.TechBedSensor, Zigbee: "bed"},
		},
		Rules: vagt.RuleSettings{
			Night: vagt.Window{From: 22 * 60, To: 7 * 60}, Day: vagt.Window{From: 7 * 60, To: 22 * 60},
			Inactivity: 4 * time.Hour, DoorAtNight: true, BedExit: 20 * time.Minute,
			LowTemperature: 16, LowTemperatureFor: 30 * time.Minute,
			Medication: []vagt.DoseWindow{{Dose: 1, Window: vagt.Window{From: 8 * 60, To: 10 * 60}}},
			LowBattery: 20, SilentFactor: 3,
		}}
}

type scenario struct {
	t     *testing.T
	clock *fakeClock
	sink  *sink
	e     *Engine
}

func newScenario(t *testing.T, start time.Time, mod func(*vagt.HomeConfig)) *scenario {
	t.Helper()
	cfg := home()
	if mod != nil {
		mod(&cfg)
	}
	s := &scenario{t: t, clock: &fakeClock{t: start}, sink: &sink{}}
	var err error
	if s.e, err = New(cfg, Deps{Sink: s.sink, Clock: s.clock}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *scenario) at(t time.Time) *scenario { s.clock.t = t; return s }

func (s *scenario) read(dev vagt.DeviceID, k vagt.Kind, v float64) *scenario {
	s.t.Helper()
	if err := s.e.Observe(vagt.Reading{Device: dev, Kind: k, Time: s.clock.t, Value: v}); err != nil {
		s.t.Fatal(err)
	}
	return s
}

func (s *scenario) tick() *scenario {
	s.t.Helper()
	if err := s.e.Tick(); err != nil {
		s.t.Fatal(err)
	}
	return s
}

// events renders the alarms so far as "+type@device" (raise) and "-type@device/seq"
// (clear of the raise with that seq).
func (s *scenario) events() string {
	var out []string
	for _, a := range s.sink.alarms {
		if a.Clears == 0 {
			out = append(out, fmt.Sprintf("+%s@%s", a.Type, a.Device))
		} else {
			out = append(out, fmt.Sprintf("-%s@%s/%d", a.Type, a.Device, a.Clears))
		}
	}
	return fmt.Sprint(out)
}

func (s *scenario) want(w string) {
	s.t.Helper()
	if got := s.events(); got != w {
		s.t.Fatalf("alarms %s\nwant   %s", got, w)
	}
}

func TestDoorAtNight(t *testing.T) {
	s := newScenario(t, local(23, 12, 0), func(c *vagt.HomeConfig) { c.Rules.SilentFactor = 0; c.Rules.Inactivity = 0 })
	s.at(local(23, 15, 0)).read(door, vagt.KindDoorOpen, 1).read(door, vagt.KindDoorOpen, 0)
	s.want("[]") // the afternoon is no night
	s.at(local(24, 3, 0)).read(door, vagt.KindDoorOpen, 1)
	s.at(local(24, 3, 1)).read(door, vagt.KindDoorOpen, 1) // reported again: same episode
	s.at(local(24, 3, 4)).read(door, vagt.KindDoorOpen, 0)
	s.want("[+door_at_night@" + string(door) + " -door_at_night@" + string(door) + "/1]")
	if a := s.sink.alarms[0]; a.Priority != vagt.PriorityHigh || a.Details["local_time"] != "03:00" {
		t.Fatalf("raise %+v", a)
	}
	s.at(local(24, 6, 59)).read(door, vagt.KindDoorOpen, 1)
	s.at(local(24, 7, 0)).read(door, vagt.KindDoorOpen, 0).read(door, vagt.KindDoorOpen, 1) // 07:00 is day
	if n := len(s.sink.alarms); n != 4 {
		t.Fatalf("%d alarms: %s", n, s.events())
	}
}

func TestNightWindowInTimeZoneAndSummerTime(t *testing.T) {
	// 20:30 UTC in July is 22:30 in Copenhagen (CEST): night. In UTC it would not be.
	s := newScenario(t, time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), func(c *vagt.HomeConfig) { c.Rules.SilentFactor = 0; c.Rules.Inactivity = 0 })
	s.at(time.Date(2026, 7, 1, 20, 30, 0, 0, time.UTC)).read(door, vagt.KindDoorOpen, 1)
	s.want("[+door_at_night@" + string(door) + "]")
	// Greenland (UTC-2 in summer): 20:30 UTC is 18:30, no night.
	g := newScenario(t, time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), func(c *vagt.HomeConfig) {
		c.TimeZone, c.Rules.SilentFactor, c.Rules.Inactivity = "America/Nuuk", 0, 0
	})
	g.at(time.Date(2026, 7, 1, 20, 30, 0, 0, time.UTC)).read(door, vagt.KindDoorOpen, 1)
	g.want("[]")
}

func TestBedExitWithoutReturn(t *testing.T) {
	s := newScenario(t, local(23, 21, 0), func(c *vagt.HomeConfig) { c.Rules.SilentFactor = 0 })
	s.at(local(24, 2, 0)).read(bed, vagt.KindBedOccupied, 0)
	s.at(local(24, 2, 10)).tick().read(bed, vagt.KindBedOccupied, 1)
	s.at(local(24, 2, 40)).tick()
	s.want("[]") // back within 20 minutes
	s.at(local(24, 3, 0)).read(bed, vagt.KindBedOccupied, 0)
	s.at(local(24, 3, 19)).tick()
	s.want("[]")
	s.at(local(24, 3, 20)).tick()
	s.at(local(24, 3, 30)).tick()
	s.at(local(24, 3, 35)).read(bed, vagt.KindBedOccupied, 1)
	s.want("[+bed_exit@" + string(bed) + " -bed_exit@" + string(bed) + "/1]")
}

func TestInactivityWithinDayWindow(t *testing.T) {
	s := newScenario(t, local(23, 7, 30), func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Medication = 0, nil })
	s.at(local(23, 8, 0)).read(unit+":pir-2", vagt.KindMotion, 1)
	s.at(local(23, 8, 5)).read(unit+":pir-2", vagt.KindMotion, 0) // no motion is no activity
	s.at(local(23, 11, 59)).tick()
	s.want("[]")
	s.at(local(23, 12, 0)).tick()
	s.at(local(23, 12, 30)).tick()
	s.at(local(23, 12, 31)).read(unit+":pir-2", vagt.KindMotion, 1)
	s.want("[+inactivity@gw-0042 -inactivity@gw-0042/1]")
	// Evening activity at 21:00, then the night: sleeping is not inactivity, and the
	// clock starts again at 07:00.
	s.at(local(23, 21, 0)).read(door, vagt.KindDoorOpen, 0)
	s.at(local(24, 3, 0)).tick()
	s.at(local(24, 10, 59)).tick()
	if n := len(s.sink.alarms); n != 2 {
		t.Fatalf("alarms overnight: %s", s.events())
	}
	s.at(local(24, 11, 0)).tick()
	if n := len(s.sink.alarms); n != 3 {
		t.Fatalf("no inactivity at 11:00 after a silent morning: %s", s.events())
	}
}

func TestLowTemperatureForDuration(t *testing.T) {
	s := newScenario(t, local(23, 12, 0), func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Inactivity = 0, 0 })
	s.read(temp, vagt.KindTemperature, 15.2)
	s.at(local(23, 12, 20)).read(temp, vagt.KindTemperature, 16.2).tick() // above, within hysteresis: still cold
	s.at(local(23, 12, 29)).tick()
	s.want("[]")
	s.at(local(23, 12, 30)).tick().tick()
	s.at(local(23, 13, 0)).read(temp, vagt.KindTemperature, 16.4) // below threshold + 0.5: not yet clear
	s.at(local(23, 13, 5)).read(temp, vagt.KindTemperature, 17.0)
	s.want("[+low_temperature@" + string(temp) + " -low_temperature@" + string(temp) + "/1]")
}

func TestMissedMedication(t *testing.T) {
	s := newScenario(t, local(23, 7, 0), func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Inactivity = 0, 0 })
	s.at(local(23, 9, 0)).read(unit+":med-1", vagt.KindMedicationTaken, 1)
	s.at(local(23, 10, 1)).tick()
	s.want("[]")
	s.at(local(24, 9, 59)).tick()
	s.want("[]")
	s.at(local(24, 10, 0)).tick()
	s.at(local(24, 10, 15)).tick()
	s.at(local(24, 10, 30)).read(unit+":med-1", vagt.KindMedicationTaken, 1).tick()
	s.want("[+missed_medication@gw-0042 -missed_medication@gw-0042/1]")
	if s.sink.alarms[0].Details["dose"] != "1" {
		t.Fatalf("details %v", s.sink.alarms[0].Details)
	}
}

func TestLowBatteryOncePerEpisode(t *testing.T) {
	s := newScenario(t, local(23, 12, 0), func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Inactivity = 0, 0 })
	s.read(door, vagt.KindBattery, 15).read(door, vagt.KindBattery, 14).read(door, vagt.KindBattery, 22)
	s.want("[+low_battery@" + string(door) + "]")
	s.read(door, vagt.KindBattery, 100)
	s.read(bed, vagt.KindBatteryLow, 1).read(bed, vagt.KindBatteryLow, 1).read(bed, vagt.KindBatteryLow, 0)
	s.want("[+low_battery@" + string(door) + " -low_battery@" + string(door) + "/1 +low_battery@" + string(bed) + " -low_battery@" + string(bed) + "/3]")
	if s.sink.alarms[0].Priority != vagt.PriorityTechnical {
		t.Fatal("low battery is technical")
	}
}

func TestSilentDeviceAndAvailability(t *testing.T) {
	s := newScenario(t, local(23, 12, 0), func(c *vagt.HomeConfig) { c.Rules.Inactivity = 0 })
	s.at(local(23, 12, 3)).tick()
	s.want("[]")
	s.at(local(23, 12, 3).Add(time.Second)).tick() // 3 × 60 s exceeded
	s.at(local(23, 12, 10)).tick()
	if err := s.e.Seen(unit, nil); err != nil {
		t.Fatal(err)
	}
	s.want("[+silent_device@bu-17 -silent_device@bu-17/1]")
	off, on := false, true
	s.e.Seen(door, &off)
	s.e.Seen(door, &off)
	s.e.Seen(door, &on)
	s.want("[+silent_device@bu-17 -silent_device@bu-17/1 +silent_device@" + string(door) + " -silent_device@" + string(door) + "/3]")
}

func TestPanicFallAndDeviceAlarms(t *testing.T) {
	s := newScenario(t, local(23, 3, 12), func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Inactivity = 0, 0 })
	zb := vagt.DeviceID("0x00158d0001a2b3ff") // a Zigbee button: only emergency is a panic
	s.read(zb, vagt.KindButtonPress, vagt.PressSingle)
	s.want("[]")
	s.read(zb, vagt.KindButtonPress, vagt.PressEmergency)
	s.at(local(23, 3, 13)).read(zb, vagt.KindButtonPress, vagt.PressEmergency) // pressed again: same episode
	s.read(btn, vagt.KindButtonPress, vagt.PressSingle)                        // the pendant: any press
	s.read(unit+":fall-1", vagt.KindFall, 1)
	s.at(local(23, 3, 20)).read(zb, vagt.KindButtonPress, vagt.PressEmergency) // minutes later: help again
	s.read(unit+":smoke-1", vagt.KindSmoke, 1).read(unit+":smoke-1", vagt.KindSmoke, 1).read(unit+":smoke-1", vagt.KindSmoke, 0)
	s.want(fmt.Sprintf("[+panic@%s +panic@%s +fall@bu-17:fall-1 +panic@%s +smoke@bu-17:smoke-1 -smoke@bu-17:smoke-1/5]", zb, btn, zb))
	if a := s.sink.alarms[0]; a.Priority != vagt.PriorityCritical {
		t.Fatalf("panic %+v", a)
	}
	if s.e.OpenEpisodes() != 0 {
		t.Fatalf("%d open episodes: a momentary alarm has no clear", s.e.OpenEpisodes())
	}
}

func TestBadTimeZone(t *testing.T) {
	cfg := home()
	cfg.TimeZone = "Mars/Olympus"
	if _, err := New(cfg, Deps{Sink: &sink{}, Clock: &fakeClock{t: local(23, 1, 0)}}); err == nil {
		t.Fatal("an unknown time zone was accepted")
	}
}

// TestEpisodesSurviveARestart: a door opened at night before a restart is cleared, with the
// raise's seq, when it closes after the restart; and not raised twice meanwhile.
func TestEpisodesSurviveARestart(t *testing.T) {
	s := newScenario(t, local(23, 23, 0), func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Inactivity = 0, 0 })
	s.at(local(24, 3, 0)).read(door, vagt.KindDoorOpen, 1)
	if !s.e.Changed() || s.e.Changed() {
		t.Fatal("Changed does not report the raise once")
	}
	saved := s.e.Episodes()
	if len(saved) != 1 || saved[0].Seq != 1 {
		t.Fatalf("episodes %+v", saved)
	}
	again, err := New(home(), Deps{Sink: s.sink, Clock: s.clock})
	if err != nil {
		t.Fatal(err)
	}
	again.Restore(saved)
	s.e = again
	s.at(local(24, 3, 2)).read(door, vagt.KindDoorOpen, 1)
	s.at(local(24, 3, 5)).read(door, vagt.KindDoorOpen, 0)
	s.want("[+door_at_night@" + string(door) + " -door_at_night@" + string(door) + "/1]")
}
