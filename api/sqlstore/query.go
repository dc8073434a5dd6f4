package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// MaxListLimit bounds one page of alerts.
const MaxListLimit = 500

// ListAlerts returns the alerts in scope that match f, newest first, one page.
func (s *AlertService) ListAlerts(ctx context.Context, scope api.Scope, f alerts.Filter) ([]alerts.Alert, error) {
	var (
		where []string
		args  []any
	)
	if !scope.All {
		where = append(where, "municipality = ?")
		args = append(args, int(scope.Municipality))
		if len(scope.Districts) > 0 {
			// Their districts' alerts, and those that reached them as the shift on duty,
			// the backup (a person, or their district as a team) or central on-call.
			ph := strings.TrimSuffix(strings.Repeat("?, ", len(scope.Districts)), ", ")
			where = append(where, "(district_id IS NULL OR district_id IN ("+ph+
				") OR EXISTS (SELECT 1 FROM alert_audience au WHERE au.alert_id = alerts.id AND ((au.user_name = ? AND au.user_name <> '') OR au.district_id IN ("+ph+"))))")
			for _, d := range scope.Districts {
				args = append(args, d)
			}
			args = append(args, scope.User)
			for _, d := range scope.Districts {
				args = append(args, d)
			}
		}
	}
	if f.State != "" {
		if err := f.State.Validate(); err != nil {
			return nil, err
		}
		where = append(where, "state = ?")
		args = append(args, string(f.State))
	}
	if f.District != 0 {
		where = append(where, "district_id = ?")
		args = append(args, f.District)
	}
	if f.Priority != 0 {
		where = append(where, "priority = ?")
		args = append(args, int(f.Priority))
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	if f.Limit <= 0 || f.Limit > MaxListLimit {
		f.Limit = MaxListLimit
	}
	query := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, storeErr("list alerts", err)
	}
	defer rows.Close()
	out := []alerts.Alert{}
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, storeErr("list alerts", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("list alerts", err)
	}
	return out, nil
}

// Alert returns one alert without personal data.
func (s *AlertService) Alert(ctx context.Context, id int64) (alerts.Alert, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, s.q(`SELECT `+alertColumns+` FROM alerts WHERE id = ?`), id))
	if err == sql.ErrNoRows {
		return a, fmt.Errorf("alert %d: %w", id, api.ErrNotFound)
	} else if err != nil {
		return a, storeErr("alert", err)
	}
	return a, nil
}

// AlertDetail returns an alert that scope reaches (its district, or the audience it
// escalated to) with the citizen, the home's devices, notes, escalation steps and when the
// citizen is back if away at now; api.ErrOutOfScope, answered as a missing alert, for one
// it does not reach. The caller writes the audit record.
func (s *AlertService) AlertDetail(ctx context.Context, id int64, scope api.Scope, now time.Time) (alerts.Detail, error) {
	a, err := s.Alert(ctx, id)
	if err != nil {
		return alerts.Detail{}, err
	}
	d := alerts.Detail{Alert: a, Devices: []alerts.Device{}, Notes: []alerts.Note{}, Escalations: []alerts.Escalation{}}
	if d.Audience, err = s.AlertAudience(ctx, id); err != nil {
		return d, err
	}
	if !scope.Reaches(a.Municipality, a.District, d.Audience) {
		return alerts.Detail{}, fmt.Errorf("alert %d: %w", id, api.ErrOutOfScope)
	}
	if a.Home != "" {
		if d.AwayUntil, err = s.awayUntil(ctx, a.Home, now); err != nil {
			return d, err
		}
	}
	if a.Home != "" {
		var (
			c       api.Citizen
			citizen sql.NullInt64
		)
		err := s.db.QueryRowContext(ctx, s.q(`SELECT c.id, c.name, c.address, c.key_box_note FROM homes h
			JOIN citizens c ON c.id = h.citizen_id WHERE h.id = ?`), string(a.Home)).Scan(&citizen, &c.Name, &c.Address, &c.KeyBoxNote)
		if err != nil && err != sql.ErrNoRows {
			return d, storeErr("alert citizen", err)
		}
		if citizen.Valid {
			c.ID = citizen.Int64
			c.Contacts = []api.Contact{}
			if err := s.each(ctx, `SELECT name, phone, relation FROM contacts WHERE citizen_id = ? ORDER BY id`, []any{c.ID}, func(r *sql.Rows) error {
				var ct api.Contact
				err := r.Scan(&ct.Name, &ct.Phone, &ct.Relation)
				c.Contacts = append(c.Contacts, ct)
				return err
			}); err != nil {
				return d, storeErr("alert contacts", err)
			}
			d.Citizen = &c
		}
	}
	err = s.each(ctx, `SELECT id, technology, label, last_seen, battery, test_until, last_tested_at FROM devices WHERE gateway_id = ? ORDER BY id`, []any{string(a.Gateway)}, func(r *sql.Rows) error {
		var (
			dev                     alerts.Device
			tech                    int
			seen, testUntil, tested sql.NullInt64
		)
		err := r.Scan(&dev.ID, &tech, &dev.Label, &seen, &dev.Battery, &testUntil, &tested)
		dev.Technology, dev.LastSeen = vagt.Technology(tech), nullMs(seen)
		dev.TestUntil, dev.LastTestedAt = nullMs(testUntil), nullMs(tested)
		d.Devices = append(d.Devices, dev)
		return err
	})
	if err != nil {
		return d, storeErr("alert devices", err)
	}
	err = s.each(ctx, `SELECT at, author, text FROM alert_notes WHERE alert_id = ? ORDER BY id`, []any{id}, func(r *sql.Rows) error {
		var (
			n  alerts.Note
			at int64
		)
		err := r.Scan(&at, &n.Author, &n.Text)
		n.At = fromMs(at)
		d.Notes = append(d.Notes, n)
		return err
	})
	if err != nil {
		return d, storeErr("alert notes", err)
	}
	err = s.each(ctx, `SELECT level, tier, at FROM alert_escalations WHERE alert_id = ? ORDER BY level`, []any{id}, func(r *sql.Rows) error {
		var (
			e  alerts.Escalation
			at int64
		)
		err := r.Scan(&e.Level, &e.Tier, &at)
		e.At = fromMs(at)
		d.Escalations = append(d.Escalations, e)
		return err
	})
	if err != nil {
		return d, storeErr("alert escalations", err)
	}
	d.Timeline, err = s.timeline(ctx, d) // presence.go
	return d, err
}

func (s *DB) each(ctx context.Context, query string, args []any, f func(*sql.Rows) error) error {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
