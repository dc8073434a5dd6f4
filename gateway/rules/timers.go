package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt"
)

// The timers behind the rules (last activity, out of bed since, cold since, last seen,
// doses taken) are kept in the spool, so a restart resumes them where they were: an
// alarm due while the gateway was off is raised at start, not one full period after it.

// timersVersion is the layout of Timers; a state of another version is refused.
const timersVersion = 1

// keepEvery bounds the write rate and how stale a kept state can be. The state is kept
// when a timer starts or stops or a dose is taken; when last activity or a device's last
// seen moved by keepEvery or more since it was last kept (activity after a quiet spell);
// and otherwise once every keepEvery. Readings that only move last activity / last seen
// by less cost no write: those two are kept to the minute, so after a kill -9 they may be
// up to a minute older than they were, and an inactivity alarm after the restart up to a
// minute early, never late. The periodic write dates the state: its save time says, to
// within a minute, when the gateway went off.
const keepEvery = time.Minute

// maxRestoreGap: a restart more than this after the state was kept, or with a clock
// before it, is not believed as elapsed time (a box without RTC booting at 1970, or
// fake-hwclock and NTP disagreeing): the timers keep the time they had run when kept,
// and the gap counts as nothing. No flood of alarms from a clock error; the real ones
// still come, at most the gap late.
const maxRestoreGap = 24 * time.Hour

// ErrTimers is wrapped by DecodeTimers for a kept state that cannot be used.
var ErrTimers = errors.New("rules: timer state unusable")

// Timers is the rule engine's timer state, as kept in the spool (JSON).
type Timers struct {
	Version      int                         `json:"v"`
	SavedAt      time.Time                   `json:"saved_at"`
	Started      time.Time                   `json:"started"` // since when the engine has watched (across restarts)
	LastActivity time.Time                   `json:"last_activity"`
	LastSeen     map[vagt.DeviceID]time.Time `json:"last_seen,omitempty"`
	BedOutSince  map[vagt.DeviceID]time.Time `json:"bed_out_since,omitempty"`
	ColdSince    map[vagt.DeviceID]time.Time `json:"cold_since,omitempty"`
	TakenAt      map[string]time.Time        `json:"taken_at,omitempty"` // dose number → last intake
}

// EncodeTimers renders the state for the spool.
func EncodeTimers(t Timers) ([]byte, error) { return json.Marshal(t) }

// DecodeTimers parses and checks a kept state. Anything wrong (not JSON, another
// version, a bad device id or dose, a time after the save) refuses all of it: half a
// state could resume one timer and lose the one beside it.
func DecodeTimers(data []byte) (Timers, error) {
	var t Timers
	if err := json.Unmarshal(data, &t); err != nil {
		return Timers{}, fmt.Errorf("%w: %w", ErrTimers, err)
	}
	if t.Version != timersVersion {
		return Timers{}, fmt.Errorf("%w: version %d, want %d", ErrTimers, t.Version, timersVersion)
	}
	if t.SavedAt.IsZero() || t.Started.IsZero() || t.LastActivity.IsZero() || t.Started.After(t.SavedAt) || t.LastActivity.After(t.SavedAt) {
		return Timers{}, fmt.Errorf("%w: saved %s, started %s, last activity %s", ErrTimers, t.SavedAt, t.Started, t.LastActivity)
	}
	for name, m := range map[string]map[vagt.DeviceID]time.Time{"last_seen": t.LastSeen, "bed_out_since": t.BedOutSince, "cold_since": t.ColdSince} {
		for dev, at := range m {
			if err := dev.Validate(); err != nil {
				return Timers{}, fmt.Errorf("%w: %s: %w", ErrTimers, name, err)
			}
			if at.IsZero() || at.After(t.SavedAt) {
				return Timers{}, fmt.Errorf("%w: %s of %s is %s, saved %s", ErrTimers, name, dev, at, t.SavedAt)
			}
		}
	}
	for dose, at := range t.TakenAt {
		if _, err := strconv.Atoi(dose); err != nil || at.IsZero() || at.After(t.SavedAt) {
			return Timers{}, fmt.Errorf("%w: dose %q taken %s, saved %s", ErrTimers, dose, at, t.SavedAt)
		}
	}
	return t, nil
}

// TimersDue reports whether the timer state should be kept now (see keepEvery).
func (e *Engine) TimersDue() bool {
	since := e.wall().Sub(e.keptAt)
	if e.timersDirty || since >= keepEvery || since < 0 || e.lastActivity.Sub(e.keptActivity) >= keepEvery {
		return true
	}
	for dev, at := range e.lastSeen {
		if kept, ok := e.keptSeen[dev]; !ok || at.Sub(kept) >= keepEvery {
			return true
		}
	}
	return false
}

// Timers returns the timer state to keep and counts it as kept.
func (e *Engine) Timers() Timers {
	t := Timers{Version: timersVersion, SavedAt: e.wall(), Started: e.started, LastActivity: e.lastActivity,
		LastSeen: clone(e.lastSeen), BedOutSince: clone(e.bedOutSince), ColdSince: clone(e.coldSince),
		TakenAt: make(map[string]time.Time, len(e.takenAt))}
	for dose, at := range e.takenAt {
		t.TakenAt[strconv.Itoa(dose)] = at
	}
	// A clock stepped back under us: nothing kept may lie after the save.
	t.Started = minTime(t.Started, t.SavedAt)
	t.LastActivity = minTime(t.LastActivity, t.SavedAt)
	for _, m := range []map[vagt.DeviceID]time.Time{t.LastSeen, t.BedOutSince, t.ColdSince} {
		for k, v := range m {
			m[k] = minTime(v, t.SavedAt)
		}
	}
	for k, v := range t.TakenAt {
		t.TakenAt[k] = minTime(v, t.SavedAt)
	}
	e.timersDirty, e.keptAt, e.keptActivity, e.keptSeen = false, t.SavedAt, e.lastActivity, clone(e.lastSeen)
	return t
}

// TimersNotKept says the state from Timers could not be kept: it is due again.
func (e *Engine) TimersNotKept() { e.timersDirty = true }

// RestoreTimers resumes the timers kept by Timers (at start, before the first reading).
// A restart within maxRestoreGap of the save, with the clock after it, counts the time
// off as elapsed: a timer that ran out meanwhile fires at the next Tick, with the alarm
// time it was due at. Otherwise the time off is not believed (see maxRestoreGap): the
// timers are moved forward by it and keep only the time they had run when kept.
func (e *Engine) RestoreTimers(t Timers) {
	now := e.wall()
	e.started, e.lastActivity = t.Started, t.LastActivity
	e.lastSeen, e.bedOutSince, e.coldSince = clone(t.LastSeen), clone(t.BedOutSince), clone(t.ColdSince)
	e.takenAt = make(map[int]time.Time, len(t.TakenAt))
	for dose, at := range t.TakenAt {
		n, _ := strconv.Atoi(dose) // checked by DecodeTimers
		e.takenAt[n] = at
	}
	e.offSince, e.offUntil = t.SavedAt, now
	if gap := now.Sub(t.SavedAt); gap < 0 || gap > maxRestoreGap {
		e.log.Warn("clock at restart not after the kept timer state, or far after it: the time off is not counted",
			"saved_at", t.SavedAt, "now", now, "gap", gap)
		e.shift(gap)
		e.offSince = now
	} else {
		// A silent device is one listened for and not heard; nobody listened while the
		// gateway was off (Zigbee2MQTT does not keep what it published meanwhile), so
		// that time is no silence: last seen moves with the restart. Otherwise every
		// device would be raised silent after any restart longer than its limit.
		for _, d := range e.cfg.Devices {
			if _, ok := e.lastSeen[d.Device]; !ok {
				e.lastSeen[d.Device] = e.started
			}
		}
		for dev, at := range e.lastSeen {
			e.lastSeen[dev] = at.Add(gap)
		}
	}
	e.keptAt, e.keptActivity, e.keptSeen, e.timersDirty = now, e.lastActivity, clone(e.lastSeen), true
	e.lastNow = now
}

// DetectClockSteps makes the engine treat a clock that moves backwards, or forwards by
// more than limit between two calls, as a step of the clock, not as time passing: the
// timers are moved with it and keep what they had run. The gateway calls the engine
// every second, so a minutes-long gap is a step (NTP setting a box without RTC), not a
// pause. 0 (the default) turns it off.
func (e *Engine) DetectClockSteps(limit time.Duration) { e.stepLimit = limit }

// wall reads the clock without its monotonic reading. Every time the engine keeps is wall
// clock only, so that all of them measure alike: time.Now carries a monotonic reading,
// Sub uses it when both sides have one, and a kept time read back from the spool has
// none. Mixed, a clock step would shift some timers and not others, and a step could go
// unseen by DetectClockSteps; wall-only, steps are seen and absorbed in one place.
func (e *Engine) wall() time.Time { return e.clock.Now().Round(0) }

// now reads the clock and, with DetectClockSteps, absorbs a step.
func (e *Engine) now() time.Time {
	now := e.wall()
	if e.stepLimit > 0 && !e.lastNow.IsZero() {
		if d := now.Sub(e.lastNow); d < 0 || d > e.stepLimit {
			e.log.Warn("clock stepped: timers moved with it", "from", e.lastNow, "to", now, "step", d)
			e.shift(d)
			e.offSince, e.offUntil = time.Time{}, time.Time{}
		}
	}
	e.lastNow = now
	return now
}

// shift moves every timer by d, so each keeps the time it had run.
func (e *Engine) shift(d time.Duration) {
	e.started = e.started.Add(d)
	e.lastActivity = e.lastActivity.Add(d)
	for _, m := range []map[vagt.DeviceID]time.Time{e.lastSeen, e.bedOutSince, e.coldSince} {
		for k, v := range m {
			m[k] = v.Add(d)
		}
	}
	for k, v := range e.takenAt {
		e.takenAt[k] = v.Add(d)
	}
	for k, v := range e.momentary {
		e.momentary[k] = v.Add(d)
	}
	e.timersDirty = true
}

func clone[K comparable](m map[K]time.Time) map[K]time.Time {
	out := make(map[K]time.Time, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.After(b) {
		return b
	}
	return a
}
