package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// scoped reads alert id inside t and checks that scope may act on it.
func (t *tx) scoped(ctx context.Context, id int64, scope api.Scope) (alerts.Alert, error) {
	a, err := t.alert(ctx, id)
	if err != nil {
		return a, err
	}
	if scope.Allows(a.Municipality, a.District) {
		return a, nil
	}
	// The backup and central on-call act on the alerts that escalated to them.
	aud, err := t.audience(ctx, id)
	if err != nil {
		return a, err
	}
	if !scope.Reaches(a.Municipality, a.District, aud) {
		return a, fmt.Errorf("alert %d: %w", id, api.ErrOutOfScope)
	}
	return a, nil
}

func conflict(a alerts.Alert, action string) error {
	e := &alerts.ConflictError{Alert: a.ID, State: a.State, Action: action}
	switch a.State {
	case alerts.StateAcknowledged:
		e.By, e.At = a.AckedBy, *a.AckedAt
	case alerts.StateResolved:
		e.By, e.At = a.ResolvedBy, *a.ResolvedAt
	}
	return e
}

// Ack acknowledges an open alert for actor and stops its escalation. Of two staff who
// acknowledge at once exactly one wins; the other gets a *alerts.ConflictError naming the
// winner. Acknowledging again by the same actor is a no-op.
func (s *AlertService) Ack(ctx context.Context, id int64, actor string, scope api.Scope, now time.Time) (alerts.Alert, error) {
	var out alerts.Alert
	err := s.inTx(ctx, func(t *tx) error {
		a, err := t.scoped(ctx, id, scope)
		if err != nil {
			return err
		}
		if a.State == alerts.StateAcknowledged && a.AckedBy == actor {
			out = a
			return nil
		}
		// Conditional: on PostgreSQL the loser of a race blocks on the row, then finds
		// the state changed and updates nothing.
		// An open alert with an assignee is one a press re-armed (rearm): the assignee
		// still holds it, so their clock runs on (escalateTakenDue), or a silent assignee
		// would keep it for good with nobody else able to take it.
		r, err := t.exec(ctx, `UPDATE alerts SET state = 'acknowledged', acked_at = ?, acked_by = ?, escalate_at = ?
			WHERE id = ? AND state = 'open'`, ms(now), actor, nullableMs(t.s.policy.AssigneeDeadline(a, now)), id)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			if a, err = t.alert(ctx, id); err != nil {
				return err
			}
			if a.State == alerts.StateAcknowledged && a.AckedBy == actor {
				out = a
				return nil
			}
			return conflict(a, "ack")
		}
		if out, err = t.alert(ctx, id); err != nil {
			return err
		}
		if err := t.audit(ctx, now, actor, "alert.ack", alertObject(id), ""); err != nil {
			return err
		}
		return t.appendEvent(ctx, alerts.EventUpdated, "acknowledged", out, now)
	})
	if err != nil {
		return alerts.Alert{}, storeErr("ack", err)
	}
	return out, nil
}

// Resolve closes an open or acknowledged alert with an outcome and an optional note. An
// alert resolved without an acknowledgement counts as acknowledged by the resolver then.
// It closes the alert as it is now, however many presses folded into it: for the platform's
// own callers and tests. Staff resolve with ResolveSeen.
func (s *AlertService) Resolve(ctx context.Context, id int64, actor string, scope api.Scope, outcome alerts.Outcome, note string, now time.Time) (alerts.Alert, error) {
	return s.resolveSeen(ctx, id, actor, scope, nil, outcome, note, now)
}

// ResolveSeen is Resolve on the condition that the alert is as the caller saw it: no press
// folded into it since (seen.Count). Otherwise it changes nothing and returns a
// *alerts.StaleError, so a decision made on the first press does not close the press
// after it; the caller reads the alert again and decides on what it is now.
func (s *AlertService) ResolveSeen(ctx context.Context, id int64, actor string, scope api.Scope, seen alerts.Seen, outcome alerts.Outcome, note string, now time.Time) (alerts.Alert, error) {
	return s.resolveSeen(ctx, id, actor, scope, &seen, outcome, note, now)
}

func (s *AlertService) resolveSeen(ctx context.Context, id int64, actor string, scope api.Scope, seen *alerts.Seen, outcome alerts.Outcome, note string, now time.Time) (alerts.Alert, error) {
	if err := outcome.Validate(); err != nil {
		return alerts.Alert{}, err
	}
	if len(note) > alerts.MaxNoteLen {
		return alerts.Alert{}, fmt.Errorf("%w: note longer than %d bytes", api.ErrInvalid, alerts.MaxNoteLen)
	}
	var out alerts.Alert
	err := s.inTx(ctx, func(t *tx) error {
		var err error
		out, err = t.resolveSeen(ctx, id, actor, &scope, seen, outcome, note, now)
		return err
	})
	if err != nil {
		return alerts.Alert{}, storeErr("resolve", err)
	}
	return out, nil
}

// resolve does Resolve inside t; a nil scope is the platform itself.
func (t *tx) resolve(ctx context.Context, id int64, actor string, scope *api.Scope, outcome alerts.Outcome, note string, now time.Time) (alerts.Alert, error) {
	return t.resolveSeen(ctx, id, actor, scope, nil, outcome, note, now)
}

// resolveSeen resolves inside t on the condition that the alert holds seen.Count presses
// (a nil seen: as it is).
func (t *tx) resolveSeen(ctx context.Context, id int64, actor string, scope *api.Scope, seen *alerts.Seen, outcome alerts.Outcome, note string, now time.Time) (alerts.Alert, error) {
	var (
		a   alerts.Alert
		err error
	)
	if scope != nil {
		a, err = t.scoped(ctx, id, *scope)
	} else {
		a, err = t.alert(ctx, id)
	}
	if err != nil {
		return a, err
	}
	if seen != nil && seen.Count < 1 {
		return a, seen.Check(a) // no count: a client that did not say what it saw
	}
	// The count is checked in the update itself, not only on the row read above: a press
	// folding in meanwhile (another replica, PostgreSQL at READ COMMITTED) holds the row,
	// and this update then re-reads it and finds the new count (fold in alarms.go).
	query := `UPDATE alerts SET state = 'resolved', resolved_at = ?, resolved_by = ?, outcome = ?,
		acked_at = COALESCE(acked_at, ?), acked_by = COALESCE(acked_by, ?), escalate_at = NULL
		WHERE id = ? AND state <> 'resolved'`
	args := []any{ms(now), actor, string(outcome), ms(now), actor, id}
	if seen != nil {
		query += ` AND count = ?`
		args = append(args, seen.Count)
	}
	r, err := t.exec(ctx, query, args...)
	if err != nil {
		return a, err
	}
	if n, err := r.RowsAffected(); err != nil {
		return a, err
	} else if n == 0 {
		if a, err = t.alert(ctx, id); err != nil {
			return a, err
		}
		if a.State != alerts.StateResolved && seen != nil {
			if err := seen.Check(a); err != nil {
				return a, err
			}
		}
		return a, conflict(a, "resolve")
	}
	if note != "" {
		if _, err := t.exec(ctx, `INSERT INTO alert_notes (alert_id, at, author, text) VALUES (?, ?, ?, ?)`, id, ms(now), actor, note); err != nil {
			return a, err
		}
	}
	if a, err = t.alert(ctx, id); err != nil {
		return a, err
	}
	if err := t.audit(ctx, now, actor, "alert.resolve", alertObject(id), string(outcome)); err != nil {
		return a, err
	}
	return a, t.appendEvent(ctx, alerts.EventUpdated, "resolved", a, now)
}

// AddNote adds a free-text note to an alert (also a resolved one: the report may follow).
func (s *AlertService) AddNote(ctx context.Context, id int64, actor string, scope api.Scope, text string, now time.Time) (alerts.Note, error) {
	if text == "" || len(text) > alerts.MaxNoteLen {
		return alerts.Note{}, fmt.Errorf("%w: a note is 1-%d bytes", api.ErrInvalid, alerts.MaxNoteLen)
	}
	note := alerts.Note{At: fromMs(ms(now)), Author: actor, Text: text}
	err := s.inTx(ctx, func(t *tx) error {
		a, err := t.scoped(ctx, id, scope)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO alert_notes (alert_id, at, author, text) VALUES (?, ?, ?, ?)`, id, ms(now), actor, text); err != nil {
			return err
		}
		if err := t.audit(ctx, now, actor, "alert.note", alertObject(id), ""); err != nil {
			return err
		}
		return t.appendEvent(ctx, alerts.EventUpdated, "note", a, now)
	})
	if err != nil {
		return alerts.Note{}, storeErr("add note", err)
	}
	return note, nil
}

// escalateOpenDue moves every open (unacknowledged) alert whose deadline has passed to the
// next tier, records the step, widens its audience to the tier and sets the next deadline
// from the policy. Updates are conditional on the level, so replicas running this together
// escalate each step once. (EscalateDue, presence.go, calls it and escalateTakenDue.)
func (s *DB) escalateOpenDue(ctx context.Context, now time.Time) (int, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, escalation_level FROM alerts
		WHERE escalate_at IS NOT NULL AND escalate_at <= ? AND state = 'open' ORDER BY escalate_at LIMIT 200`), ms(now))
	if err != nil {
		return 0, storeErr("escalate", err)
	}
	dues, err := scanDues(rows)
	if err != nil {
		return 0, storeErr("escalate", err)
	}
	n := 0
	for _, d := range dues {
		moved, err := s.escalateStep(ctx, d, now, "", nil)
		if err != nil {
			return n, err
		}
		if moved {
			n++
		}
	}
	return n, nil
}

func alertObject(id int64) string { return fmt.Sprintf("alert/%d", id) }
