package alerts

import "time"

// Escalation rules (docs/alerts.md, "Escalation", "Presence"): what happens to an alert
// when its deadline passes or nobody on its tier listens. The store selects what is due,
// calls NextMove inside its transaction and writes the Move with an update conditional on
// the level it read, so replicas take each step once.

// Move is one step of an alert's escalation, as NextMove decides it.
type Move struct {
	// Level is the alert's level after the move: one tier up, or the same at the last
	// tier (where the step only marks the assignee overdue).
	Level int
	// EscalateAt is the next deadline; nil: none.
	EscalateAt *time.Time
	// Overdue: the assignee, who has not arrived, missed their step; from now anyone who
	// may see the alert can take it over (an assignee already overdue stays so since then).
	Overdue bool
}

// Escalated reports whether m moves an alert that was at level from one tier up.
func (m Move) Escalated(from int) bool { return m.Level > from }

// NextMove decides what happens to alert a at now, when its deadline passed (unheard
// false) or nobody on its tier listens (unheard true), and reports false when nothing
// does: a resolved alert, one somebody arrived at, an acknowledged alert nobody holds (it
// has no deadline), an unheard alert at the last tier or one that was acknowledged.
//
//   - Open (nobody acknowledged it): one tier up, with the next tier's deadline. An
//     assignee who still holds it (a press re-armed it) is overdue as it goes when the
//     deadline passed; moved on at once because nobody listens they are not (they had no
//     step to answer), and at the last tier they keep one step as the deadline
//     (TakeDeadline). At the last tier a passed deadline only marks the assignee overdue.
//   - Acknowledged and held (taken; the assignee missed "on my way" or "arrived"): it
//     stays with the assignee, who is overdue, and goes one tier up with one step
//     (TakeDeadline) as the next deadline; at the last tier it is only marked overdue.
func (p Policy) NextMove(a Alert, unheard bool, now time.Time) (Move, bool) {
	held := a.Assignee != nil && a.ArrivedAt == nil
	switch {
	case a.State == StateAcknowledged && held && !unheard:
		m := Move{Level: min(a.EscalationLevel+1, MaxLevel), Overdue: true}
		if m.Level < MaxLevel {
			m.EscalateAt = deadline(p.TakeDeadline(a.Priority, now))
		}
		return m, true
	case a.State != StateOpen:
		return Move{}, false
	case a.EscalationLevel >= MaxLevel:
		if unheard {
			return Move{}, false // nobody above to tell
		}
		return Move{Level: a.EscalationLevel, Overdue: held}, true
	}
	m := Move{Level: a.EscalationLevel + 1, Overdue: held && !unheard}
	if at, ok := p.NextEscalation(a.Priority, m.Level, now); ok {
		m.EscalateAt = &at
	} else if held && !m.Overdue && a.OverdueAt == nil {
		m.EscalateAt = deadline(p.TakeDeadline(a.Priority, now))
	}
	return m, true
}

// AssigneeDeadline is the clock of a's assignee once the alert is acknowledged again (by
// them, answering a press that re-armed it, or by anyone else): one step to set out after
// taking it, the arrival deadline once on the way, none once arrived. Nil: no assignee, or
// the priority does not escalate.
func (p Policy) AssigneeDeadline(a Alert, now time.Time) *time.Time {
	if a.Assignee == nil || a.ArrivedAt != nil {
		return nil
	}
	if a.EnrouteAt != nil {
		return deadline(p.ArrivalDeadline(a.Priority, a.RaisedAt, now))
	}
	return deadline(p.TakeDeadline(a.Priority, now))
}

func deadline(at time.Time, ok bool) *time.Time {
	if !ok {
		return nil
	}
	return &at
}
