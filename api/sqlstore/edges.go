package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
)

// Everyday edges of the alarm lane (docs/alerts.md, "Absence" and "Test alarms"): a home
// whose citizen is away, and devices in test mode.

// ChangeSuppressed: a routine-rule alarm (inactivity, door at night, bed exit, missed
// medication) that arrived while its home's care plan says the citizen is away. The
// gateway holds these back itself; this is the platform's second line, for a gateway
// that runs an older plan or whose clock is wrong. The receipt is kept (a redelivery is a
// duplicate), no alert is raised, and it is logged.
const ChangeSuppressed Change = "suppressed"

// MaxTestMode bounds how long a device stays in test mode: a device forgotten in test mode
// would mark a real alarm as a test.
const MaxTestMode = 4 * time.Hour

// prepareRaise decides what a raise from the lane becomes: suppressed (the home is away
// and the type is one an absence silences), or a raise, marked test when the device (or
// the base unit a sub-device id "bu-17:btn" belongs to) is in test mode, whose last test
// it then records. Test mode is the platform's clock's: the gateway knows nothing of it.
func (t *tx) prepareRaise(ctx context.Context, a *vagt.Alarm, now time.Time) (raise, Change, error) {
	r := raise{gateway: a.Gateway, device: a.Device, typ: a.Type, prio: a.Priority, municipality: a.Municipality, at: a.Time, details: a.Details}
	if a.Type.SilencedByAbsence() {
		var until int64
		err := t.row(ctx, `SELECT c.away_until FROM gateways g JOIN home_configs c ON c.home_id = g.home_id
			WHERE g.id = ? AND g.decommissioned_at IS NULL AND c.away_from <= ? AND c.away_until > ?`,
			string(a.Gateway), ms(now), ms(now)).Scan(&until)
		switch {
		case err == nil:
			t.s.log.Info("sqlstore: alarm suppressed: the citizen is away", "gateway", a.Gateway, "seq", a.Seq,
				"type", a.Type, "away_until", fromMs(until).Format(time.RFC3339))
			return r, ChangeSuppressed, nil
		case !errors.Is(err, sql.ErrNoRows):
			return r, "", err
		}
	}
	// The device, and the base unit a sub-device id ("bu-17:btn") belongs to: a press on the
	// pendant of a unit in test mode tests both, and both record it.
	unit, _, _ := strings.Cut(string(a.Device), ":")
	res, err := t.exec(ctx, `UPDATE devices SET last_tested_at = ? WHERE gateway_id = ? AND id IN (?, ?)
		AND EXISTS (SELECT 1 FROM devices m WHERE m.gateway_id = ? AND m.id IN (?, ?) AND m.test_until > ?)`,
		ms(now), string(a.Gateway), string(a.Device), unit, string(a.Gateway), string(a.Device), unit, ms(now))
	if err != nil {
		return r, "", err
	}
	n, err := res.RowsAffected()
	r.test = n > 0
	return r, "", err
}

// keepAbsence copies the absence of a saved care plan (its effective JSON, written by
// api/careplan: {"absence": {"from": RFC 3339, "until": RFC 3339}}) into columns the
// alarm lane and the overview can query.
func (t *tx) keepAbsence(ctx context.Context, home vagt.HomeID, effective []byte) error {
	var eff struct {
		Absence *struct {
			From  time.Time `json:"from"`
			Until time.Time `json:"until"`
		} `json:"absence"`
	}
	if err := json.Unmarshal(effective, &eff); err != nil {
		return fmt.Errorf("absence of home %s: %w", home, err)
	}
	var from, until any
	if a := eff.Absence; a != nil {
		from, until = ms(a.From), ms(a.Until)
	}
	_, err := t.exec(ctx, `UPDATE home_configs SET away_from = ?, away_until = ? WHERE home_id = ?`, from, until, string(home))
	return err
}

// awayUntil returns when the home's citizen is back, if away at now (AlertDetail).
func (s *AlertService) awayUntil(ctx context.Context, home vagt.HomeID, now time.Time) (*time.Time, error) {
	var until int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT away_until FROM home_configs WHERE home_id = ? AND away_from <= ? AND away_until > ?`),
		string(home), ms(now), ms(now)).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, storeErr("away until", err)
	}
	t := fromMs(until)
	return &t, nil
}

// SetTestMode puts a device in test mode until the given time (a zero time ends it): its
// alarms meanwhile raise alerts marked test. Audited. The scope is who handles the
// device's alarms (api.Principal.AlertScope): a device of another municipality, or of a
// home outside the caller's districts (a district-bound caller: a device in no home too),
// is api.ErrOutOfScope, decided before the time is checked. Returns the device as it is
// now.
func (s *RegistryService) SetTestMode(ctx context.Context, scope api.Scope, dev vagt.DeviceID, until time.Time, actor string, now time.Time) (registry.Device, error) {
	err := s.inTx(ctx, func(t *tx) error {
		var (
			m        int
			district sql.NullInt64
		)
		err := t.row(ctx, `SELECT g.municipality, h.district_id FROM devices dv JOIN gateways g ON g.id = dv.gateway_id
			LEFT JOIN homes h ON h.id = g.home_id WHERE dv.id = ?`, string(dev)).Scan(&m, &district)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("device %s: %w", dev, api.ErrNotFound)
		} else if err != nil {
			return err
		}
		homeless := !scope.All && len(scope.Districts) > 0 && district.Int64 == 0
		if homeless || !scope.Allows(vagt.MunicipalityCode(m), district.Int64) {
			// Out of scope answers like a device that does not exist (docs/operations.md).
			return fmt.Errorf("device %s: %w", dev, api.ErrOutOfScope)
		}
		if !until.IsZero() && (!until.After(now) || until.Sub(now) > MaxTestMode) {
			return fmt.Errorf("%w: test mode ends after now and within %s", api.ErrInvalid, MaxTestMode)
		}
		var end any
		detail := "ended"
		if !until.IsZero() {
			end, detail = ms(until), "until "+until.UTC().Format(time.RFC3339)
		}
		r, err := t.exec(ctx, `UPDATE devices SET test_until = ?, test_by = ? WHERE id = ? AND removed_at IS NULL`, end, actor, string(dev))
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("device %s: %w", dev, api.ErrNotFound)
		}
		return t.audit(ctx, now, actor, "device.test_mode", "device/"+string(dev), detail)
	})
	if err != nil {
		return registry.Device{}, storeErr("set test mode", err)
	}
	return s.Device(ctx, dev)
}

// DevicesUntested returns the devices of m (0: every one the scope holds) not removed whose
// last test (an alarm in test mode) is older than period at now, or that were never
// tested; asking for a municipality outside the scope is api.ErrForbidden.
func (s *RegistryService) DevicesUntested(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, period time.Duration, now time.Time) ([]registry.Device, error) {
	m, err := listMunicipality(scope, m)
	if err != nil {
		return nil, err
	}
	where, args := munFilter("g.municipality", m)
	args = append(args, ms(now.Add(-period)))
	out := []registry.Device{}
	err = s.each(ctx, `SELECT `+deviceColumns+` FROM devices dv JOIN gateways g ON g.id = dv.gateway_id WHERE 1 = 1`+where+`
		AND dv.removed_at IS NULL AND (dv.last_tested_at IS NULL OR dv.last_tested_at < ?) ORDER BY dv.id`, args, func(r *sql.Rows) error {
		d, err := scanDevice(r)
		out = append(out, d)
		return err
	})
	if err != nil {
		return nil, storeErr("devices untested", err)
	}
	return out, nil
}
