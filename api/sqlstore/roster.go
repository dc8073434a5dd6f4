package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/roster"
)

// rosterMigration is migration 11 (docs/alerts.md, "Rosters and escalation"): each
// district's roster (its shifts as JSON: the roster is read and written whole), the
// municipality's central on-call, who each alert reached beyond its district's staff
// (alert_audience, by tier), each event's audience for the live streams, and each replica's
// live streams by user (live_streams, refreshed every tick) so that any replica can tell
// whether anybody on a tier is listening.
const rosterMigration = `
CREATE TABLE rosters (
	district_id BIGINT PRIMARY KEY REFERENCES districts(id) ON DELETE CASCADE,
	shifts TEXT NOT NULL,
	updated_at BIGINT NOT NULL,
	updated_by TEXT NOT NULL
);
CREATE TABLE central_on_call (
	municipality INTEGER NOT NULL REFERENCES municipalities(code),
	user_name TEXT NOT NULL,
	PRIMARY KEY (municipality, user_name)
);
CREATE TABLE alert_audience (
	alert_id BIGINT NOT NULL REFERENCES alerts(id),
	tier TEXT NOT NULL,
	user_name TEXT NOT NULL DEFAULT '',
	district_id BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (alert_id, tier, user_name, district_id)
);
CREATE INDEX alert_audience_user ON alert_audience (user_name, alert_id);
CREATE INDEX alert_audience_district ON alert_audience (district_id, alert_id);
ALTER TABLE events ADD COLUMN audience TEXT NOT NULL DEFAULT '';
CREATE TABLE live_streams (
	replica TEXT NOT NULL,
	user_name TEXT NOT NULL,
	streams INTEGER NOT NULL,
	beat_at BIGINT NOT NULL,
	PRIMARY KEY (replica, user_name)
);
CREATE INDEX live_streams_user ON live_streams (user_name, beat_at);
`

// Roster returns a district's roster; one never saved has no shifts. ErrNotFound when the
// district does not exist, api.ErrOutOfScope when it is outside the scope (decided on the
// row read).
func (s *RosterService) Roster(ctx context.Context, scope api.Scope, district int64) (roster.Roster, error) {
	r := roster.Roster{District: district, Shifts: []roster.Shift{}}
	var (
		m      int
		shifts sql.NullString
		at     sql.NullInt64
		by     sql.NullString
	)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT d.municipality, r.shifts, r.updated_at, r.updated_by
		FROM districts d LEFT JOIN rosters r ON r.district_id = d.id WHERE d.id = ?`), district).Scan(&m, &shifts, &at, &by)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("district %d: %w", district, api.ErrNotFound)
	} else if err != nil {
		return r, storeErr("roster", err)
	}
	r.Municipality = vagt.MunicipalityCode(m)
	if !scope.Allows(r.Municipality, 0) {
		return roster.Roster{}, fmt.Errorf("district %d: %w", district, api.ErrOutOfScope)
	}
	if !shifts.Valid {
		return r, nil
	}
	if err := json.Unmarshal([]byte(shifts.String), &r.Shifts); err != nil {
		return r, storeErr("roster", fmt.Errorf("district %d: stored shifts: %w", district, err))
	}
	r.UpdatedAt, r.UpdatedBy = nullMs(at), by.String
	return r, nil
}

// SaveRoster replaces a district's roster, audited (roster.update) in the same
// transaction. A district outside the scope is api.ErrOutOfScope, decided first in that
// transaction: nothing is checked, saved or audited. Nothing is saved unless all of it is
// valid: every shift (roster.Validate), every person a known user, every backup team a
// district of the same municipality; the error (api.FieldErrors, an api.ErrInvalid) names
// every bad field.
func (s *RosterService) SaveRoster(ctx context.Context, scope api.Scope, r roster.Roster, actor string, now time.Time) (roster.Roster, error) {
	if r.Shifts == nil {
		r.Shifts = []roster.Shift{}
	}
	var invalid error // answered as it is, unwrapped
	err := s.inTx(ctx, func(t *tx) error {
		m, err := t.municipalityInScope(ctx, scope, fmt.Sprintf("district %d", r.District), districtMunicipality, r.District)
		if err != nil {
			return err
		}
		r.Municipality = m
		if err := r.Validate(); err != nil {
			invalid = err
			return err
		}
		var bad api.FieldErrors
		for i, sh := range r.Shifts {
			for j, u := range sh.Staff {
				if ok, err := t.userIn(ctx, u, m); err != nil {
					return err
				} else if !ok {
					bad = append(bad, api.FieldError{Field: fmt.Sprintf("shifts[%d].staff[%d]", i, j), Reason: fmt.Sprintf("no user %q in municipality %d", u, m)})
				}
			}
			if u := sh.Backup.User; u != "" {
				if ok, err := t.userIn(ctx, u, m); err != nil {
					return err
				} else if !ok {
					bad = append(bad, api.FieldError{Field: fmt.Sprintf("shifts[%d].backup.user", i), Reason: fmt.Sprintf("no user %q in municipality %d", u, m)})
				}
			}
			if d := sh.Backup.District; d != 0 {
				var dm int
				err := t.row(ctx, `SELECT municipality FROM districts WHERE id = ?`, d).Scan(&dm)
				if errors.Is(err, sql.ErrNoRows) || (err == nil && vagt.MunicipalityCode(dm) != m) {
					bad = append(bad, api.FieldError{Field: fmt.Sprintf("shifts[%d].backup.district", i), Reason: fmt.Sprintf("no district %d in municipality %d", d, m)})
				} else if err != nil {
					return err
				}
			}
		}
		if len(bad) > 0 {
			return bad
		}
		b, err := json.Marshal(r.Shifts)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO rosters (district_id, shifts, updated_at, updated_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (district_id) DO UPDATE SET shifts = excluded.shifts, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			r.District, string(b), ms(now), actor); err != nil {
			return err
		}
		staffed := 0
		for _, sh := range r.Shifts {
			if len(sh.Staff) > 0 {
				staffed++
			}
		}
		return t.audit(ctx, now, actor, "roster.update", fmt.Sprintf("district/%d", r.District),
			fmt.Sprintf("%d shifts, %d with staff", len(r.Shifts), staffed))
	})
	if invalid != nil {
		return r, invalid
	}
	if err != nil {
		return r, storeErr("save roster", err)
	}
	at := fromMs(ms(now))
	r.UpdatedAt, r.UpdatedBy = &at, actor
	return r, nil
}

// userIn reports whether name is a user of municipality m (an admin, of none, counts), or
// an identity provider's user ("oidc:…"), whom the store only meets when they sign in.
func (t *tx) userIn(ctx context.Context, name string, m vagt.MunicipalityCode) (bool, error) {
	if strings.HasPrefix(name, "oidc:") {
		return true, nil
	}
	var mun sql.NullInt64
	err := t.row(ctx, `SELECT municipality FROM users WHERE name = ?`, name).Scan(&mun)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return !mun.Valid || vagt.MunicipalityCode(mun.Int64) == m, nil
}

// CentralOnCall returns the municipality's central on-call, by user name; a municipality
// outside the scope is api.ErrOutOfScope.
func (s *RosterService) CentralOnCall(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode) ([]string, error) {
	if !scope.Allows(m, 0) {
		return nil, fmt.Errorf("municipality %d: %w", m, api.ErrOutOfScope)
	}
	return s.centralOnCall(ctx, m)
}

func (s *RosterService) centralOnCall(ctx context.Context, m vagt.MunicipalityCode) ([]string, error) {
	out := []string{}
	err := s.each(ctx, `SELECT user_name FROM central_on_call WHERE municipality = ? ORDER BY user_name`, []any{int(m)}, func(r *sql.Rows) error {
		var u string
		err := r.Scan(&u)
		out = append(out, u)
		return err
	})
	if err != nil {
		return nil, storeErr("central on-call", err)
	}
	return out, nil
}

// SaveCentralOnCall replaces the municipality's central on-call, audited
// (central_on_call.update); every name must be a user of the municipality. A municipality
// outside the scope is api.ErrOutOfScope before anything is checked: nothing saved or
// audited.
func (s *RosterService) SaveCentralOnCall(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, users []string, actor string, now time.Time) ([]string, error) {
	if !scope.Allows(m, 0) {
		return nil, fmt.Errorf("municipality %d: %w", m, api.ErrOutOfScope)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if len(users) > roster.MaxStaffPerShift {
		return nil, &api.FieldError{Field: "users", Reason: fmt.Sprintf("%d people, at most %d", len(users), roster.MaxStaffPerShift)}
	}
	users = slices.Clone(users)
	slices.Sort(users)
	users = slices.Compact(users)
	err := s.inTx(ctx, func(t *tx) error {
		var bad api.FieldErrors
		for i, u := range users {
			if ok, err := t.userIn(ctx, u, m); err != nil {
				return err
			} else if !ok || u == "" {
				bad = append(bad, api.FieldError{Field: fmt.Sprintf("users[%d]", i), Reason: fmt.Sprintf("no user %q in municipality %d", u, m)})
			}
		}
		if len(bad) > 0 {
			return bad
		}
		if _, err := t.exec(ctx, `DELETE FROM central_on_call WHERE municipality = ?`, int(m)); err != nil {
			return err
		}
		for _, u := range users {
			if _, err := t.exec(ctx, `INSERT INTO central_on_call (municipality, user_name) VALUES (?, ?)`, int(m), u); err != nil {
				return err
			}
		}
		return t.audit(ctx, now, actor, "central_on_call.update", fmt.Sprintf("municipality/%d", m), fmt.Sprintf("%d people", len(users)))
	})
	if err != nil {
		return nil, storeErr("save central on-call", err)
	}
	return users, nil
}

// DutyAt answers who is on duty in every district of municipality m at t; a municipality
// outside the scope is api.ErrOutOfScope. (Escalation reads the shift on duty in its own
// transaction, onDuty, not through this.)
func (s *RosterService) DutyAt(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, at time.Time) (roster.Board, error) {
	out := roster.Board{At: at, Municipality: m, Districts: []roster.DistrictDuty{}}
	if !scope.Allows(m, 0) {
		return out, fmt.Errorf("municipality %d: %w", m, api.ErrOutOfScope)
	}
	var err error
	if out.Central, err = s.centralOnCall(ctx, m); err != nil {
		return out, err
	}
	err = s.inTx(ctx, func(t *tx) error {
		out.Districts = out.Districts[:0]
		rows, err := t.query(ctx, `SELECT id, name FROM districts WHERE municipality = ? ORDER BY id`, int(m))
		if err != nil {
			return err
		}
		var ds []roster.DistrictDuty
		for rows.Next() {
			var d roster.DistrictDuty
			if err := rows.Scan(&d.District, &d.Name); err != nil {
				rows.Close()
				return err
			}
			ds = append(ds, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range ds {
			d.Staff, d.BackupStaff = []string{}, []string{}
			duty, ok, err := t.onDuty(ctx, d.District, at)
			if err != nil {
				return err
			}
			if ok {
				d.Shift = &roster.ShiftOnDuty{Index: duty.Index, Kind: duty.Shift.Kind, From: duty.From, Until: duty.Until}
				d.Staff = append(d.Staff, duty.Shift.Staff...)
				d.Backup = duty.Shift.Backup
				if team := duty.Shift.Backup.District; team != 0 {
					if td, ok, err := t.onDuty(ctx, team, at); err != nil {
						return err
					} else if ok {
						d.BackupStaff = append(d.BackupStaff, td.Shift.Staff...)
					}
				}
			}
			out.Districts = append(out.Districts, d)
		}
		return nil
	})
	if err != nil {
		return out, storeErr("duty", err)
	}
	return out, nil
}

// onDuty returns the shift on duty in a district at t. A district without a roster, or
// whose stored roster cannot be read, has none: its alerts reach its district's staff and
// escalate at once (never "nobody sees it"); the broken roster is logged.
func (t *tx) onDuty(ctx context.Context, district int64, at time.Time) (roster.Duty, bool, error) {
	var shifts string
	err := t.row(ctx, `SELECT shifts FROM rosters WHERE district_id = ?`, district).Scan(&shifts)
	if errors.Is(err, sql.ErrNoRows) {
		return roster.Duty{}, false, nil
	} else if err != nil {
		return roster.Duty{}, false, err
	}
	var r roster.Roster
	if err := json.Unmarshal([]byte(shifts), &r.Shifts); err != nil {
		t.s.log.Error("sqlstore: a stored roster cannot be read; its district's alerts escalate at once", "district", district, "err", err)
		return roster.Duty{}, false, nil
	}
	d, ok := r.OnDuty(at)
	return d, ok, nil
}
