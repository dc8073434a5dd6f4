package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// Presence (docs/alerts.md, "Presence"): take ("I'll go"), enroute ("on my way"), arrived,
// release (hand back). Every step is one transaction with a conditional update, so of two
// staff who take an alert at once exactly one wins, on both databases and from any number
// of replicas; the step, an audit record and a stream event commit with it.

// Take makes who the alert's assignee and acknowledges it if it was open. Taking again by
// the assignee is a no-op. Somebody else holding it answers a *alerts.TakenError naming
// them, unless they are overdue (they missed their deadline): then who takes it over.
func (s *AlertService) Take(ctx context.Context, id int64, who alerts.Assignee, scope api.Scope, now time.Time) (alerts.Alert, error) {
	return s.presenceStep(ctx, "take", id, scope, func(t *tx, a alerts.Alert) (alerts.Alert, error) {
		return t.take(ctx, a, who, now)
	})
}

// Enroute marks "on my way". The caller must hold the alert; one who does not takes it
// in the same step (take-and-go), with Take's conflicts. The escalation clock then waits
// for the arrival (alerts.Policy.ArrivalDeadline).
func (s *AlertService) Enroute(ctx context.Context, id int64, who alerts.Assignee, scope api.Scope, now time.Time) (alerts.Alert, error) {
	return s.presenceStep(ctx, "enroute", id, scope, func(t *tx, a alerts.Alert) (alerts.Alert, error) {
		return t.enroute(ctx, a, who, now)
	})
}

// Arrive marks that the assignee is in the home (taking the alert first, as Enroute does).
// Escalation stops.
func (s *AlertService) Arrive(ctx context.Context, id int64, who alerts.Assignee, scope api.Scope, now time.Time) (alerts.Alert, error) {
	return s.presenceStep(ctx, "arrive", id, scope, func(t *tx, a alerts.Alert) (alerts.Alert, error) {
		return t.arrive(ctx, a, who, now)
	})
}

// Release hands the alert back: only its assignee, and not after arriving. The alert is
// open again (unacknowledged; the earlier acknowledgement stays in the timeline) and its
// escalation clock restarts at its tier.
func (s *AlertService) Release(ctx context.Context, id int64, who alerts.Assignee, scope api.Scope, now time.Time) (alerts.Alert, error) {
	return s.presenceStep(ctx, "release", id, scope, func(t *tx, a alerts.Alert) (alerts.Alert, error) {
		return t.release(ctx, a, who, now)
	})
}

func (s *DB) presenceStep(ctx context.Context, op string, id int64, scope api.Scope, step func(*tx, alerts.Alert) (alerts.Alert, error)) (alerts.Alert, error) {
	var out alerts.Alert
	err := s.inTx(ctx, func(t *tx) error {
		a, err := t.scoped(ctx, id, scope)
		if err != nil {
			return err
		}
		out, err = step(t, a)
		return err
	})
	if err != nil {
		return alerts.Alert{}, storeErr(op, err)
	}
	return out, nil
}

// holds reports whether who is a's assignee.
func holds(a alerts.Alert, who alerts.Assignee) bool {
	return a.Assignee != nil && a.Assignee.Name == who.Name
}

// refusal says why who may not do action on a: resolved, or somebody else is going.
func refusal(a alerts.Alert, action string) error {
	if a.State == alerts.StateResolved {
		return conflict(a, action)
	}
	if a.Assignee == nil {
		return fmt.Errorf("%w: alert %d: cannot %s: nobody has taken it", api.ErrConflict, a.ID, action)
	}
	return &alerts.TakenError{Conflict: alerts.ConflictError{Alert: a.ID, State: a.State, By: a.Assignee.Name, At: *a.TakenAt, Action: action}}
}

func (t *tx) take(ctx context.Context, a alerts.Alert, who alerts.Assignee, now time.Time) (alerts.Alert, error) {
	if a.State == alerts.StateResolved {
		return a, conflict(a, "take")
	}
	if holds(a, who) {
		return t.answer(ctx, a, who, now)
	}
	var deadline any
	if at, ok := t.s.policy.TakeDeadline(a.Priority, now); ok {
		deadline = ms(at)
	}
	var user any
	if who.ID != 0 {
		user = who.ID
	}
	// Conditional: the loser of a race (on PostgreSQL it blocks on the row) finds the
	// assignee set and updates nothing. An overdue assignee (not arrived) may be replaced.
	r, err := t.exec(ctx, `UPDATE alerts SET assignee = ?, assignee_user = ?, taken_at = ?, enroute_at = NULL, arrived_at = NULL,
		overdue_at = NULL, state = 'acknowledged', acked_at = COALESCE(acked_at, ?), acked_by = COALESCE(acked_by, ?), escalate_at = ?
		WHERE id = ? AND state <> 'resolved' AND (assignee IS NULL OR (overdue_at IS NOT NULL AND arrived_at IS NULL))`,
		who.Name, user, ms(now), ms(now), who.Name, deadline, a.ID)
	if err != nil {
		return a, err
	}
	if n, err := r.RowsAffected(); err != nil {
		return a, err
	} else if n == 0 {
		if a, err = t.alert(ctx, a.ID); err != nil {
			return a, err
		}
		if holds(a, who) {
			return a, nil
		}
		return a, refusal(a, "take")
	}
	detail := ""
	if a.Assignee != nil {
		detail = "from " + a.Assignee.Name // a take-over of an overdue assignee
	}
	return t.presenceDone(ctx, a.ID, alerts.EventTaken, "alert.take", who.Name, detail, now)
}

func (t *tx) enroute(ctx context.Context, a alerts.Alert, who alerts.Assignee, now time.Time) (alerts.Alert, error) {
	if !holds(a, who) {
		var err error
		if a, err = t.take(ctx, a, who, now); err != nil {
			return a, err
		}
	}
	a, err := t.answer(ctx, a, who, now)
	if err != nil {
		return a, err
	}
	if a.EnrouteAt != nil || a.ArrivedAt != nil || a.State == alerts.StateResolved {
		return a, nil // said already, or further on: nothing to do
	}
	var deadline any
	if at, ok := t.s.policy.ArrivalDeadline(a.Priority, a.RaisedAt, now); ok {
		deadline = ms(at)
	}
	// Saying "on my way" late clears overdue: they are coming, nobody should take it over.
	r, err := t.exec(ctx, `UPDATE alerts SET enroute_at = ?, overdue_at = NULL, escalate_at = ?
		WHERE id = ? AND assignee = ? AND enroute_at IS NULL AND arrived_at IS NULL AND state <> 'resolved'`, ms(now), deadline, a.ID, who.Name)
	if err != nil {
		return a, err
	}
	if n, err := r.RowsAffected(); err != nil {
		return a, err
	} else if n == 0 {
		return t.reread(ctx, a.ID, who, "enroute")
	}
	return t.presenceDone(ctx, a.ID, alerts.EventEnroute, "alert.enroute", who.Name, "", now)
}

func (t *tx) arrive(ctx context.Context, a alerts.Alert, who alerts.Assignee, now time.Time) (alerts.Alert, error) {
	if !holds(a, who) {
		var err error
		if a, err = t.take(ctx, a, who, now); err != nil {
			return a, err
		}
	}
	a, err := t.answer(ctx, a, who, now)
	if err != nil {
		return a, err
	}
	if a.ArrivedAt != nil || a.State == alerts.StateResolved {
		return a, nil
	}
	r, err := t.exec(ctx, `UPDATE alerts SET arrived_at = ?, overdue_at = NULL, escalate_at = NULL
		WHERE id = ? AND assignee = ? AND arrived_at IS NULL AND state <> 'resolved'`, ms(now), a.ID, who.Name)
	if err != nil {
		return a, err
	}
	if n, err := r.RowsAffected(); err != nil {
		return a, err
	} else if n == 0 {
		return t.reread(ctx, a.ID, who, "arrive")
	}
	return t.presenceDone(ctx, a.ID, alerts.EventArrived, "alert.arrive", who.Name, "", now)
}

// answer acknowledges for its assignee an alert that a press opened again while they held
// it (rearm): their take, "on my way" or "arrived" answers the press, and their own clock
// runs on (escalateTakenDue), instead of the open clock that moves it on as unanswered.
func (t *tx) answer(ctx context.Context, a alerts.Alert, who alerts.Assignee, now time.Time) (alerts.Alert, error) {
	if !holds(a, who) || a.State != alerts.StateOpen {
		return a, nil
	}
	r, err := t.exec(ctx, `UPDATE alerts SET state = 'acknowledged', acked_at = ?, acked_by = ?, escalate_at = ?
		WHERE id = ? AND state = 'open' AND assignee = ?`, ms(now), who.Name, nullableMs(t.s.policy.AssigneeDeadline(a, now)), a.ID, who.Name)
	if err != nil {
		return a, err
	}
	if n, err := r.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return a, err
		}
		return t.alert(ctx, a.ID) // acknowledged meanwhile (the row was locked): nothing to answer
	}
	if a, err = t.alert(ctx, a.ID); err != nil {
		return a, err
	}
	if err := t.audit(ctx, now, who.Name, "alert.ack", alertObject(a.ID), "answered a press while assigned"); err != nil {
		return a, err
	}
	return a, t.appendEvent(ctx, alerts.EventUpdated, "acknowledged", a, now)
}

func (t *tx) release(ctx context.Context, a alerts.Alert, who alerts.Assignee, now time.Time) (alerts.Alert, error) {
	if !holds(a, who) || a.State == alerts.StateResolved {
		return a, refusal(a, "release")
	}
	if a.ArrivedAt != nil {
		return a, fmt.Errorf("%w: alert %d: %s arrived at %s; resolve it instead of handing it back", api.ErrConflict,
			a.ID, who.Name, a.ArrivedAt.UTC().Format(time.RFC3339))
	}
	var deadline any
	if at, ok := t.s.policy.NextEscalation(a.Priority, a.EscalationLevel, now); ok {
		deadline = ms(at)
	}
	r, err := t.exec(ctx, `UPDATE alerts SET state = 'open', acked_at = NULL, acked_by = NULL, assignee = NULL, assignee_user = NULL,
		taken_at = NULL, enroute_at = NULL, overdue_at = NULL, escalate_at = ?
		WHERE id = ? AND assignee = ? AND arrived_at IS NULL AND state <> 'resolved'`, deadline, a.ID, who.Name)
	if err != nil {
		return a, err
	}
	if n, err := r.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return a, err
		}
		return t.reread(ctx, a.ID, who, "release")
	}
	// The acknowledgement the columns forget is kept in the timeline.
	if a.AckedAt != nil {
		if err := t.step(ctx, a.ID, *a.AckedAt, "acknowledged", a.AckedBy, ""); err != nil {
			return a, err
		}
	}
	return t.presenceDone(ctx, a.ID, alerts.EventUpdated, "alert.release", who.Name, "", now)
}

// reread answers a conditional update that changed nothing: somebody else got there first.
func (t *tx) reread(ctx context.Context, id int64, who alerts.Assignee, action string) (alerts.Alert, error) {
	a, err := t.alert(ctx, id)
	if err != nil {
		return a, err
	}
	if holds(a, who) && a.State != alerts.StateResolved {
		return a, nil
	}
	return a, refusal(a, action)
}

// presenceSteps names each audited action's step and stream change.
var presenceSteps = map[string]string{"alert.take": "taken", "alert.enroute": "enroute", "alert.arrive": "arrived",
	"alert.release": alerts.ChangeReleased}

// presenceDone records a step that changed the alert: its timeline row, the audit record
// and the stream event, and returns the alert as it is now.
func (t *tx) presenceDone(ctx context.Context, id int64, kind alerts.EventKind, action, actor, detail string, now time.Time) (alerts.Alert, error) {
	a, err := t.alert(ctx, id)
	if err != nil {
		return a, err
	}
	step := presenceSteps[action]
	if err := t.step(ctx, id, now, step, actor, detail); err != nil {
		return a, err
	}
	if err := t.audit(ctx, now, actor, action, alertObject(id), detail); err != nil {
		return a, err
	}
	return a, t.appendEvent(ctx, kind, step, a, now)
}

func (t *tx) step(ctx context.Context, id int64, at time.Time, step, actor, detail string) error {
	_, err := t.exec(ctx, `INSERT INTO alert_steps (alert_id, at, step, actor, detail) VALUES (?, ?, ?, ?, ?)`, id, ms(at), step, actor, detail)
	return err
}

// EscalateDue escalates what is due at now: open alerts nobody acknowledged
// (escalateOpenDue, lifecycle.go) and taken alerts whose assignee did not say "on my way"
// or arrive in time (escalateTakenDue).
func (s *AlertService) EscalateDue(ctx context.Context, now time.Time) (int, error) {
	n, err := s.escalateOpenDue(ctx, now)
	if err != nil {
		return n, err
	}
	m, err := s.escalateTakenDue(ctx, now)
	return n + m, err
}

// escalateTakenDue handles every taken alert whose deadline passed with nobody arrived.
// It stays with its assignee (a phone without network may still be on the road, and its
// assignee can still say "arrived"), is marked overdue (anyone who may see it can take it
// over) and goes one tier up, as an unacknowledged alert would; its next deadline is one
// step later, until the last tier. At the last tier it is only marked overdue. Updates are
// conditional on the level and the deadline, so replicas do each step once.
func (s *DB) escalateTakenDue(ctx context.Context, now time.Time) (int, error) {
	var dues []due // audience.go
	err := s.each(ctx, `SELECT id, escalation_level FROM alerts WHERE escalate_at IS NOT NULL AND escalate_at <= ?
		AND state = 'acknowledged' AND assignee IS NOT NULL AND arrived_at IS NULL ORDER BY escalate_at LIMIT 200`, []any{ms(now)}, func(r *sql.Rows) error {
		var d due
		err := r.Scan(&d.id, &d.level)
		dues = append(dues, d)
		return err
	})
	if err != nil {
		return 0, storeErr("escalate taken", err)
	}
	n := 0
	for _, d := range dues {
		changed := false
		err := s.inTx(ctx, func(t *tx) error {
			changed = false
			a, err := t.alert(ctx, d.id)
			if err != nil {
				return err
			}
			m, ok := s.policy.NextMove(a, false, now)
			if !ok || a.State != alerts.StateAcknowledged || a.EscalationLevel != d.level {
				// Arrived, handed back or moved on since it was selected: the update
				// below, conditional on all of it, would change nothing.
				return nil
			}
			r, err := t.exec(ctx, `UPDATE alerts SET escalation_level = ?, escalate_at = ?,
				overdue_at = CASE WHEN ? = 1 THEN COALESCE(overdue_at, ?) ELSE overdue_at END
				WHERE id = ? AND escalation_level = ? AND escalate_at <= ? AND state = 'acknowledged' AND assignee IS NOT NULL AND arrived_at IS NULL`,
				m.Level, nullableMs(m.EscalateAt), boolInt(m.Overdue), ms(now), d.id, d.level, ms(now))
			if err != nil {
				return err
			}
			if k, err := r.RowsAffected(); err != nil || k == 0 {
				return err
			}
			changed = true
			if m.Overdue && a.OverdueAt == nil && a.Assignee != nil { // a read before the update; the update checked the row
				if err := t.step(ctx, d.id, now, alerts.ChangeOverdue, api.System, a.Assignee.Name); err != nil {
					return err
				}
				if err := t.audit(ctx, now, api.System, "alert.overdue", alertObject(d.id), a.Assignee.Name); err != nil {
					return err
				}
			}
			kind, change := alerts.EventUpdated, alerts.ChangeOverdue
			if m.Escalated(d.level) {
				tier := string(alerts.TierOf(m.Level))
				if _, err := t.exec(ctx, `INSERT INTO alert_escalations (alert_id, level, tier, at) VALUES (?, ?, ?, ?)`, d.id, m.Level, tier, ms(now)); err != nil {
					return err
				}
				if err := t.audit(ctx, now, api.System, "alert.escalate", alertObject(d.id), tier); err != nil {
					return err
				}
				kind, change = alerts.EventEscalated, "escalated"
			}
			if a, err = t.alert(ctx, d.id); err != nil {
				return err
			}
			if m.Escalated(d.level) {
				// The next tier sees it, as an unacknowledged alert's would (audience.go).
				if err := t.widen(ctx, a, m.Level, now); err != nil {
					return err
				}
			}
			return t.appendEvent(ctx, kind, change, a, now)
		})
		if err != nil {
			return n, storeErr(fmt.Sprintf("escalate taken alert %d", d.id), err)
		}
		if changed {
			n++
		}
	}
	return n, nil
}

// timeline is every step of d, oldest first: the alert's own times, the presence steps
// and the escalations (d.Escalations, read before).
func (s *DB) timeline(ctx context.Context, d alerts.Detail) ([]alerts.TimelineEntry, error) {
	out := []alerts.TimelineEntry{{At: d.RaisedAt, Step: "raised"}}
	if d.AckedAt != nil {
		out = append(out, alerts.TimelineEntry{At: *d.AckedAt, Step: "acknowledged", By: d.AckedBy})
	}
	err := s.each(ctx, `SELECT at, step, actor, detail FROM alert_steps WHERE alert_id = ? ORDER BY id`, []any{d.ID}, func(r *sql.Rows) error {
		var (
			e  alerts.TimelineEntry
			at int64
		)
		err := r.Scan(&at, &e.Step, &e.By, &e.Detail)
		e.At = fromMs(at)
		out = append(out, e)
		return err
	})
	if err != nil {
		return nil, storeErr("alert timeline", err)
	}
	for _, e := range d.Escalations {
		out = append(out, alerts.TimelineEntry{At: e.At, Step: "escalated", By: api.System, Detail: string(e.Tier)})
	}
	if d.ClearedAt != nil {
		out = append(out, alerts.TimelineEntry{At: *d.ClearedAt, Step: "cleared"})
	}
	if d.ResolvedAt != nil {
		out = append(out, alerts.TimelineEntry{At: *d.ResolvedAt, Step: "resolved", By: d.ResolvedBy, Detail: string(d.Outcome)})
	}
	// Steps of one instant in the order they can happen: a take-and-go acknowledges, takes
	// and sets out at once; an escalation (and the overdue that comes with it) precedes a
	// take at the same instant, since a take sets a deadline in the future. The rest keep
	// the order above (alert_steps by id).
	slices.SortStableFunc(out, func(a, b alerts.TimelineEntry) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return stepRank[a.Step] - stepRank[b.Step]
	})
	return out, nil
}

var stepRank = map[string]int{"raised": -4, "acknowledged": -3, "overdue": -2, "escalated": -1, "resolved": 1}

// anonymousAssignee strips who went from alerts past their keeping period or of an erased
// citizen, as acked_by and resolved_by are (citizen_data.go).
const anonymousAssignee = `assignee = CASE WHEN assignee IS NULL THEN NULL ELSE '' END, assignee_user = NULL`

// anonymiseSteps strips who acted from the timeline of the alerts ids selects.
func (t *tx) anonymiseSteps(ctx context.Context, ids string, args ...any) error {
	_, err := t.exec(ctx, `UPDATE alert_steps SET actor = CASE WHEN actor = 'system' THEN actor ELSE '' END,
		detail = CASE WHEN step = 'taken' OR step = 'overdue' THEN '' ELSE detail END WHERE alert_id IN (`+ids+`)`, args...)
	return err
}
