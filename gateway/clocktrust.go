package gateway

import (
	"strconv"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/rules"
	"github.com/vagt-dk/vagt/gateway/spool"
)

// An alarm never waits for a good clock and is never refused for a bad one. A Raspberry Pi
// without a hardware clock boots at 1970 and docs/deploy-raspberry-pi.md says not to wait
// for NTP, so the gateway must tell a clock it can believe from one it cannot, and give an
// alarm raised under the second the best time it has, marked so (docs/wire.md, "An alarm
// whose time the gateway cannot trust").

// saneFloor: no clock reading before this is believed, whatever the spool says (this
// software did not exist earlier). Like systemd-timesyncd's build-time floor; move it
// forward now and then with a release.
var saneFloor = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// wireEnd: the wire format carries times before 2100; a clock reading at or after it is
// as wrong as 1970.
var wireEnd = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// clockSettle: after a step of the clock (NTP setting it, fake-hwclock restoring it, a
// second step of chrony's makestep) the clock is not believed until it has run this long
// without another step, unless the kernel says it is synchronised.
const clockSettle = 2 * time.Minute

// floorKeepEvery bounds the writes of the floor to the spool: after a kill -9 the floor is
// at most this much older than the time the gateway had reached.
const floorKeepEvery = time.Minute

// stateClockFloor names the clock floor in the spool (Unix ms, decimal).
const stateClockFloor = "clock_floor"

// Details key and value an alarm carries when the gateway could not trust its clock.
const (
	DetailClock         = "clock"
	DetailClockUnsynced = "unsynced"
)

// syncedClock is a Clock that can tell whether the system clock is synchronised to a time
// source (the kernel's STA_UNSYNC flag, cleared by an NTP client).
type syncedClock interface{ Synced() bool }

// clockTrust watches the clock and keeps a floor: the latest time the gateway knows to
// have passed, kept in the spool across restarts. A clock reading is trusted when it is
// within the wire's range, not before the floor, and not within clockSettle of a step —
// or the kernel says the clock is synchronised. While the clock is before the floor (or
// out of range) the best time is the floor, advancing with the clock from the moment it
// was found wrong: a lower bound of the real time that never goes back.
type clockTrust struct {
	stepLimit time.Duration

	mu         sync.Mutex
	floor      time.Time // latest time known to have passed
	keptFloor  time.Time // floor as last written to the spool
	last       time.Time // the clock at the last observation
	stepAt     time.Time // the clock just after the last step seen (zero: none)
	estimating bool      // the clock is before the floor or out of range: best = clock + offset
	offset     time.Duration
	trusted    bool
	steps      uint64 // steps seen
	unsynced   uint64 // alarms marked unsynced
}

func newClockTrust(stepLimit time.Duration, kept time.Time) *clockTrust {
	c := &clockTrust{stepLimit: stepLimit, floor: saneFloor}
	if kept.After(c.floor) && kept.Before(wireEnd) {
		c.floor = kept
	}
	c.keptFloor = c.floor
	return c
}

// observe reads a clock reading (and whether the kernel calls the clock synchronised) and
// returns the best time the gateway has and whether it trusts the reading.
func (c *clockTrust) observe(now time.Time, synced bool) (best time.Time, trusted bool) {
	now = now.Round(0) // wall clock only: a step must show (see rules.Engine.wall)
	c.mu.Lock()
	defer c.mu.Unlock()
	stepped := !c.last.IsZero() && (now.Before(c.last) || now.Sub(c.last) > c.stepLimit)
	if stepped {
		c.stepAt = now
		c.steps++
	}
	c.last = now
	inRange := !now.Before(saneFloor) && now.Before(wireEnd)
	switch {
	case inRange && synced:
		// The kernel says an NTP client set it: believe it, also below a floor that a
		// clock once set into the future left behind.
		c.estimating, c.offset, c.trusted = false, 0, true
		if now.Before(c.floor) {
			c.floor, c.keptFloor = now, time.Time{}
		}
	case inRange && !now.Before(c.floor):
		c.estimating, c.offset = false, 0
		c.trusted = c.stepAt.IsZero() || now.Sub(c.stepAt) >= clockSettle
	default:
		if !c.estimating || stepped {
			// From here on the best time is the floor, advancing with the clock.
			c.estimating, c.offset = true, c.floor.Sub(now)
		}
		c.trusted = false
	}
	best = now.Add(c.offset)
	if best.After(c.floor) {
		c.floor = best
	}
	return best, c.trusted
}

// bestTime returns the best time the gateway has for a clock reading, without observing
// it (the pipeline's tick does): the clock itself while it is believed, else the estimate
// from the floor; never a time the wire cannot carry (the status's own time and a device's
// last seen must encode even at 1970, or no status reaches the platform).
func (c *clockTrust) bestTime(now time.Time) time.Time {
	now = now.Round(0)
	c.mu.Lock()
	defer c.mu.Unlock()
	best := now
	if c.estimating {
		best = now.Add(c.offset)
	}
	if best.Before(saneFloor) || !best.Before(wireEnd) {
		best = c.floor
	}
	return best
}

// keep writes the floor to the spool when it moved by floorKeepEvery, or always.
func (c *clockTrust) keep(q *spool.Queue, always bool) error {
	c.mu.Lock()
	floor := c.floor
	due := always || floor.Sub(c.keptFloor) >= floorKeepEvery || floor.Before(c.keptFloor)
	c.mu.Unlock()
	if !due {
		return nil
	}
	if err := q.PutState(stateClockFloor, strconv.AppendInt(nil, floor.UnixMilli(), 10)); err != nil {
		return err
	}
	c.mu.Lock()
	c.keptFloor = floor
	c.mu.Unlock()
	return nil
}

// keptFloor reads the floor a previous run kept; zero when none or unreadable.
func keptFloor(q *spool.Queue) time.Time {
	data, err := q.State(stateClockFloor)
	if err != nil || data == nil {
		return time.Time{}
	}
	ms, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// clockStats is what the status page and /metrics show about the clock.
type clockStats struct {
	Trusted  bool      `json:"trusted"`
	Floor    time.Time `json:"floor"`
	Steps    uint64    `json:"steps"`
	Unsynced uint64    `json:"unsynced_alarms"`
}

func (c *clockTrust) stats() clockStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return clockStats{Trusted: c.trusted, Floor: c.floor, Steps: c.steps, Unsynced: c.unsynced}
}

// alarmSink is the rules' sink: it gives an alarm raised under a clock the gateway cannot
// trust the best time it has, marks it "clock": "unsynced", and hands it on to next (the
// spool, which commits it, or a sink in front of it).
type alarmSink struct {
	next  rules.Sink
	clock Clock
	trust *clockTrust
}

// AddAlarm implements rules.Sink.
func (s *alarmSink) AddAlarm(a *vagt.Alarm) (uint64, error) {
	now := s.clock.Now()
	best, trusted := s.trust.observe(now, isSynced(s.clock))
	t := a.Time
	if !trusted {
		// A timed rule's alarm carries when its condition was met, read from the same
		// clock: move it by what the clock is off by, not to now.
		t = t.Round(0).Add(best.Sub(now.Round(0)))
	}
	if !trusted || t.Before(saneFloor) || !t.Before(wireEnd) {
		if t.Before(saneFloor) || !t.Before(wireEnd) || t.After(best) {
			t = best
		}
		d := make(map[string]string, len(a.Details)+1)
		for k, v := range a.Details {
			d[k] = v
		}
		if len(d) >= vagt.MaxAlarmDetails {
			delete(d, firstKey(d)) // never reached by the rules (≤ 3 details); the mark matters more
		}
		d[DetailClock] = DetailClockUnsynced
		a.Time, a.Details = t, d
	}
	seq, err := s.next.AddAlarm(a)
	if err == nil && a.Details[DetailClock] == DetailClockUnsynced {
		s.trust.mu.Lock()
		s.trust.unsynced++
		s.trust.mu.Unlock()
	}
	return seq, err
}

func firstKey(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

func isSynced(c Clock) bool {
	s, ok := c.(syncedClock)
	return ok && s.Synced()
}
