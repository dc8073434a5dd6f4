package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// widen adds tier level's people to alert a's audience, from the roster on duty at now:
// level 0 the district's shift, level 1 its backup (a person, or a team: that district and
// its shift on duty), level 2 the municipality's central on-call. Nobody on duty adds
// nobody: the district's staff still see the alert, and EscalateUnheard moves it on.
func (t *tx) widen(ctx context.Context, a alerts.Alert, level int, now time.Time) error {
	tier := string(alerts.TierOf(level))
	add := func(user string, district int64) error {
		_, err := t.exec(ctx, `INSERT INTO alert_audience (alert_id, tier, user_name, district_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			a.ID, tier, user, district)
		return err
	}
	addAll := func(users []string) error {
		for _, u := range users {
			if err := add(u, 0); err != nil {
				return err
			}
		}
		return nil
	}
	switch {
	case level >= alerts.MaxLevel:
		rows, err := t.query(ctx, `SELECT user_name FROM central_on_call WHERE municipality = ?`, int(a.Municipality))
		if err != nil {
			return err
		}
		var users []string
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return err
			}
			users = append(users, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return addAll(users)
	case a.District == 0:
		return nil // unregistered: the whole municipality sees it already
	}
	duty, ok, err := t.onDuty(ctx, a.District, now)
	if err != nil || !ok {
		return err
	}
	if level == 0 {
		return addAll(duty.Shift.Staff)
	}
	b := duty.Shift.Backup
	if b.User != "" {
		return add(b.User, 0)
	}
	if b.District == 0 {
		return nil
	}
	if err := add("", b.District); err != nil {
		return err
	}
	team, ok, err := t.onDuty(ctx, b.District, now)
	if err != nil || !ok {
		return err
	}
	return addAll(team.Shift.Staff)
}

// audience reads who alert id reached beyond its district's staff, every tier so far.
func (t *tx) audience(ctx context.Context, id int64) (api.Audience, error) {
	var aud api.Audience
	rows, err := t.query(ctx, `SELECT user_name, district_id FROM alert_audience WHERE alert_id = ? ORDER BY user_name, district_id`, id)
	if err != nil {
		return aud, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			u string
			d int64
		)
		if err := rows.Scan(&u, &d); err != nil {
			return aud, err
		}
		if u != "" && !slices.Contains(aud.Users, u) {
			aud.Users = append(aud.Users, u)
		}
		if d != 0 && !slices.Contains(aud.Districts, d) {
			aud.Districts = append(aud.Districts, d)
		}
	}
	return aud, rows.Err()
}

// AlertAudience returns who alert id reached beyond its district's staff.
func (s *AlertService) AlertAudience(ctx context.Context, id int64) (api.Audience, error) {
	var aud api.Audience
	err := s.inTx(ctx, func(t *tx) error {
		var err error
		aud, err = t.audience(ctx, id)
		return err
	})
	if err != nil {
		return aud, storeErr("alert audience", err)
	}
	return aud, nil
}

func encodeAudience(a api.Audience) (string, error) {
	if a.IsZero() {
		return "", nil
	}
	b, err := json.Marshal(a)
	return string(b), err
}

func decodeAudience(s string) (api.Audience, error) {
	var a api.Audience
	if s == "" {
		return a, nil
	}
	err := json.Unmarshal([]byte(s), &a)
	return a, err
}

// BeatStreams records this replica's live streams by user (user name → open streams) at
// at, replacing what it recorded before. Every replica beats each tick; a replica that
// stops beating (it died) drops out once its beat is older than what EscalateUnheard is
// told to trust.
func (s *AlertService) BeatStreams(ctx context.Context, replica string, users map[string]int, at time.Time) error {
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, `DELETE FROM live_streams WHERE replica = ?`, replica); err != nil {
			return err
		}
		for u, n := range users {
			if n <= 0 || u == "" {
				continue
			}
			if _, err := t.exec(ctx, `INSERT INTO live_streams (replica, user_name, streams, beat_at) VALUES (?, ?, ?, ?)`,
				replica, u, n, ms(at)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return storeErr("beat streams", err)
	}
	return nil
}

// ListeningUsers returns the users with a live stream on some replica whose beat is at or
// after since.
func (s *AlertService) ListeningUsers(ctx context.Context, since time.Time) ([]string, error) {
	out := []string{}
	err := s.each(ctx, `SELECT DISTINCT user_name FROM live_streams WHERE beat_at >= ? ORDER BY user_name`, []any{ms(since)}, func(r *sql.Rows) error {
		var u string
		err := r.Scan(&u)
		out = append(out, u)
		return err
	})
	if err != nil {
		return nil, storeErr("listening users", err)
	}
	return out, nil
}

// EscalateUnheard moves on at once every open alert that escalates and whose current tier
// has nobody listening: no person of the tier's audience has a live stream beaten at or
// after heardSince. "Nobody is listening" is the dangerous case; an empty shift, a missing
// roster or a backup that is not connected all land here. Before it moves an alert, the
// tier's audience is brought up to the roster on duty now, so that at a change of shift the
// shift that came on (and listens) keeps the alerts of the one that left. Each step is a
// conditional update on the level, like EscalateDue, so replicas doing this together take
// each step once; an alert whose next tier is unheard too moves on again in the same call.
func (s *AlertService) EscalateUnheard(ctx context.Context, now, heardSince time.Time) (int, error) {
	n := 0
	for pass := 0; pass < alerts.MaxLevel; pass++ {
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT a.id, a.escalation_level FROM alerts a
			WHERE a.state = 'open' AND a.escalate_at IS NOT NULL AND a.escalation_level < ?
			AND NOT EXISTS (`+heardQuery+`)
			ORDER BY a.id LIMIT 200`), alerts.MaxLevel, ms(heardSince), string(alerts.TierDistrict), string(alerts.TierBackup))
		if err != nil {
			return n, storeErr("escalate unheard", err)
		}
		dues, err := scanDues(rows)
		if err != nil {
			return n, storeErr("escalate unheard", err)
		}
		moved := 0
		for _, d := range dues {
			ok, err := s.escalateStep(ctx, d, now, "nobody listening", func(t *tx, a alerts.Alert) (bool, error) {
				before, err := t.audienceSize(ctx, a.ID)
				if err != nil {
					return false, err
				}
				if err := t.widen(ctx, a, d.level, now); err != nil {
					return false, err
				}
				var heard int
				if err := t.row(ctx, `SELECT COUNT(*) FROM alerts a WHERE a.id = ? AND EXISTS (`+heardQuery+`)`,
					d.id, ms(heardSince), string(alerts.TierDistrict), string(alerts.TierBackup)).Scan(&heard); err != nil {
					return false, err
				}
				if heard == 0 {
					return true, nil
				}
				// The shift that came on hears it: tell them, or they count as hearing an
				// alert their streams never carried (events carry their audience).
				after, err := t.audienceSize(ctx, a.ID)
				if err != nil || after == before {
					return false, err
				}
				return false, t.appendEvent(ctx, alerts.EventUpdated, ChangeShift, a, now)
			})
			if err != nil {
				return n, err
			}
			if ok {
				moved++
			}
		}
		n += moved
		if moved == 0 {
			break
		}
	}
	return n, nil
}

// ChangeShift is the change of the event that tells the shift that came on about an open
// alert raised before it (EscalateUnheard).
const ChangeShift = "shift"

func (t *tx) audienceSize(ctx context.Context, id int64) (int, error) {
	var n int
	err := t.row(ctx, `SELECT COUNT(*) FROM alert_audience WHERE alert_id = ?`, id).Scan(&n)
	return n, err
}

// heardQuery finds a person of alert a's current tier with a live stream beaten at or
// after ?; its arguments: that time, then the district and backup tiers' names.
const heardQuery = `SELECT 1 FROM alert_audience au JOIN live_streams ls ON ls.user_name = au.user_name
	WHERE au.alert_id = a.id AND au.user_name <> '' AND ls.beat_at >= ?
	AND au.tier = CASE WHEN a.escalation_level = 0 THEN ? ELSE ? END`

type due struct {
	id    int64
	level int
}

func scanDues(rows *sql.Rows) ([]due, error) {
	defer rows.Close()
	var out []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.level); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// escalateStep moves alert d one tier up as alerts.Policy.NextMove decides, if it is still
// open at d's level, still escalating and, when proceed is set, proceed agrees (inside the
// transaction; the alert is then unheard); otherwise only once its deadline passed. It
// records the step, widens the audience to the new tier, audits it (why in the detail) and
// appends the escalated event. It reports whether it moved the alert.
func (s *DB) escalateStep(ctx context.Context, d due, now time.Time, why string, proceed func(*tx, alerts.Alert) (bool, error)) (bool, error) {
	moved := false
	err := s.inTx(ctx, func(t *tx) error {
		moved = false
		a, err := t.alert(ctx, d.id)
		if err != nil {
			return err
		}
		cond, args := `escalate_at <= ?`, []any{ms(now)}
		if proceed != nil {
			if ok, err := proceed(t, a); err != nil || !ok {
				return err
			}
			cond, args = `escalate_at IS NOT NULL`, nil
		}
		m, ok := s.policy.NextMove(a, proceed != nil, now)
		if !ok || a.State != alerts.StateOpen || a.EscalationLevel != d.level {
			// Acknowledged or moved on since it was selected (levels only grow): the
			// update below, conditional on both, would change nothing.
			return nil
		}
		if !m.Escalated(d.level) {
			moved, err = t.overdueAtTop(ctx, a, m, now, cond, args)
			return err
		}
		// The conditional write: replicas doing this together take each step once. The
		// overdue mark holds only for an assignee who still has not arrived.
		r, err := t.exec(ctx, `UPDATE alerts SET escalation_level = ?, escalate_at = ?,
			overdue_at = CASE WHEN ? = 1 AND assignee IS NOT NULL AND arrived_at IS NULL THEN COALESCE(overdue_at, ?) ELSE overdue_at END
			WHERE id = ? AND escalation_level = ? AND state = 'open' AND `+cond,
			append([]any{m.Level, nullableMs(m.EscalateAt), boolInt(m.Overdue), ms(now), d.id, d.level}, args...)...)
		if err != nil {
			return err
		}
		if k, err := r.RowsAffected(); err != nil || k == 0 {
			return err
		}
		if m.Overdue {
			if err := t.recordOverdue(ctx, a, now); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `INSERT INTO alert_escalations (alert_id, level, tier, at) VALUES (?, ?, ?, ?)`,
			d.id, m.Level, string(alerts.TierOf(m.Level)), ms(now)); err != nil {
			return err
		}
		if a, err = t.alert(ctx, d.id); err != nil {
			return err
		}
		if err := t.widen(ctx, a, m.Level, now); err != nil {
			return err
		}
		moved = true
		detail := string(alerts.TierOf(m.Level))
		if why != "" {
			detail += " (" + why + ")"
		}
		if err := t.audit(ctx, now, api.System, "alert.escalate", alertObject(d.id), detail); err != nil {
			return err
		}
		return t.appendEvent(ctx, alerts.EventEscalated, "escalated", a, now)
	})
	if err != nil {
		return false, storeErr(fmt.Sprintf("escalate alert %d", d.id), err)
	}
	return moved, nil
}

// recordOverdue puts in the timeline and the audit log that a's assignee became overdue,
// when a (read before the update that made it so) held one who had not arrived and was not
// overdue yet.
func (t *tx) recordOverdue(ctx context.Context, a alerts.Alert, now time.Time) error {
	if a.Assignee == nil || a.ArrivedAt != nil || a.OverdueAt != nil {
		return nil
	}
	if err := t.step(ctx, a.ID, now, alerts.ChangeOverdue, api.System, a.Assignee.Name); err != nil {
		return err
	}
	return t.audit(ctx, now, api.System, "alert.overdue", alertObject(a.ID), a.Assignee.Name)
}

// overdueAtTop writes move m of an open alert at the last tier, whose deadline passed: only
// a re-armed alert whose assignee still holds it has one (alerts.Policy.Rearm). Nothing is
// above, so the deadline goes and the assignee becomes overdue (anyone who sees the alert
// may take it over). cond and args are escalateStep's condition on the deadline.
func (t *tx) overdueAtTop(ctx context.Context, a alerts.Alert, m alerts.Move, now time.Time, cond string, args []any) (bool, error) {
	r, err := t.exec(ctx, `UPDATE alerts SET escalate_at = ?,
		overdue_at = CASE WHEN ? = 1 AND assignee IS NOT NULL AND arrived_at IS NULL THEN COALESCE(overdue_at, ?) ELSE overdue_at END
		WHERE id = ? AND escalation_level = ? AND state = 'open' AND `+cond,
		append([]any{nullableMs(m.EscalateAt), boolInt(m.Overdue), ms(now), a.ID, a.EscalationLevel}, args...)...)
	if err != nil {
		return false, err
	}
	if k, err := r.RowsAffected(); err != nil || k == 0 {
		return false, err
	}
	if m.Overdue {
		if err := t.recordOverdue(ctx, a, now); err != nil {
			return false, err
		}
	}
	if a, err = t.alert(ctx, a.ID); err != nil {
		return false, err
	}
	return true, t.appendEvent(ctx, alerts.EventUpdated, alerts.ChangeOverdue, a, now)
}

// rearm opens again the acknowledged alert a that a new press folded into, with the
// escalation deadline next (alerts.Policy.Rearm decided both), so the tier hears it again (a
// reraised event the console sounds for). An assignee keeps the alert. The update is
// conditional on nobody having arrived; the acknowledgement stays in the audit log and the
// event log.
func (t *tx) rearm(ctx context.Context, a alerts.Alert, next *time.Time, now time.Time) (alerts.Alert, bool, error) {
	r, err := t.exec(ctx, `UPDATE alerts SET state = 'open', acked_at = NULL, acked_by = NULL, escalate_at = ?
		WHERE id = ? AND state = 'acknowledged' AND arrived_at IS NULL`, nullableMs(next), a.ID)
	if err != nil {
		return a, false, err
	}
	if n, err := r.RowsAffected(); err != nil || n == 0 {
		return a, false, err
	}
	if err := t.audit(ctx, now, api.System, "alert.reraise", alertObject(a.ID),
		fmt.Sprintf("pressed again after %s acknowledged; nobody arrived", a.AckedBy)); err != nil {
		return a, false, err
	}
	a, err = t.alert(ctx, a.ID)
	return a, err == nil, err
}
