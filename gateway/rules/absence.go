package rules

import "time"

// The absence (vagt.HomeConfig.Absence: "away until", in hospital or on holiday) silences
// the rules about the citizen's routine, by the gateway's own clock; danger and technical
// alarms are never silenced (vagt.AlarmType.SilencedByAbsence). A gateway whose clock is
// unset reads 1970, outside every absence: its rules stay on.

// silencedByAbsence reports whether the episode's alarm is held back now.
func (e *Engine) silencedByAbsence(ep episode) bool {
	if !ep.typ.SilencedByAbsence() || !e.cfg.Absence.Contains(e.wall()) {
		return false
	}
	if !e.silenced[ep] {
		e.silenced[ep] = true
		e.log.Info("alarm silenced: the citizen is away", "type", ep.typ, "device", ep.device,
			"until", e.cfg.Absence.Until.Format(time.RFC3339))
	}
	return true
}

// sinceAbsence returns t, or the end of an absence that ended after t and by now: the
// routine timers start again when the citizen is back, so the return from a week in
// hospital at 14:00 raises no inactivity alarm for the hours before it.
func (e *Engine) sinceAbsence(t, now time.Time) time.Time {
	a := e.cfg.Absence
	if a.IsZero() || now.Before(a.Until) || !t.Before(a.Until) {
		return t
	}
	return a.Until
}

// overlapsAbsence reports whether [start, end) overlaps the absence: a dose window that
// did, or a bed exit that began in it, is not the citizen's routine.
func (e *Engine) overlapsAbsence(start, end time.Time) bool {
	a := e.cfg.Absence
	return !a.IsZero() && start.Before(a.Until) && end.After(a.From)
}
