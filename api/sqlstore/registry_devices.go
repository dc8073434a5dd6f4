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
	"github.com/vagt-dk/vagt/api/stats"
)

// A device's state follows from its dates: no installed_at is pending (a gateway reported
// it, nobody registered it), a removed_at is removed.
const deviceState = `CASE WHEN dv.removed_at IS NOT NULL THEN 'removed' WHEN dv.installed_at IS NOT NULL THEN 'installed' ELSE 'pending' END`

// deviceMunicipality selects the municipality of a device's gateway.
const deviceMunicipality = `SELECT g.municipality FROM devices dv JOIN gateways g ON g.id = dv.gateway_id WHERE dv.id = ?`

// InstallDevice registers a device on a gateway as installed at d.InstalledAt (now when
// nil). The gateway must be in the scope (one that does not exist is invalid input), and
// so must a device that is registered already: naming one does not move it out of another
// municipality (api.ErrOutOfScope, decided before the device is checked). A device the
// gateway reported already (pending) is taken over.
func (s *RegistryService) InstallDevice(ctx context.Context, scope api.Scope, d registry.Device, actor string, now time.Time) (registry.Device, error) {
	if d.InstalledAt == nil {
		d.InstalledAt = &now
	}
	err := s.inTx(ctx, func(t *tx) error {
		_, err := t.municipalityInScope(ctx, scope, "gateway "+string(d.Gateway), gatewayMunicipality, string(d.Gateway))
		if errors.Is(err, api.ErrNotFound) {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		} else if err != nil {
			return err
		}
		if err := t.mayTakeOver(ctx, scope, "device "+string(d.ID), deviceMunicipality, string(d.ID)); err != nil {
			return err
		}
		if err := d.ID.Validate(); err != nil {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		if err := d.Technology.Validate(); err != nil {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		if len(d.Label) > 200 {
			return fmt.Errorf("%w: label ≤ 200 bytes", api.ErrInvalid)
		}
		var state string
		err = t.row(ctx, `SELECT `+deviceState+` FROM devices dv WHERE dv.id = ?`, string(d.ID)).Scan(&state)
		if err == nil && state != string(registry.DevicePending) {
			return fmt.Errorf("device %s: %w: it is %s", d.ID, api.ErrConflict, state)
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var n int
		if err := t.row(ctx, `SELECT COUNT(*) FROM gateways WHERE id = ? AND home_id IS NOT NULL AND decommissioned_at IS NULL`, string(d.Gateway)).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: gateway %s is not provisioned in a home, or decommissioned", api.ErrInvalid, d.Gateway)
		}
		if _, err := t.exec(ctx, `INSERT INTO devices (id, gateway_id, technology, label, installed_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET gateway_id = excluded.gateway_id, technology = excluded.technology,
				label = excluded.label, installed_at = excluded.installed_at`,
			string(d.ID), string(d.Gateway), int(d.Technology), d.Label, ms(*d.InstalledAt)); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "device.install", "device/"+string(d.ID), string(d.Gateway))
	})
	if err != nil {
		return d, storeErr("install device", err)
	}
	return s.Device(ctx, d.ID)
}

// AcceptDevice turns a pending device into an installed one; technology and label are kept
// when zero. A device outside the scope is api.ErrOutOfScope, decided before the request is
// checked.
func (s *RegistryService) AcceptDevice(ctx context.Context, scope api.Scope, id vagt.DeviceID, tech vagt.Technology, label string, installedAt time.Time, actor string, now time.Time) (registry.Device, error) {
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.inScope(ctx, scope, "device "+string(id), deviceMunicipality, string(id)); err != nil {
			return err
		}
		if tech != 0 {
			if err := tech.Validate(); err != nil {
				return fmt.Errorf("%w: %w", api.ErrInvalid, err)
			}
		}
		var state string
		err := t.row(ctx, `SELECT `+deviceState+` FROM devices dv WHERE dv.id = ?`, string(id)).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("device %s: %w", id, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		if state != string(registry.DevicePending) {
			return fmt.Errorf("device %s: %w: it is %s, not pending", id, api.ErrConflict, state)
		}
		if _, err := t.exec(ctx, `UPDATE devices SET installed_at = ?,
			technology = CASE WHEN ? > 0 THEN ? ELSE technology END, label = CASE WHEN ? <> '' THEN ? ELSE label END WHERE id = ?`,
			ms(installedAt), int(tech), int(tech), label, label, string(id)); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "device.accept", "device/"+string(id), "")
	})
	if err != nil {
		return registry.Device{}, storeErr("accept device", err)
	}
	return s.Device(ctx, id)
}

// RemoveDevice records that an installed device was taken out of use at removedAt. A device
// outside the scope is api.ErrOutOfScope.
func (s *RegistryService) RemoveDevice(ctx context.Context, scope api.Scope, id vagt.DeviceID, removedAt time.Time, actor string, now time.Time) (registry.Device, error) {
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.inScope(ctx, scope, "device "+string(id), deviceMunicipality, string(id)); err != nil {
			return err
		}
		var (
			state     string
			installed sql.NullInt64
		)
		err := t.row(ctx, `SELECT `+deviceState+`, dv.installed_at FROM devices dv WHERE dv.id = ?`, string(id)).Scan(&state, &installed)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("device %s: %w", id, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		if state != string(registry.DeviceInstalled) {
			return fmt.Errorf("device %s: %w: it is %s, not installed", id, api.ErrConflict, state)
		}
		if ms(removedAt) < installed.Int64 {
			return fmt.Errorf("%w: removed_at is before installed_at", api.ErrInvalid)
		}
		if _, err := t.exec(ctx, `UPDATE devices SET removed_at = ? WHERE id = ?`, ms(removedAt), string(id)); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "device.remove", "device/"+string(id), "")
	})
	if err != nil {
		return registry.Device{}, storeErr("remove device", err)
	}
	return s.Device(ctx, id)
}

const deviceColumns = `dv.id, dv.gateway_id, dv.technology, dv.label, ` + deviceState + `, dv.installed_at, dv.removed_at, dv.last_seen, dv.battery,
	dv.test_until, dv.last_tested_at`

func scanDevice(r scanner) (registry.Device, error) {
	var (
		d                        registry.Device
		tech                     int
		state                    string
		installed, removed, seen sql.NullInt64
		testUntil, tested        sql.NullInt64
	)
	err := r.Scan(&d.ID, &d.Gateway, &tech, &d.Label, &state, &installed, &removed, &seen, &d.Battery, &testUntil, &tested)
	d.TestUntil, d.LastTestedAt = nullMs(testUntil), nullMs(tested)
	d.Technology, d.State = vagt.Technology(tech), registry.DeviceState(state)
	d.InstalledAt, d.RemovedAt, d.LastSeen = nullMs(installed), nullMs(removed), nullMs(seen)
	return d, err
}

// Device returns one device.
func (s *RegistryService) Device(ctx context.Context, id vagt.DeviceID) (registry.Device, error) {
	d, err := scanDevice(s.db.QueryRowContext(ctx, s.q(`SELECT `+deviceColumns+` FROM devices dv WHERE dv.id = ?`), string(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("device %s: %w", id, api.ErrNotFound)
	} else if err != nil {
		return d, storeErr("device", err)
	}
	return d, nil
}

// Devices returns the devices of m (0: every one the scope holds) in a state ("" for all);
// asking for a municipality outside the scope is api.ErrForbidden.
func (s *RegistryService) Devices(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, state registry.DeviceState) ([]registry.Device, error) {
	m, err := listMunicipality(scope, m)
	if err != nil {
		return nil, err
	}
	switch state {
	case "", registry.DevicePending, registry.DeviceInstalled, registry.DeviceRemoved:
	default:
		return nil, fmt.Errorf("%w: state must be pending, installed or removed", api.ErrInvalid)
	}
	where, args := munFilter("g.municipality", m)
	if state != "" {
		where += ` AND ` + deviceState + ` = ?`
		args = append(args, string(state))
	}
	out := []registry.Device{}
	err = s.each(ctx, `SELECT `+deviceColumns+` FROM devices dv JOIN gateways g ON g.id = dv.gateway_id WHERE 1 = 1`+where+` ORDER BY dv.id`, args, func(r *sql.Rows) error {
		d, err := scanDevice(r)
		out = append(out, d)
		return err
	})
	if err != nil {
		return nil, storeErr("devices", err)
	}
	return out, nil
}

// munIn returns " AND col IN (?, ...)" for ms, nothing for none (all municipalities).
func munIn(col string, muns []vagt.MunicipalityCode) (string, []any) {
	if len(muns) == 0 {
		return "", nil
	}
	q, args := " AND "+col+" IN (", make([]any, 0, len(muns))
	for i, m := range muns {
		if i > 0 {
			q += ", "
		}
		q += "?"
		args = append(args, int(m))
	}
	return q + ")", args
}

// DeviceFacts returns the devices installed before `before` in the municipalities (none:
// all), with their technology, dates and pseudonymous citizen: what adoption counts.
func (s *StatsService) DeviceFacts(ctx context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]stats.DeviceFact, error) {
	where, args := munIn("d.municipality", muns)
	args = append([]any{ms(before)}, args...)
	var out []stats.DeviceFact
	err := s.each(ctx, `SELECT dv.id, d.municipality, dv.technology, COALESCE(h.citizen_id, 0), dv.installed_at, dv.removed_at, d.id, d.name
		FROM devices dv JOIN gateways g ON g.id = dv.gateway_id JOIN homes h ON h.id = g.home_id JOIN districts d ON d.id = h.district_id
		WHERE dv.installed_at IS NOT NULL AND dv.installed_at < ?`+where+` ORDER BY dv.id`, args, func(r *sql.Rows) error {
		var (
			f         stats.DeviceFact
			installed int64
			removed   sql.NullInt64
		)
		err := r.Scan(&f.Device, &f.Municipality, &f.Technology, &f.Citizen, &installed, &removed, &f.District, &f.DistrictName)
		f.InstalledAt, f.RemovedAt = fromMs(installed), nullMs(removed)
		out = append(out, f)
		return err
	})
	if err != nil {
		return nil, storeErr("device facts", err)
	}
	return out, nil
}

// CitizenFacts returns when the citizens of the municipalities (none: all) registered
// before `before` were registered.
func (s *StatsService) CitizenFacts(ctx context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]stats.CitizenFact, error) {
	where, args := munIn("municipality", muns)
	args = append([]any{ms(before)}, args...)
	var out []stats.CitizenFact
	err := s.each(ctx, `SELECT id, municipality, registered_at FROM citizens WHERE registered_at < ?`+where+` ORDER BY id`, args, func(r *sql.Rows) error {
		var (
			f   stats.CitizenFact
			reg int64
		)
		err := r.Scan(&f.ID, &f.Municipality, &reg)
		f.RegisteredAt = fromMs(reg)
		out = append(out, f)
		return err
	})
	if err != nil {
		return nil, storeErr("citizen facts", err)
	}
	return out, nil
}

// alertFactsQuery selects what AlertFacts and AlertRecords read of the alerts raised in
// [from, to) in the municipalities of where (none: all), in the order of their ids.
const alertFactsQuery = `SELECT a.municipality, a.type, a.priority, a.raised_at, a.acked_at, a.resolved_at, COALESCE(a.outcome, ''),
			(SELECT COUNT(*) FROM alert_escalations e WHERE e.alert_id = a.id), COALESCE(a.district_id, 0), COALESCE(d.name, ''), a.arrived_at
		FROM alerts a LEFT JOIN districts d ON d.id = a.district_id WHERE a.raised_at >= ? AND a.raised_at < ? AND a.test = 0`

// AlertFacts returns the alerts raised in [from, to) in the municipalities (none: all),
// with their response times, outcome and number of escalations. Test alerts
// ("prøvealarm") are not facts of the care given: they are left out.
func (s *StatsService) AlertFacts(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) ([]stats.AlertFact, error) {
	where, args := munIn("a.municipality", muns)
	args = append([]any{ms(from), ms(to)}, args...)
	var out []stats.AlertFact
	err := s.each(ctx, alertFactsQuery+where+` ORDER BY a.id`, args, func(r *sql.Rows) error {
		var (
			f              stats.AlertFact
			typ, prio      int
			raised         int64
			acked, resolvd sql.NullInt64
			outcome        string
			arrived        sql.NullInt64
		)
		err := r.Scan(&f.Municipality, &typ, &prio, &raised, &acked, &resolvd, &outcome, &f.Escalations, &f.District, &f.DistrictName, &arrived)
		f.ArrivedAt = nullMs(arrived)
		f.Type, f.Priority, f.RaisedAt = vagt.AlarmType(typ), vagt.Priority(prio), fromMs(raised)
		f.AckedAt, f.ResolvedAt, f.Outcome = nullMs(acked), nullMs(resolvd), alerts.Outcome(outcome)
		out = append(out, f)
		return err
	})
	if err != nil {
		return nil, storeErr("alert facts", err)
	}
	return out, nil
}

// AlertRecords returns what AlertFacts returns as records without pointers
// (stats.AlertRecordSource): each row scanned straight into a record, its strings interned
// from the row's bytes, no allocation per alert.
func (s *StatsService) AlertRecords(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (stats.AlertRecords, error) {
	where, args := munIn("a.municipality", muns)
	args = append([]any{ms(from), ms(to)}, args...)
	out := stats.NewAlertRecordsBuilder(0)
	var (
		typ, prio               int
		raised, escalations     int64
		acked, resolvd, arrived sql.NullInt64
		outcome, district       sql.RawBytes
	)
	at := func(v sql.NullInt64, has uint8, dst *int64, flags *uint8) {
		if v.Valid {
			*dst, *flags = v.Int64*int64(time.Millisecond), *flags|has
		}
	}
	err := s.each(ctx, alertFactsQuery+where+` ORDER BY a.id`, args, func(r *sql.Rows) error {
		var f stats.AlertRecord
		if err := r.Scan(&f.Municipality, &typ, &prio, &raised, &acked, &resolvd, &outcome, &escalations, &f.District, &district, &arrived); err != nil {
			return err
		}
		f.Type, f.Priority, f.RaisedAt, f.Escalations = vagt.AlarmType(typ), vagt.Priority(prio), raised*int64(time.Millisecond), int32(escalations)
		at(acked, stats.HasAcked, &f.AckedAt, &f.Has)
		at(resolvd, stats.HasResolved, &f.ResolvedAt, &f.Has)
		at(arrived, stats.HasArrived, &f.ArrivedAt, &f.Has)
		f.Outcome, f.DistrictName = out.InternBytes(outcome), out.InternBytes(district)
		out.Append(f)
		return nil
	})
	if err != nil {
		return stats.AlertRecords{}, storeErr("alert records", err)
	}
	return out.Records(), nil
}
