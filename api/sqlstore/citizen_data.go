package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/registry"
)

// LinkCitizenUser makes a user (of role citizen) the citizen's own login.
func (s *RegistryService) LinkCitizenUser(ctx context.Context, userID, citizen int64) error {
	err := s.inTx(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO citizen_users (user_id, citizen_id) VALUES (?, ?)
			ON CONFLICT (user_id) DO UPDATE SET citizen_id = excluded.citizen_id`, userID, citizen)
		return err
	})
	if err != nil {
		return storeErr("link citizen user", err)
	}
	return nil
}

// CitizenOfUser returns the citizen a user's login belongs to; ErrForbidden for none.
func (s *RegistryService) CitizenOfUser(ctx context.Context, userID int64) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT cu.citizen_id FROM citizen_users cu JOIN citizens c ON c.id = cu.citizen_id
		WHERE cu.user_id = ? AND c.erased_at IS NULL`), userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: this login belongs to no citizen", api.ErrForbidden)
	} else if err != nil {
		return 0, storeErr("citizen of user", err)
	}
	return id, nil
}

// CitizenGateways returns the gateways in the citizen's homes, whose telemetry the
// citizen's export reads and erasure deletes; a citizen outside the scope is
// api.ErrOutOfScope and one that does not exist api.ErrNotFound.
func (s *RegistryService) CitizenGateways(ctx context.Context, scope api.Scope, citizen int64) ([]vagt.GatewayID, error) {
	out := []vagt.GatewayID{}
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.citizenInScope(ctx, scope, citizen); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT g.id FROM gateways g JOIN homes h ON h.id = g.home_id WHERE h.citizen_id = ? ORDER BY g.id`, citizen)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g vagt.GatewayID
			if err := rows.Scan(&g); err != nil {
				return err
			}
			out = append(out, g)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, storeErr("citizen gateways", err)
	}
	return out, nil
}

// CitizenExport returns what the SQL store holds about a citizen (the telemetry comes from
// InfluxDB): record, homes, devices, alerts with outcomes and the log of who accessed the
// citizen's data. The export is audited as citizen.export by actor before it is read; a
// citizen outside the scope is api.ErrOutOfScope and nothing is read or audited.
func (s *RegistryService) CitizenExport(ctx context.Context, scope api.Scope, citizen int64, actor string, now time.Time) (registry.Export, error) {
	var x registry.Export
	if err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.citizenInScope(ctx, scope, citizen); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "citizen.export", citizenObject(citizen), "")
	}); err != nil {
		return x, storeErr("citizen export", err)
	}
	return s.citizenRecord(ctx, citizen)
}

// citizenRecord reads what CitizenExport returns, without auditing: the caller audits its
// own purpose (an export, the citizen's page).
func (s *RegistryService) citizenRecord(ctx context.Context, citizen int64) (registry.Export, error) {
	var x registry.Export
	cs, err := s.citizens(ctx, `WHERE id = ?`, []any{citizen})
	if err != nil {
		return x, err
	}
	if len(cs) == 0 {
		return x, fmt.Errorf("citizen %d: %w", citizen, api.ErrNotFound)
	}
	x.Citizen = cs[0]
	x.Homes, x.Devices, x.Alerts, x.Telemetry = []registry.Home{}, []registry.Device{}, []registry.CitizenAlert{}, []registry.Reading{}
	err = s.each(ctx, `SELECT h.id, h.district_id, d.municipality FROM homes h JOIN districts d ON d.id = h.district_id WHERE h.citizen_id = ? ORDER BY h.id`,
		[]any{citizen}, func(r *sql.Rows) error {
			h := registry.Home{Citizen: citizen}
			err := r.Scan(&h.ID, &h.District, &h.Municipality)
			x.Homes = append(x.Homes, h)
			return err
		})
	if err == nil {
		err = s.each(ctx, `SELECT `+deviceColumns+` FROM devices dv JOIN gateways g ON g.id = dv.gateway_id JOIN homes h ON h.id = g.home_id
			WHERE h.citizen_id = ? ORDER BY dv.id`, []any{citizen}, func(r *sql.Rows) error {
			d, err := scanDevice(r)
			x.Devices = append(x.Devices, d)
			return err
		})
	}
	if err == nil {
		err = s.each(ctx, `SELECT a.id, a.type, a.device_id, a.raised_at, a.acked_at, a.arrived_at, a.resolved_at, COALESCE(a.outcome, '')
			FROM alerts a JOIN homes h ON h.id = a.home_id WHERE h.citizen_id = ? ORDER BY a.id`, []any{citizen}, func(r *sql.Rows) error {
			var (
				a              registry.CitizenAlert
				typ            int
				raised         int64
				acked, resolvd sql.NullInt64
				arrived        sql.NullInt64
				outcome        string
			)
			err := r.Scan(&a.ID, &typ, &a.Device, &raised, &acked, &arrived, &resolvd, &outcome)
			a.ArrivedAt = nullMs(arrived)
			a.Type, a.RaisedAt, a.AckedAt, a.ResolvedAt, a.Outcome = vagt.AlarmType(typ), fromMs(raised), nullMs(acked), nullMs(resolvd), alerts.Outcome(outcome)
			x.Alerts = append(x.Alerts, a)
			return err
		})
	}
	if err == nil {
		x.Positions, err = s.citizenPositions(ctx, citizen) // gps.go
	}
	if err != nil {
		return x, storeErr("citizen export", err)
	}
	if x.NightChecks, err = s.citizenNightChecks(ctx, citizen); err != nil {
		return x, storeErr("citizen export", err)
	}
	// Who read the citizen's record, and who read the alerts about the citizen.
	x.AccessLog = []api.AuditEntry{}
	err = s.each(ctx, `SELECT id, at, actor, action, object, detail FROM audit WHERE object = ?
		OR object IN (SELECT 'alert/' || CAST(a.id AS TEXT) FROM alerts a JOIN homes h ON h.id = a.home_id WHERE h.citizen_id = ?) ORDER BY id`,
		[]any{citizenObject(citizen), citizen}, func(r *sql.Rows) error {
			var (
				e  api.AuditEntry
				at int64
			)
			err := r.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Object, &e.Detail)
			e.At = fromMs(at)
			x.AccessLog = append(x.AccessLog, e)
			return err
		})
	if err != nil {
		return x, storeErr("citizen export", err)
	}
	return x, nil
}

// EraseCitizen removes a citizen's personal data (GDPR art. 17): name, address, key-box
// note, contacts, logins; the free text of the citizen's alerts (notes, details, who
// acted) and their link to the home. It keeps what statistics count and holds nothing
// personal: the pseudonymous id, the municipality, registration and installation dates,
// technologies, and the alerts' type, times and outcome. The telemetry in InfluxDB is the
// caller's (see influx.Telemetry.DeleteGateways), before this. Audited as citizen.erase.
// A citizen outside the scope is api.ErrOutOfScope: nothing is erased or audited.
func (s *RegistryService) EraseCitizen(ctx context.Context, scope api.Scope, citizen int64, actor string, now time.Time) (registry.Erasure, error) {
	e := registry.Erasure{Citizen: citizen}
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.citizenInScope(ctx, scope, citizen); err != nil {
			return err
		}
		if err := t.forgetGatewaysActivity(ctx, citizen, now); err != nil {
			return err
		}
		res, err := t.exec(ctx, `DELETE FROM contacts WHERE citizen_id = ?`, citizen)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		e.ContactsDeleted = int(n)
		if _, err := t.exec(ctx, `DELETE FROM citizen_users WHERE citizen_id = ?`, citizen); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE citizens SET name = '', address = '', key_box_note = '', erased_at = COALESCE(erased_at, ?) WHERE id = ?`, ms(now), citizen); err != nil {
			return err
		}
		homes := `SELECT id FROM homes WHERE citizen_id = ?`
		if err := t.eraseGPS(ctx, homes, citizen); err != nil { // gps.go: positions and zones
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM alert_notes WHERE alert_id IN (SELECT id FROM alerts WHERE home_id IN (`+homes+`))`, citizen); err != nil {
			return err
		}
		if err := t.anonymiseSteps(ctx, `SELECT id FROM alerts WHERE home_id IN (`+homes+`)`, citizen); err != nil { // presence.go
			return err
		}
		res, err = t.exec(ctx, `UPDATE alerts SET details = '', acked_by = CASE WHEN acked_by IS NULL THEN NULL ELSE '' END,
			resolved_by = CASE WHEN resolved_by IS NULL THEN NULL ELSE '' END, `+anonymousAssignee+`, anonymised_at = ? WHERE home_id IN (`+homes+`)`, ms(now), citizen)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		e.AlertsAnonymised = int(n)
		if err := t.eraseNightChecks(ctx, `home_id IN (`+homes+`)`, citizen); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "citizen.erase", citizenObject(citizen), fmt.Sprintf("contacts=%d alerts=%d", e.ContactsDeleted, e.AlertsAnonymised))
	})
	if err != nil {
		return e, storeErr("erase citizen", err)
	}
	return e, nil
}

// AnonymiseAlerts strips who acted and the free text (notes, details) from resolved alerts
// raised before `before`, and their link to a home, once: the legal keeping period is
// over, the counts stay. It returns how many alerts it changed.
func (s *RetentionService) AnonymiseAlerts(ctx context.Context, before, now time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, func(t *tx) error {
		old := `SELECT id FROM alerts WHERE state = 'resolved' AND raised_at < ? AND anonymised_at IS NULL`
		if _, err := t.exec(ctx, `DELETE FROM alert_notes WHERE alert_id IN (`+old+`)`, ms(before)); err != nil {
			return err
		}
		if err := t.anonymiseSteps(ctx, old, ms(before)); err != nil { // presence.go
			return err
		}
		res, err := t.exec(ctx, `UPDATE alerts SET details = '', acked_by = CASE WHEN acked_by IS NULL THEN NULL ELSE '' END,
			resolved_by = CASE WHEN resolved_by IS NULL THEN NULL ELSE '' END, `+anonymousAssignee+`, home_id = NULL, anonymised_at = ?
			WHERE state = 'resolved' AND raised_at < ? AND anonymised_at IS NULL`, ms(now), ms(before))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if err := t.eraseNightChecks(ctx, `checked_at < ?`, ms(before)); err != nil {
			return err
		}
		if n > 0 {
			return t.audit(ctx, now, "system", "alert.anonymise", "alerts", fmt.Sprintf("raised before %s: %d", before.UTC().Format(time.RFC3339), n))
		}
		return nil
	})
	if err != nil {
		return 0, storeErr("anonymise alerts", err)
	}
	return int(n), nil
}

// SetTelemetryRetention sets how many days a municipality keeps telemetry (0: as long as
// the InfluxDB retention policy).
func (s *RetentionService) SetTelemetryRetention(ctx context.Context, m vagt.MunicipalityCode, days int) error {
	if err := m.Validate(); err != nil || days < 0 {
		return fmt.Errorf("%w: municipality %d, days %d", api.ErrInvalid, m, days)
	}
	err := s.inTx(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `UPDATE municipalities SET telemetry_retention_days = ? WHERE code = ?`, days, int(m))
		return err
	})
	if err != nil {
		return storeErr("set telemetry retention", err)
	}
	return nil
}

// TelemetryRetention returns the municipalities that keep telemetry for fewer days than
// the InfluxDB retention policy, with their days.
func (s *RetentionService) TelemetryRetention(ctx context.Context) (map[vagt.MunicipalityCode]int, error) {
	out := map[vagt.MunicipalityCode]int{}
	err := s.each(ctx, `SELECT code, telemetry_retention_days FROM municipalities WHERE telemetry_retention_days > 0`, nil, func(r *sql.Rows) error {
		var m, d int
		err := r.Scan(&m, &d)
		out[vagt.MunicipalityCode(m)] = d
		return err
	})
	if err != nil {
		return nil, storeErr("telemetry retention", err)
	}
	return out, nil
}
