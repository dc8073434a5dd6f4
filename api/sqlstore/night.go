package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/night"
	"github.com/vagt-dk/vagt/api/registry"
)

// Night supervision (api/night, docs/night-supervision.md): the homes whose care plan has
// night checks, and the checks made or missed (migration 9).

// NightHomes returns the homes in use in scope whose plan has night checks (the sweep for
// missed checks asks with api.Scope{All: true}).
func (s *NightService) NightHomes(ctx context.Context, scope api.Scope) ([]night.PlannedHome, error) {
	query := `SELECT h.id, d.municipality, h.district_id, COALESCE(ci.name, ''), COALESCE(g.id, ''), COALESCE(g.online, 0), g.last_seen, c.effective, c.changed_at,
		c.away_from, c.away_until
		FROM homes h JOIN districts d ON d.id = h.district_id
		JOIN home_configs c ON c.home_id = h.id
		LEFT JOIN citizens ci ON ci.id = h.citizen_id
		LEFT JOIN gateways g ON g.home_id = h.id AND g.decommissioned_at IS NULL
		WHERE h.decommissioned_at IS NULL AND c.effective LIKE '%"night_checks"%'`
	var args []any
	if !scope.All { // as api.Scope.Allows: the municipality, and its districts when named
		query += ` AND d.municipality = ?`
		args = append(args, int(scope.Municipality))
		if len(scope.Districts) > 0 {
			query += ` AND h.district_id IN (?` + strings.Repeat(", ?", len(scope.Districts)-1) + `)`
			for _, d := range scope.Districts {
				args = append(args, d)
			}
		}
	}
	query += ` ORDER BY h.id, g.id LIMIT 20000`
	var out []night.PlannedHome
	err := s.each(ctx, query, args, func(r *sql.Rows) error {
		var (
			h        night.PlannedHome
			home, gw string
			m        int64
			online   int
			seen     sql.NullInt64
			changed  int64
			awayFrom sql.NullInt64
			awayTo   sql.NullInt64
		)
		if err := r.Scan(&home, &m, &h.District, &h.Citizen, &gw, &online, &seen, &h.Effective, &changed, &awayFrom, &awayTo); err != nil {
			return err
		}
		h.AwayFrom, h.AwayUntil = nullMs(awayFrom), nullMs(awayTo)
		h.ChangedAt = fromMs(changed)
		h.Home, h.Municipality, h.Gateway, h.Online, h.LastSeen = vagt.HomeID(home), vagt.MunicipalityCode(m), vagt.GatewayID(gw), online != 0, nullMs(seen)
		if n := len(out); n > 0 && out[n-1].Home == h.Home {
			return nil // a second gateway in the home: the first speaks for it
		}
		out = append(out, h)
		return nil
	})
	if err != nil {
		return nil, storeErr("night homes", err)
	}
	return out, nil
}

const nightColumns = `id, home_id, municipality, due_at, checked_at, actor, decision, grade, state, note, alert_id, missed, missed_alert_id`

func scanNight(r interface{ Scan(...any) error }) (night.Check, error) {
	var (
		c                  night.Check
		home, state        string
		mun, due, checked  int64
		alert, missedAlert sql.NullInt64
		missed             int
	)
	err := r.Scan(&c.ID, &home, &mun, &due, &checked, &c.By, &c.Decision, &c.Grade, &state, &c.Note, &alert, &missed, &missedAlert)
	c.Home, c.Municipality, c.DueAt, c.CheckedAt, c.State = vagt.HomeID(home), vagt.MunicipalityCode(mun), fromMs(due), fromMs(checked), night.RawJSON(state)
	c.Missed = missed != 0
	if alert.Valid {
		c.AlertID = &alert.Int64
	}
	if missedAlert.Valid {
		c.MissedAlertID = &missedAlert.Int64
	}
	return c, err
}

// RecordNightCheck stores staff's check of a home at a due time, in one transaction with
// its audit entry and, for a visit, the alert it raises (the same path as an alarm from
// the lane: folding, escalation, the stream). A check of a due time nobody checked in its
// window (missed) takes the place of the missed record and keeps the mark; a second check
// of the same due time is a conflict. A home outside scope is api.ErrOutOfScope, and
// nothing is written.
func (s *NightService) RecordNightCheck(ctx context.Context, scope api.Scope, c night.Check, visit *night.VisitAlert, now time.Time) (night.Check, error) {
	var out night.Check
	err := s.inTx(ctx, func(t *tx) error {
		mun, err := t.homeScoped(ctx, c.Home, scope) // gps.go
		if err != nil {
			return err
		}
		c.Municipality = mun
		var id int64
		var decision string
		err = t.row(ctx, `SELECT id, decision FROM night_checks WHERE home_id = ? AND due_at = ?`, string(c.Home), ms(c.DueAt)).Scan(&id, &decision)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			err = t.row(ctx, `INSERT INTO night_checks (home_id, municipality, due_at, checked_at, actor, decision, grade, state, note)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, string(c.Home), int(c.Municipality), ms(c.DueAt), ms(now),
				c.By, c.Decision, c.Grade, string(c.State), c.Note).Scan(&id)
			if err != nil {
				return err
			}
		case err != nil:
			return err
		case decision != night.Missed:
			return fmt.Errorf("%w: the %s check of home %s was already recorded", api.ErrConflict, c.DueAt.Format(time.RFC3339), c.Home)
		default:
			if _, err := t.exec(ctx, `UPDATE night_checks SET checked_at = ?, actor = ?, decision = ?, grade = ?, state = ?, note = ? WHERE id = ?`,
				ms(now), c.By, c.Decision, c.Grade, string(c.State), c.Note, id); err != nil {
				return err
			}
		}
		// The audit before the raise: one lock order (audit, then event log; audit.go).
		if err := t.audit(ctx, now, c.By, "night.check", "home/"+string(c.Home),
			fmt.Sprintf("due %s: %s (%s)", c.DueAt.UTC().Format(time.RFC3339), c.Decision, c.Grade)); err != nil {
			return err
		}
		if visit != nil {
			details := map[string]string{"night_check": strconv.FormatInt(id, 10), "due_at": c.DueAt.UTC().Format(time.RFC3339), "by": c.By}
			for k, v := range visit.Details {
				details[k] = v
			}
			res, err := t.raise(ctx, nightRaise(vagt.AlarmNightVisit, visit.Gateway, c.Municipality, details, now), now)
			if err != nil {
				return err
			}
			if _, err := t.exec(ctx, `UPDATE night_checks SET alert_id = ? WHERE id = ?`, res.Alert.ID, id); err != nil {
				return err
			}
		}
		out, err = scanNight(t.row(ctx, `SELECT `+nightColumns+` FROM night_checks WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return night.Check{}, storeErr("record night check", err)
	}
	return out, nil
}

// MissNightCheck records that nobody checked the home at the due time within its window
// and raises a night_check_missed alert, in one transaction with its audit entry. A due
// time already recorded (checked, or missed by another replica) changes nothing: it
// returns false.
func (s *NightService) MissNightCheck(ctx context.Context, c night.Check, gw vagt.GatewayID, now time.Time) (bool, error) {
	created := false
	err := s.inTx(ctx, func(t *tx) error {
		created = false
		var id int64
		err := t.row(ctx, `INSERT INTO night_checks (home_id, municipality, due_at, checked_at, actor, decision, grade, state, note, missed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', 1) ON CONFLICT (home_id, due_at) DO NOTHING RETURNING id`,
			string(c.Home), int(c.Municipality), ms(c.DueAt), ms(now), api.System, night.Missed, c.Grade, string(c.State)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		created = true
		// The audit before the raise: one lock order (audit, then event log; audit.go).
		if err := t.audit(ctx, now, api.System, "night.missed", "home/"+string(c.Home), "due "+c.DueAt.UTC().Format(time.RFC3339)); err != nil {
			return err
		}
		details := map[string]string{"night_check": strconv.FormatInt(id, 10), "due_at": c.DueAt.UTC().Format(time.RFC3339)}
		res, err := t.raise(ctx, nightRaise(vagt.AlarmNightCheckMissed, gw, c.Municipality, details, now), now)
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, `UPDATE night_checks SET missed_alert_id = ? WHERE id = ?`, res.Alert.ID, id)
		return err
	})
	if err != nil {
		return false, storeErr("miss night check", err)
	}
	return created, nil
}

// nightRaise is a platform-raised alert about the home as a whole (the device is the
// gateway, as for inactivity): it folds into an unresolved one of the same type.
func nightRaise(typ vagt.AlarmType, gw vagt.GatewayID, mun vagt.MunicipalityCode, details map[string]string, now time.Time) raise {
	return raise{gateway: gw, device: vagt.DeviceID(gw), typ: typ, prio: typ.Priority(), municipality: mun, at: now, details: details}
}

// NightChecks returns the checks of a home in scope with due times in [from, to), newest
// first. The caller audits the read.
func (s *NightService) NightChecks(ctx context.Context, scope api.Scope, home vagt.HomeID, from, to time.Time, limit int) ([]night.Check, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var out []night.Check
	err := s.inTx(ctx, func(t *tx) error {
		out = []night.Check{}
		if _, err := t.homeScoped(ctx, home, scope); err != nil { // gps.go
			return err
		}
		rows, err := t.query(ctx, `SELECT `+nightColumns+` FROM night_checks WHERE home_id = ? AND due_at >= ? AND due_at < ? ORDER BY due_at DESC LIMIT ?`,
			string(home), ms(from), ms(to), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanNight(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, storeErr("night checks", err)
	}
	return out, nil
}

// NightDues returns, per home, the due times in [from, to) that have a check recorded
// (made or missed).
func (s *NightService) NightDues(ctx context.Context, from, to time.Time) (map[vagt.HomeID][]time.Time, error) {
	out := map[vagt.HomeID][]time.Time{}
	err := s.each(ctx, `SELECT home_id, due_at FROM night_checks WHERE due_at >= ? AND due_at < ?`, []any{ms(from), ms(to)}, func(r *sql.Rows) error {
		var (
			home string
			due  int64
		)
		err := r.Scan(&home, &due)
		out[vagt.HomeID(home)] = append(out[vagt.HomeID(home)], fromMs(due))
		return err
	})
	if err != nil {
		return nil, storeErr("night dues", err)
	}
	return out, nil
}

// NightCheckCounts counts the checks due in [from, to) per municipality (none: all).
func (s *NightService) NightCheckCounts(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.MunicipalityCode]night.CheckCounts, error) {
	query := `SELECT municipality, decision, missed, COUNT(*) FROM night_checks WHERE due_at >= ? AND due_at < ?`
	args := []any{ms(from), ms(to)}
	if len(muns) > 0 {
		query += ` AND municipality IN (?` + strings.Repeat(", ?", len(muns)-1) + `)`
		for _, m := range muns {
			args = append(args, int(m))
		}
	}
	query += ` GROUP BY municipality, decision, missed`
	out := map[vagt.MunicipalityCode]night.CheckCounts{}
	err := s.each(ctx, query, args, func(r *sql.Rows) error {
		var (
			m, n     int64
			decision string
			missed   int
		)
		if err := r.Scan(&m, &decision, &missed, &n); err != nil {
			return err
		}
		c := out[vagt.MunicipalityCode(m)]
		switch decision {
		case night.AllWell:
			c.Remote += int(n)
		case night.Visit:
			c.Visits += int(n)
		}
		if missed != 0 {
			c.Missed += int(n)
		}
		out[vagt.MunicipalityCode(m)] = c
		return nil
	})
	if err != nil {
		return nil, storeErr("night check counts", err)
	}
	return out, nil
}

// citizenNightChecks are the night checks of the citizen's homes, oldest first, for the
// citizen's export.
func (s *DB) citizenNightChecks(ctx context.Context, citizen int64) ([]registry.CitizenNightCheck, error) {
	out := []registry.CitizenNightCheck{}
	err := s.each(ctx, `SELECT `+nightColumns+` FROM night_checks WHERE home_id IN (SELECT id FROM homes WHERE citizen_id = ?)
		ORDER BY due_at, id`, []any{citizen}, func(r *sql.Rows) error {
		c, err := scanNight(r)
		out = append(out, registry.CitizenNightCheck{Home: c.Home, DueAt: c.DueAt, CheckedAt: c.CheckedAt, By: c.By,
			Decision: c.Decision, Grade: c.Grade, State: json.RawMessage(c.State), Note: c.Note, Missed: c.Missed})
		return err
	})
	return out, err
}

// eraseNightChecks strips the state seen (personal: in bed since, last motion), the note
// and who checked from the night checks matching where, as an erasure or the end of the
// keeping period does for alerts; the due time, decision and grade stay for the counts.
func (t *tx) eraseNightChecks(ctx context.Context, where string, args ...any) error {
	_, err := t.exec(ctx, `UPDATE night_checks SET state = '{}', note = '', actor = '' WHERE state <> '{}' AND `+where, args...)
	return err
}
