package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/rollup"
)

// The daily roll-up of which devices reported (api/rollup). A day is a local calendar day
// as YYYYMMDD; device_activity keeps one row per month (YYYYMM) and device with a bit per
// day, so a year of one municipality is 12 rows per device instead of 365.

// activityLock serialises a roll-up day's rewrite with erasure on PostgreSQL, so an
// erasure can never land between the two and leave rows of an erased gateway behind
// (SQLite serialises writers itself). Its own key: it shared the event log's
// (eventLogLock), so every alarm's commit waited for a whole day's rewrite. Lock order, where
// a transaction takes several: activityLock, auditLock, eventLogLock.
const activityLock = 7260004

func (t *tx) lockActivity(ctx context.Context) error {
	if t.s.dialect != postgres {
		return nil
	}
	_, err := t.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, activityLock)
	return err
}

func dayBit(day int) (month int, bit int64, err error) {
	if d := day % 100; d < 1 || d > 31 || day/100%100 < 1 || day/100%100 > 12 {
		return 0, 0, fmt.Errorf("%w: activity day %d is not YYYYMMDD", api.ErrInvalid, day)
	}
	return day / 100, int64(1) << (day%100 - 1), nil
}

// ActivityMark is the newest erasure so far. A roll-up takes it before it asks InfluxDB
// and hands it to ReplaceActivityDay, which forgets the gateways erased after it.
func (s *StatsService) ActivityMark(ctx context.Context) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM activity_forgotten`).Scan(&id); err != nil {
		return 0, storeErr("activity mark", err)
	}
	return id, nil
}

// ReplaceActivityDay makes the rows of one day exactly the reporters given (a re-run
// with the same reporters changes nothing), less the gateways erased after mark, and
// records the day as rolled up at now.
func (s *StatsService) ReplaceActivityDay(ctx context.Context, day int, rs []rollup.Reporter, mark int64, now time.Time) error {
	month, bit, err := dayBit(day)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(t *tx) error {
		if err := t.lockActivity(ctx); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE device_activity SET days = days & ~CAST(? AS BIGINT) WHERE month = ? AND days & ? <> 0`, bit, month, bit); err != nil {
			return err
		}
		const batch = 500
		for i := 0; i < len(rs); i += batch {
			part := rs[i:min(i+batch, len(rs))]
			var b strings.Builder
			args := make([]any, 0, 5*len(part))
			b.WriteString(`INSERT INTO device_activity (month, municipality, gateway_id, device_id, days) VALUES `)
			for j, r := range part {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?, ?)")
				args = append(args, month, int(r.Municipality), string(r.Gateway), string(r.Device), bit)
			}
			b.WriteString(` ON CONFLICT (month, municipality, gateway_id, device_id) DO UPDATE SET days = device_activity.days | excluded.days`)
			if _, err := t.exec(ctx, b.String(), args...); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `UPDATE device_activity SET days = days & ~CAST(? AS BIGINT)
			WHERE month = ? AND gateway_id IN (SELECT gateway_id FROM activity_forgotten WHERE id > ?)`, bit, month, mark); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM device_activity WHERE month = ? AND days = 0`, month); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO activity_days (day, rolled_at, devices) VALUES (?, ?, ?)
			ON CONFLICT (day) DO UPDATE SET rolled_at = excluded.rolled_at, devices = excluded.devices`, day, ms(now), len(rs))
		return err
	})
	if err != nil {
		return storeErr("roll up activity", err)
	}
	return nil
}

// RolledUpDays returns the days in [from, to] (YYYYMMDD) that have been rolled up, with
// when.
func (s *StatsService) RolledUpDays(ctx context.Context, from, to int) (map[int]time.Time, error) {
	out := map[int]time.Time{}
	err := s.each(ctx, `SELECT day, rolled_at FROM activity_days WHERE day >= ? AND day <= ?`, []any{from, to}, func(r *sql.Rows) error {
		var day int
		var at int64
		if err := r.Scan(&day, &at); err != nil {
			return err
		}
		out[day] = fromMs(at)
		return nil
	})
	if err != nil {
		return nil, storeErr("rolled-up days", err)
	}
	return out, nil
}

// ActiveInDays returns the devices that reported on any of the days (YYYYMMDD) in the
// municipalities (none: all), from the roll-up alone.
func (s *StatsService) ActiveInDays(ctx context.Context, muns []vagt.MunicipalityCode, days []int) (map[vagt.DeviceID]bool, error) {
	out := map[vagt.DeviceID]bool{}
	if len(days) == 0 {
		return out, nil
	}
	masks := map[int]int64{}
	lo, hi := days[0]/100, days[0]/100
	for _, d := range days {
		m, bit, err := dayBit(d)
		if err != nil {
			return nil, err
		}
		masks[m] |= bit
		lo, hi = min(lo, m), max(hi, m)
	}
	q := `SELECT device_id, month, days FROM device_activity WHERE month >= ? AND month <= ?`
	args := []any{lo, hi}
	if len(muns) > 0 {
		q += ` AND municipality IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(muns)), ", ") + `)`
		for _, m := range muns {
			args = append(args, int(m))
		}
	}
	err := s.each(ctx, q, args, func(r *sql.Rows) error {
		var dev string
		var month int
		var bits int64
		if err := r.Scan(&dev, &month, &bits); err != nil {
			return err
		}
		if bits&masks[month] != 0 {
			out[vagt.DeviceID(dev)] = true
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("active devices", err)
	}
	return out, nil
}

// ForgetActivityBefore forgets a municipality's roll-up of the days before firstKept
// (YYYYMMDD): its telemetry retention has deleted their readings.
func (s *StatsService) ForgetActivityBefore(ctx context.Context, m vagt.MunicipalityCode, firstKept int) error {
	month, bit, err := dayBit(firstKept)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, `DELETE FROM device_activity WHERE municipality = ? AND month < ?`, int(m), month); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE device_activity SET days = days & ~CAST(? AS BIGINT) WHERE municipality = ? AND month = ?`, bit-1, int(m), month); err != nil {
			return err
		}
		_, err := t.exec(ctx, `DELETE FROM device_activity WHERE municipality = ? AND month = ? AND days = 0`, int(m), month)
		return err
	})
	if err != nil {
		return storeErr("forget activity", err)
	}
	return nil
}

// PruneForgotten drops the erasure marks older than before: a roll-up that started
// before them has long finished.
func (s *StatsService) PruneForgotten(ctx context.Context, before time.Time) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM activity_forgotten WHERE at < ?`), ms(before)); err != nil {
		return storeErr("prune erasure marks", err)
	}
	return nil
}

// forgetGatewaysActivity (in an erasure's transaction) deletes the roll-up of the
// citizen's gateways and marks them, so a roll-up that read InfluxDB before the telemetry
// was deleted does not write them back.
func (t *tx) forgetGatewaysActivity(ctx context.Context, citizen int64, now time.Time) error {
	if err := t.lockActivity(ctx); err != nil {
		return err
	}
	gws := `SELECT g.id FROM gateways g JOIN homes h ON h.id = g.home_id WHERE h.citizen_id = ?`
	if _, err := t.exec(ctx, `DELETE FROM device_activity WHERE gateway_id IN (`+gws+`)`, citizen); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO activity_forgotten (gateway_id, at) SELECT g.id, ? FROM gateways g JOIN homes h ON h.id = g.home_id WHERE h.citizen_id = ?`, ms(now), citizen)
	return err
}
