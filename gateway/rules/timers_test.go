package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// disk is what a gateway keeps in its spool: written as the gateway does (episodes when
// they change, timers when TimersDue), so a restart from it is a kill -9.
type disk struct {
	episodes []Episode
	timers   []byte
	writes   int // timer states kept
}

func (s *scenario) keep(d *disk) {
	s.t.Helper()
	if s.e.Changed() {
		d.episodes = s.e.Episodes()
	}
	if s.e.TimersDue() {
		data, err := EncodeTimers(s.e.Timers())
		if err != nil {
			s.t.Fatal(err)
		}
		d.timers, d.writes = data, d.writes+1
	}
}

// restart is a kill -9 and a start at the clock's time: a new engine from what the disk holds.
func (s *scenario) restart(d *disk, cfg vagt.HomeConfig) *scenario {
	s.t.Helper()
	e, err := New(cfg, Deps{Sink: s.sink, Clock: s.clock})
	if err != nil {
		s.t.Fatal(err)
	}
	e.Restore(d.episodes)
	if d.timers != nil {
		t, err := DecodeTimers(d.timers)
		if err != nil {
			s.t.Fatal(err)
		}
		e.RestoreTimers(t)
	}
	s.e = e
	return s
}

// TestTimersResumeAfterRestart: for each timed rule, the condition starts, the gateway is
// killed and restarted mid-timer, and the alarm comes at the original due time (nothing a
// second before it, raised a second after it, with the due time as the alarm's time); and
// when the gateway was off past the due time, the alarm is raised at the first tick, again
// with the due time. Without the kept timers each would come one full period after the
// restart (and the missed dose never).
func TestTimersResumeAfterRestart(t *testing.T) {
	for _, c := range []struct {
		name             string
		start            time.Time
		mod              func(*vagt.HomeConfig)
		at               time.Time // the condition starts
		begin            func(*scenario)
		restart, due     time.Time
		want             string
		extraDetailsWant string
	}{
		{name: "bed exit", start: local(23, 21, 0), mod: func(c *vagt.HomeConfig) { c.Rules.SilentFactor = 0 },
			at: local(24, 2, 0), begin: func(s *scenario) { s.read(bed, vagt.KindBedOccupied, 0) },
			restart: local(24, 2, 10), due: local(24, 2, 20), want: "+bed_exit@" + string(bed)},
		{name: "inactivity", start: local(23, 7, 30), mod: func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Medication = 0, nil },
			at: local(23, 8, 0), begin: func(s *scenario) { s.read(unit+":pir-2", vagt.KindMotion, 1) },
			restart: local(23, 10, 0), due: local(23, 12, 0), want: "+inactivity@gw-0042"},
		{name: "low temperature", start: local(23, 11, 0), mod: func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Inactivity = 0, 0 },
			at: local(23, 12, 0), begin: func(s *scenario) { s.read(temp, vagt.KindTemperature, 15.2) },
			restart: local(23, 12, 10), due: local(23, 12, 30), want: "+low_temperature@" + string(temp)},
		{name: "missed medication", start: local(23, 7, 0), mod: func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Inactivity = 0, 0 },
			at: local(23, 9, 0), begin: func(s *scenario) { s.read(unit+":med-1", vagt.KindMedicationTaken, 1) },
			restart: local(24, 9, 0), due: local(24, 10, 0), want: "+missed_medication@gw-0042"},
	} {
		for _, offPastDue := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/off past due %t", c.name, offPastDue), func(t *testing.T) {
				s := newScenario(t, c.start, c.mod)
				cfg := home()
				c.mod(&cfg)
				var d disk
				s.keep(&d)
				s.at(c.at)
				c.begin(s)
				s.keep(&d)
				s.at(c.restart.Add(-time.Second)).tick()
				s.keep(&d)
				s.want("[]")
				if !offPastDue {
					s.at(c.restart).restart(&d, cfg).tick()
					s.at(c.due.Add(-time.Second)).tick()
					s.want("[]")
				}
				s.at(c.due.Add(time.Second))
				if offPastDue {
					s.at(c.due.Add(25*time.Minute)).restart(&d, cfg)
				}
				s.tick()
				s.want("[" + c.want + "]")
				if got := s.sink.alarms[0].Time; !got.Equal(c.due) {
					t.Fatalf("alarm time %s, want the due time %s", got, c.due)
				}
			})
		}
	}
}

// TestInactivityDueWhileOffRaisedAtNight: no activity from 14:00, the gateway off from
// 17:00 to 23:00: the inactivity due at 18:00 is raised at the restart, in the night,
// rather than never; a gateway running through the evening with activity raises nothing.
func TestInactivityDueWhileOffRaisedAtNight(t *testing.T) {
	mod := func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Medication = 0, nil }
	cfg := home()
	mod(&cfg)
	s := newScenario(t, local(23, 13, 0), mod)
	var d disk
	s.keep(&d)
	s.at(local(23, 14, 0)).read(unit+":pir-2", vagt.KindMotion, 1).keep(&d)
	s.at(local(23, 17, 0)).tick().keep(&d)
	s.at(local(23, 23, 0)).restart(&d, cfg).tick()
	s.want("[+inactivity@gw-0042]")
	if got := s.sink.alarms[0].Time; !got.Equal(local(23, 18, 0)) {
		t.Fatalf("alarm time %s, want 18:00", got)
	}
	r := newScenario(t, local(23, 13, 0), mod)
	r.at(local(23, 14, 0)).read(unit+":pir-2", vagt.KindMotion, 1).tick()
	r.at(local(23, 18, 30)).read(unit+":pir-2", vagt.KindMotion, 1).tick() // due 22:30: after the window
	r.at(local(23, 23, 0)).tick()
	r.at(local(24, 6, 59)).tick()
	r.want("[]")
}

// TestSilentDeviceAcrossARestart: the time the gateway was off is not silence (nobody
// listened): after a restart a device is silent once it has been unheard for its limit of
// listening time, before and after the restart together; and a restart longer than the
// limit raises no device at all (no flood).
func TestSilentDeviceAcrossARestart(t *testing.T) {
	mod := func(c *vagt.HomeConfig) { c.Rules.Inactivity, c.Rules.Medication = 0, nil }
	cfg := home()
	mod(&cfg)
	s := newScenario(t, local(23, 11, 0), mod)
	var d disk
	s.keep(&d)
	s.at(local(23, 12, 0))
	if err := s.e.Seen(unit, nil); err != nil {
		t.Fatal(err)
	}
	s.keep(&d)
	s.at(local(23, 12, 2)).tick().keep(&d) // 2 of its 3 minutes heard nothing; then off
	s.at(local(23, 12, 30)).restart(&d, cfg).tick()
	s.at(local(23, 12, 31)).tick()
	s.want("[]")
	s.at(local(23, 12, 31).Add(time.Second)).tick()
	s.want("[+silent_device@bu-17]")
	if got := s.sink.alarms[0].Time; !got.Equal(local(23, 12, 31)) {
		t.Fatalf("alarm time %s, want 12:31 (3 minutes listened)", got)
	}
}

// TestMissedDoseWhileOffSaysSo: a dose window that passed with the gateway off raises the
// missed dose at start, and says which part was not watched.
func TestMissedDoseWhileOffSaysSo(t *testing.T) {
	s := newScenario(t, local(23, 7, 0), func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Inactivity = 0, 0 })
	cfg := home()
	cfg.Rules.SilentFactor, cfg.Rules.Inactivity = 0, 0
	var d disk
	s.keep(&d)
	s.at(local(23, 9, 30)).tick().keep(&d)
	s.at(local(23, 11, 0)).restart(&d, cfg).tick()
	s.want("[+missed_medication@gw-0042]")
	if got := s.sink.alarms[0].Details["gateway_off"]; got != "09:30-11:00" {
		t.Fatalf("gateway_off %q", got)
	}
}

// TestInactivityInARebootLoop: a gateway rebooting every 20 minutes still raises
// inactivity 4 hours after the last activity, once.
func TestInactivityInARebootLoop(t *testing.T) {
	mod := func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Medication = 0, nil }
	cfg := home()
	mod(&cfg)
	s := newScenario(t, local(23, 7, 30), mod)
	var d disk
	s.keep(&d)
	s.at(local(23, 8, 0)).read(unit+":pir-2", vagt.KindMotion, 1).keep(&d)
	for at := local(23, 8, 20); at.Before(local(23, 13, 0)); at = at.Add(20 * time.Minute) {
		s.at(at).restart(&d, cfg).tick().keep(&d)
		s.at(at.Add(10 * time.Minute)).tick().keep(&d)
	}
	s.want("[+inactivity@gw-0042]")
	if got := s.sink.alarms[0].Time; !got.Equal(local(23, 12, 0)) {
		t.Fatalf("alarm time %s, want 12:00", got)
	}
}

// TestActivityKeptCoarsely: motion every 10 s for an hour costs about one timer write a
// minute, and a kill -9 loses at most a minute of it: inactivity after the restart is at
// most a minute early, never late.
func TestActivityKeptCoarsely(t *testing.T) {
	mod := func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Medication = 0, nil }
	cfg := home()
	mod(&cfg)
	s := newScenario(t, local(23, 7, 30), mod)
	var d disk
	s.keep(&d)
	last := local(23, 8, 0)
	for at := last; !at.After(local(23, 9, 0).Add(35 * time.Second)); at = at.Add(10 * time.Second) {
		s.at(at).read(unit+":pir-2", vagt.KindMotion, 1).keep(&d)
		last = at
	}
	if d.writes > 63 {
		t.Fatalf("%d timer writes for an hour of motion every 10 s", d.writes)
	}
	t.Logf("%d timer writes for 367 readings", d.writes)
	s.at(local(23, 9, 10)).restart(&d, cfg)
	due := last.Add(cfg.Rules.Inactivity)
	s.at(due.Add(-keepEvery - time.Second)).tick()
	s.want("[]")
	s.at(due).tick()
	s.want("[+inactivity@gw-0042]")
	if got := s.sink.alarms[0].Time; got.After(due) || due.Sub(got) > keepEvery {
		t.Fatalf("alarm time %s, due %s", got, due)
	}
}

// TestActivityAfterAQuietSpellKeptAtOnce: motion seconds after the state was kept, after
// half an hour without any, is kept at once: a kill -9 right after it loses none of it.
func TestActivityAfterAQuietSpellKeptAtOnce(t *testing.T) {
	mod := func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Medication = 0, nil }
	cfg := home()
	mod(&cfg)
	s := newScenario(t, local(23, 7, 30), mod)
	var d disk
	s.keep(&d)
	for at := local(23, 7, 31); at.Before(local(23, 8, 0)); at = at.Add(10 * time.Second) {
		s.at(at).tick().keep(&d)
	}
	s.at(local(23, 8, 0)).read(unit+":pir-2", vagt.KindMotion, 1).keep(&d)
	s.at(local(23, 8, 0).Add(20*time.Second)).restart(&d, cfg)
	s.at(local(23, 12, 0).Add(-time.Second)).tick()
	s.want("[]")
	s.at(local(23, 12, 0)).tick()
	s.want("[+inactivity@gw-0042]")
}

// TestClockBackwardsAfterRestart: a box without RTC restarts at 1970 while someone is out
// of bed; no alarm floods in, the bed exit still comes after 20 minutes out of bed in all
// (10 before the restart, 10 after), and when NTP sets the clock nothing floods either.
func TestClockBackwardsAfterRestart(t *testing.T) {
	cfg := home()
	cfg.Rules.Medication = nil
	s := newScenario(t, local(23, 21, 0), func(c *vagt.HomeConfig) { c.Rules.Medication = nil })
	s.e.DetectClockSteps(5 * time.Minute)
	var d disk
	s.keep(&d)
	report := func() {
		t.Helper()
		if err := s.e.Seen(unit, nil); err != nil {
			t.Fatal(err)
		}
		s.tick().keep(&d)
	}
	s.at(local(24, 1, 50))
	report()
	s.read(bed, vagt.KindBedOccupied, 0).keep(&d)
	for m := 1; m <= 10; m++ {
		s.at(local(24, 1, 50+m))
		report()
	}
	epoch := time.Unix(0, 0).UTC() // 01:00 in Copenhagen: night, no inactivity
	s.at(epoch).restart(&d, cfg)
	s.e.DetectClockSteps(5 * time.Minute)
	s.tick()
	for m := 1; m < 10; m++ {
		s.at(epoch.Add(time.Duration(m) * time.Minute))
		report()
	}
	s.want("[]")
	s.at(epoch.Add(10*time.Minute + time.Second))
	report()
	s.want("[+bed_exit@" + string(bed) + "]")
	// NTP: the clock jumps 56 years ahead, to the real time.
	s.at(local(24, 2, 40))
	report()
	s.at(local(24, 2, 41))
	report()
	s.want("[+bed_exit@" + string(bed) + "]")
	// And the state kept after the step is sane: a restart now is no flood either.
	s.at(local(24, 2, 42)).restart(&d, cfg).tick()
	s.read(bed, vagt.KindBedOccupied, 1)
	s.want("[+bed_exit@" + string(bed) + " -bed_exit@" + string(bed) + "/1]")
}

// TestClockBackwardsWhileRunning: a clock set back an hour while someone is cold neither
// raises at once nor loses the alarm: it comes after 30 minutes cold in all.
func TestClockBackwardsWhileRunning(t *testing.T) {
	s := newScenario(t, local(23, 11, 0), func(c *vagt.HomeConfig) { c.Rules.SilentFactor, c.Rules.Inactivity = 0, 0 })
	s.e.DetectClockSteps(5 * time.Minute)
	s.at(local(23, 12, 0)).read(temp, vagt.KindTemperature, 15).tick()
	for m := 1; m <= 20; m++ { // a tick a minute: time passing, not a step
		s.at(local(23, 12, m)).tick()
	}
	s.at(local(23, 11, 20)).tick() // set back an hour: 20 min cold so far
	for m := 21; m < 30; m++ {
		s.at(local(23, 11, m)).tick()
	}
	s.want("[]")
	s.at(local(23, 11, 30)).tick()
	s.want("[+low_temperature@" + string(temp) + "]")
}

// TestBadTimerState: a kept state that is garbage, of another version or inconsistent is
// refused with ErrTimers and never panics; an engine that restores nothing starts afresh
// and raises nothing false.
func TestBadTimerState(t *testing.T) {
	good := `{"v":1,"saved_at":"2026-11-24T02:10:00Z","started":"2026-11-23T20:00:00Z","last_activity":"2026-11-24T02:00:00Z"}`
	if _, err := DecodeTimers([]byte(good)); err != nil {
		t.Fatalf("a good state refused: %v", err)
	}
	for name, data := range map[string]string{
		"empty":             ``,
		"not json":          `\x00\xffgarbage`,
		"null":              `null`,
		"a list":            `[]`,
		"truncated":         good[:40],
		"another version":   strings.Replace(good, `"v":1`, `"v":2`, 1),
		"no version":        strings.Replace(good, `"v":1,`, ``, 1),
		"no started":        strings.Replace(good, `"started":"2026-11-23T20:00:00Z",`, ``, 1),
		"no activity":       strings.Replace(good, `,"last_activity":"2026-11-24T02:00:00Z"`, ``, 1),
		"started after":     strings.Replace(good, `2026-11-23T20:00:00Z`, `2026-11-25T20:00:00Z`, 1),
		"bad device":        strings.Replace(good, `}`, `,"bed_out_since":{"a b":"2026-11-24T02:00:00Z"}}`, 1),
		"since after save":  strings.Replace(good, `}`, `,"cold_since":{"bu-17:temp-1":"2026-11-24T03:00:00Z"}}`, 1),
		"zero since":        strings.Replace(good, `}`, `,"last_seen":{"bu-17":"0001-01-01T00:00:00Z"}}`, 1),
		"bad dose":          strings.Replace(good, `}`, `,"taken_at":{"one":"2026-11-24T02:00:00Z"}}`, 1),
		"time not a string": strings.Replace(good, `"2026-11-24T02:00:00Z"`, `17`, 1),
	} {
		if _, err := DecodeTimers([]byte(data)); !errors.Is(err, ErrTimers) {
			t.Errorf("%s: %v, want ErrTimers", name, err)
		}
	}
	// A gateway that could not read its state starts afresh: nothing at start.
	s := newScenario(t, local(24, 12, 0), nil)
	s.tick()
	s.want("[]")
}

// FuzzDecodeTimers: no input panics, and what is accepted restores without panicking.
func FuzzDecodeTimers(f *testing.F) {
	f.Add([]byte(`{"v":1,"saved_at":"2026-11-24T02:10:00Z","started":"2026-11-23T20:00:00Z","last_activity":"2026-11-24T02:00:00Z","bed_out_since":{"bed":"2026-11-24T02:00:00Z"},"taken_at":{"1":"2026-11-23T09:00:00Z"}}`))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, err := DecodeTimers(data)
		if err != nil {
			return
		}
		e, err := New(home(), Deps{Sink: &sink{}, Clock: &fakeClock{t: local(24, 2, 30)}})
		if err != nil {
			t.Fatal(err)
		}
		e.RestoreTimers(tm)
		_ = e.Tick()
	})
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// TestTimesAreWallClockOnly: with the real clock (whose times carry a monotonic reading)
// every time the engine keeps is wall clock only, like the ones restored from the spool;
// otherwise Sub would measure in-process timers by the monotonic clock and restored ones
// by the wall clock, and a clock step would move one kind and not the other.
func TestTimesAreWallClockOnly(t *testing.T) {
	e, err := New(home(), Deps{Sink: &sink{}, Clock: realClock{}})
	if err != nil {
		t.Fatal(err)
	}
	e.DetectClockSteps(5 * time.Minute)
	for _, r := range []vagt.Reading{{Device: bed, Kind: vagt.KindBedOccupied}, {Device: temp, Kind: vagt.KindTemperature, Value: 10},
		{Device: unit + ":pir-2", Kind: vagt.KindMotion, Value: 1}, {Device: unit + ":med-1", Kind: vagt.KindMedicationTaken, Value: 1}} {
		if err := e.Observe(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Tick(); err != nil {
		t.Fatal(err)
	}
	times := []time.Time{e.started, e.lastActivity, e.lastNow, e.keptAt}
	for _, m := range []map[vagt.DeviceID]time.Time{e.lastSeen, e.bedOutSince, e.coldSince} {
		for _, v := range m {
			times = append(times, v)
		}
	}
	for _, v := range e.takenAt {
		times = append(times, v)
	}
	for i, v := range times {
		if v != v.Round(0) {
			t.Errorf("time %d (%s) carries a monotonic reading", i, v)
		}
	}
	if len(times) < 8 {
		t.Fatalf("only %d times checked", len(times))
	}
}
