package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

const alertColumns = `id, state, type, priority, gateway_id, device_id, municipality, district_id, home_id,
	registered, raised_at, last_at, count, cleared_at, acked_at, acked_by, resolved_at, resolved_by, outcome,
	escalation_level, escalate_at, details, test, assignee, assignee_user, taken_at, enroute_at, arrived_at, overdue_at`

type scanner interface{ Scan(dest ...any) error }

func scanAlert(r scanner) (alerts.Alert, error) {
	var (
		a                                    alerts.Alert
		typ, prio, mun, registered, test     int
		district                             sql.NullInt64
		home, ackedBy, resolvedBy, outcome   sql.NullString
		raised, last                         int64
		cleared, acked, resolved, escalateAt sql.NullInt64
		details                              string
		assignee                             sql.NullString
		assigneeUser                         sql.NullInt64
		taken, enroute, arrived, overdue     sql.NullInt64
	)
	err := r.Scan(&a.ID, &a.State, &typ, &prio, &a.Gateway, &a.Device, &mun, &district, &home,
		&registered, &raised, &last, &a.Count, &cleared, &acked, &ackedBy, &resolved, &resolvedBy, &outcome,
		&a.EscalationLevel, &escalateAt, &details, &test, &assignee, &assigneeUser, &taken, &enroute, &arrived, &overdue)
	if err != nil {
		return a, err
	}
	a.Type, a.Priority, a.Municipality = vagt.AlarmType(typ), vagt.Priority(prio), vagt.MunicipalityCode(mun)
	a.District, a.Home, a.Registered = district.Int64, vagt.HomeID(home.String), registered != 0
	a.RaisedAt, a.LastAt = fromMs(raised), fromMs(last)
	a.ClearedAt, a.AckedAt, a.ResolvedAt, a.EscalateAt = nullMs(cleared), nullMs(acked), nullMs(resolved), nullMs(escalateAt)
	a.AckedBy, a.ResolvedBy, a.Outcome = ackedBy.String, resolvedBy.String, alerts.Outcome(outcome.String)
	a.Tier = alerts.TierOf(a.EscalationLevel)
	a.Test = test != 0
	if assignee.Valid {
		a.Assignee = &alerts.Assignee{ID: assigneeUser.Int64, Name: assignee.String}
	}
	a.TakenAt, a.EnrouteAt, a.ArrivedAt, a.OverdueAt = nullMs(taken), nullMs(enroute), nullMs(arrived), nullMs(overdue)
	a.Step = alerts.StepOf(&a)
	if details != "" {
		if err := json.Unmarshal([]byte(details), &a.Details); err != nil {
			return a, fmt.Errorf("alert %d details: %w", a.ID, err)
		}
	}
	return a, nil
}

// alertTx reads one alert inside t; ErrNotFound when there is none.
func (t *tx) alert(ctx context.Context, id int64) (alerts.Alert, error) {
	a, err := scanAlert(t.row(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("alert %d: %w", id, api.ErrNotFound)
	}
	return a, err
}

// eventLogLock serialises the event log's writers on PostgreSQL (appendEvent).
const eventLogLock = 7260002

// appendEvent records a change of a in the stream's log. On PostgreSQL the event ids must
// become visible in id order, or a reader that has seen id N could later miss a smaller id
// committed after it: an advisory lock held to commit serialises the event writers (the
// alert work before it runs in parallel), and NOTIFY, sent at commit, wakes every replica.
func (t *tx) appendEvent(ctx context.Context, kind alerts.EventKind, change string, a alerts.Alert, now time.Time) error {
	if t.s.dialect == postgres {
		if _, err := t.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, eventLogLock); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `SELECT pg_notify('vagt_events', '')`); err != nil {
			return err
		}
	}
	data, err := json.Marshal(alerts.EventData{Change: change, Alert: a})
	if err != nil {
		return fmt.Errorf("event data: %w", err)
	}
	var district any
	if a.District != 0 {
		district = a.District
	}
	aud, err := t.audience(ctx, a.ID) // who it reached beyond the district: audience.go
	if err != nil {
		return err
	}
	audience, err := encodeAudience(aud)
	if err != nil {
		return fmt.Errorf("event audience: %w", err)
	}
	if _, err := t.exec(ctx, `INSERT INTO events (at, kind, alert_id, municipality, district_id, data, audience) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		ms(now), string(kind), a.ID, int(a.Municipality), district, string(data), audience); err != nil {
		return err
	}
	t.events = true
	return nil
}

// EventsAfter returns up to limit events with ids above after, in id order.
func (s *AlertService) EventsAfter(ctx context.Context, after int64, limit int) ([]alerts.Event, error) {
	evs, err := s.scanEvents(ctx, `SELECT id, at, kind, municipality, district_id, data, audience FROM events WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, storeErr("events", err)
	}
	return evs, nil
}

// scanEvents reads events; query selects id, at, kind, municipality, district_id, data,
// audience.
func (s *AlertService) scanEvents(ctx context.Context, query string, args ...any) ([]alerts.Event, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []alerts.Event
	for rows.Next() {
		var (
			ev       alerts.Event
			at       int64
			mun      int
			district sql.NullInt64
			data     string
			audience string
		)
		if err := rows.Scan(&ev.ID, &at, &ev.Kind, &mun, &district, &data, &audience); err != nil {
			return nil, err
		}
		if ev.Audience, err = decodeAudience(audience); err != nil {
			return nil, fmt.Errorf("event %d audience: %w", ev.ID, err)
		}
		ev.At, ev.Municipality, ev.District, ev.Data = fromMs(at), vagt.MunicipalityCode(mun), district.Int64, json.RawMessage(data)
		out = append(out, ev)
	}
	return out, rows.Err()
}

// LastEventID returns the newest event's id, 0 when there is none.
func (s *AlertService) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM events`).Scan(&id); err != nil {
		return 0, storeErr("last event", err)
	}
	return id, nil
}

// nullableMs is a deadline as a column value: NULL for none.
func nullableMs(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ms(*t)
}
