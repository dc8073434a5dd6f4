package rules

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// TestAbsenceSilencesRoutineRules: while the citizen is away (in hospital from the night
// of the 23rd until the 25th at 14:00) the door at night, bed exit, inactivity and missed
// medication raise nothing; panic, fall, smoke and water raise at once. Back home, the
// routine timers start from the return: no inactivity alarm for the hours before it (it
// comes 4 h after the return), no bed exit for the night the citizen left, no missed dose
// for a window spent away; the next day's window is watched again.
func TestAbsenceSilencesRoutineRules(t *testing.T) {
	away := vagt.Absence{From: local(23, 0, 30), Until: local(25, 14, 0)}
	s := newScenario(t, local(22, 20, 0), func(c *vagt.HomeConfig) {
		c.Rules.SilentFactor = 0
		c.Absence = away
	})
	s.at(local(23, 0, 45)).read(bed, vagt.KindBedOccupied, 0)
	s.at(local(23, 1, 0)).read(door, vagt.KindDoorOpen, 1).read(door, vagt.KindDoorOpen, 0)
	s.at(local(23, 1, 30)).tick()
	s.at(local(23, 12, 0)).tick() // inactivity due 11:00, dose window 08-10 passed
	s.want("[]")

	s.at(local(24, 9, 0)).read(btn, vagt.KindButtonPress, 1) // a press on a pendant: a panic
	s.read(unit+":smoke", vagt.KindSmoke, 1).read(unit+":water", vagt.KindWaterLeak, 1).read(unit+":fall", vagt.KindFall, 1)
	s.want("[+panic@bu-17:btn +smoke@bu-17:smoke +water_leak@bu-17:water +fall@bu-17:fall]")
	n := len(s.sink.alarms)

	s.at(local(25, 14, 0)).tick() // back: the bed-exit episode began while away
	s.at(local(25, 17, 59)).tick()
	if got := len(s.sink.alarms); got != n {
		t.Fatalf("after the return: %s", s.events())
	}
	s.at(local(25, 18, 0)).tick()
	s.at(local(26, 10, 1)).tick()
	s.want("[+panic@bu-17:btn +smoke@bu-17:smoke +water_leak@bu-17:water +fall@bu-17:fall +inactivity@gw-0042 +missed_medication@gw-0042]")
	if a := s.sink.alarms[n]; !a.Time.Equal(local(25, 18, 0)) {
		t.Fatalf("inactivity at %v, want 4 h after the return", a.Time)
	}

	// The door at night again, the next night: the absence is over.
	s.at(local(26, 23, 0)).read(door, vagt.KindDoorOpen, 1)
	if got := s.sink.alarms[len(s.sink.alarms)-1]; got.Type != vagt.AlarmDoorAtNight {
		t.Fatalf("door at night after the absence: %s", s.events())
	}
}

// TestAbsenceClockUnset: a gateway whose clock reads 1970 (a Raspberry Pi before NTP) is
// outside every absence, so its routine rules stay on: it errs towards an alarm.
func TestAbsenceClockUnset(t *testing.T) {
	s := newScenario(t, time.Date(1970, 1, 1, 1, 0, 0, 0, cph), func(c *vagt.HomeConfig) {
		c.Absence = vagt.Absence{From: local(23, 0, 0), Until: local(30, 0, 0)}
	})
	s.read(door, vagt.KindDoorOpen, 1)
	s.want("[+door_at_night@" + string(door) + "]")
}
