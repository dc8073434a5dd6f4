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
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/registry"
)

// GPS trackers (docs/gps.md): a tracker belongs to a home (its citizen), positions are
// personal data kept here — never in InfluxDB — and read only through an alert or the
// citizen's own data, audited.

// homeScoped reads the home's municipality and district inside t and decides the caller's
// access: a home outside scope is api.ErrOutOfScope, which the API answers as a missing
// home. Safe zones, trackers and night checks are decided so.
func (t *tx) homeScoped(ctx context.Context, home vagt.HomeID, scope api.Scope) (vagt.MunicipalityCode, error) {
	var mun, district int64
	err := t.row(ctx, `SELECT d.municipality, h.district_id FROM homes h JOIN districts d ON d.id = h.district_id WHERE h.id = ?`, string(home)).Scan(&mun, &district)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("home %s: %w", home, api.ErrNotFound)
	} else if err != nil {
		return 0, err
	}
	if !scope.Allows(vagt.MunicipalityCode(mun), district) {
		return 0, fmt.Errorf("home %s: %w", home, api.ErrOutOfScope)
	}
	return vagt.MunicipalityCode(mun), nil
}

// CreateTracker registers a tracker for a home in scope with the hash of its OsmAnd key
// (the broker login is made like a gateway's, by the operator). Audited.
func (s *GPSService) CreateTracker(ctx context.Context, scope api.Scope, id string, home vagt.HomeID, keyHash, actor string, now time.Time) error {
	err := s.inTx(ctx, func(t *tx) error {
		mun, err := t.homeScoped(ctx, home, scope)
		if err != nil {
			return err
		}
		if !gps.ValidTrackerID(id) {
			return fmt.Errorf("%w: tracker id %q is not gps. and 3-60 of [a-z0-9-]", api.ErrInvalid, id)
		}
		var n int
		if err := t.row(ctx, `SELECT COUNT(*) FROM gps_trackers WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: tracker %s exists", api.ErrConflict, id)
		}
		if _, err := t.exec(ctx, `INSERT INTO gps_trackers (id, home_id, municipality, key_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			id, string(home), int64(mun), keyHash, ms(now)); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "gps.tracker.create", "home:"+string(home), id)
	})
	return storeErrOrNil("create tracker", err)
}

// TrackerByKey returns the tracker whose OsmAnd key hashes to keyHash.
func (s *GPSService) TrackerByKey(ctx context.Context, keyHash string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id FROM gps_trackers WHERE key_hash = ?`), keyHash).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: no tracker has that key", api.ErrNotFound)
	}
	return id, storeErrOrNil("tracker by key", err)
}

// SetSafeZones replaces the safe zones of a home in scope after checking them. Audited.
func (s *GPSService) SetSafeZones(ctx context.Context, scope api.Scope, home vagt.HomeID, zones []gps.Zone, actor string, now time.Time) error {
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.homeScoped(ctx, home, scope); err != nil {
			return err
		}
		if err := gps.ValidateZones(zones); err != nil {
			return err
		}
		b, err := json.Marshal(zones)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO gps_zones (home_id, zones, updated_at, updated_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (home_id) DO UPDATE SET zones = excluded.zones, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			string(home), string(b), ms(now), actor); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "gps.zones.set", "home:"+string(home), fmt.Sprintf("%d zones", len(zones)))
	})
	return storeErrOrNil("set safe zones", err)
}

// SafeZones returns the safe zones of a home in scope (none: an empty list). The caller
// audits the read.
func (s *GPSService) SafeZones(ctx context.Context, scope api.Scope, home vagt.HomeID) ([]gps.Zone, error) {
	zs := []gps.Zone{}
	err := s.inTx(ctx, func(t *tx) error {
		if _, err := t.homeScoped(ctx, home, scope); err != nil {
			return err
		}
		var raw string
		err := t.row(ctx, `SELECT zones FROM gps_zones WHERE home_id = ?`, string(home)).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		return json.Unmarshal([]byte(raw), &zs)
	})
	if err != nil {
		return nil, storeErr("safe zones", err)
	}
	return zs, nil
}

// RecordPosition stores p and applies what decide says, in one transaction: an unknown
// tracker, a fix older than the newest accepted (out of order) or the same fix again
// (duplicate) is refused and changes nothing; otherwise the position is stored, the
// tracker's state moves on, an open silent_device alert is marked cleared and the alarms
// decide returns are raised on the home (alerts like any alarm's, with escalation).
func (s *GPSService) RecordPosition(ctx context.Context, p gps.Position, now time.Time, decide func(*gps.TrackerState) []gps.Alarm) ([]IngestResult, error) {
	var out []IngestResult
	lock := ""
	if s.dialect == postgres {
		lock = " FOR UPDATE" // two replicas taking the same tracker's fixes queue here
	}
	err := s.inTx(ctx, func(t *tx) error {
		out = nil
		st := gps.TrackerState{Tracker: p.Tracker}
		var (
			home   sql.NullString
			lastAt sql.NullInt64
			mun    int64
			out1   int
			low    int
		)
		err := t.row(ctx, `SELECT home_id, municipality, last_at, outside, battery_low FROM gps_trackers WHERE id = ?`+lock, p.Tracker).
			Scan(&home, &mun, &lastAt, &out1, &low)
		if errors.Is(err, sql.ErrNoRows) {
			return &gps.Rejection{Reason: gps.ReasonUnknown, Msg: fmt.Sprintf("no tracker %.70q", p.Tracker)}
		} else if err != nil {
			return err
		}
		at := p.At.UnixMilli()
		if lastAt.Valid && at < lastAt.Int64 {
			return &gps.Rejection{Reason: gps.ReasonOutOfOrder, Msg: fmt.Sprintf("fix at %s is older than the newest accepted, %s",
				p.At.UTC().Format(time.RFC3339), fromMs(lastAt.Int64).Format(time.RFC3339))}
		}
		var batt any
		if p.Battery >= 0 {
			batt = p.Battery
		}
		r, err := t.exec(ctx, `INSERT INTO gps_positions (tracker_id, at, lat, lon, acc, battery, received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			p.Tracker, at, p.Lat, p.Lon, p.Acc, batt, ms(now))
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return &gps.Rejection{Reason: gps.ReasonDuplicate, Msg: fmt.Sprintf("fix at %s was received before", p.At.UTC().Format(time.RFC3339))}
		}
		st.Home, st.Outside, st.BatteryLow = vagt.HomeID(home.String), out1 == 1, low == 1
		if lastAt.Valid {
			st.LastAt = fromMs(lastAt.Int64)
		}
		if home.Valid {
			var raw string
			if err := t.row(ctx, `SELECT zones FROM gps_zones WHERE home_id = ?`, home.String).Scan(&raw); err == nil {
				if err := json.Unmarshal([]byte(raw), &st.Zones); err != nil {
					return fmt.Errorf("zones of %s: %w", home.String, err)
				}
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if _, err := t.exec(ctx, `INSERT INTO gps_tracker_days (tracker_id, day, municipality) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			p.Tracker, danishDay(p.At), mun); err != nil {
			return err
		}
		alarms := decide(&st)
		if _, err := t.exec(ctx, `UPDATE gps_trackers SET last_at = ?, last_seen = ?, battery = COALESCE(?, battery), outside = ?, battery_low = ? WHERE id = ?`,
			at, ms(now), batt, boolInt(st.Outside), boolInt(st.BatteryLow), p.Tracker); err != nil {
			return err
		}
		for _, a := range alarms {
			if a.OnlyIfNoneOpen {
				var n int
				if err := t.row(ctx, `SELECT COUNT(*) FROM alerts WHERE gateway_id = ? AND device_id = ? AND type = ? AND state <> 'resolved'`,
					p.Tracker, p.Tracker, int(a.Type)).Scan(&n); err != nil {
					return err
				}
				if n > 0 {
					continue
				}
			}
			res, err := t.raise(ctx, raise{gateway: vagt.GatewayID(p.Tracker), device: vagt.DeviceID(p.Tracker), typ: a.Type,
				municipality: vagt.MunicipalityCode(mun), at: p.At, details: a.Details, home: st.Home}, now)
			if err != nil {
				return err
			}
			out = append(out, res)
		}
		// Heard from again: its silence has ended (staff resolve the alert).
		var silent int64
		err = t.row(ctx, `SELECT id FROM alerts WHERE gateway_id = ? AND device_id = ? AND type = ? AND state <> 'resolved'`,
			p.Tracker, p.Tracker, int(vagt.AlarmSilentDevice)).Scan(&silent)
		if err == nil {
			_, err = t.markCleared(ctx, silent, now)
		}
		if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
		return err
	})
	if err != nil {
		var rej *gps.Rejection
		if errors.As(err, &rej) {
			return nil, err
		}
		return nil, storeErr("record position", err)
	}
	return out, nil
}

// DetectSilentTrackers raises silent_device on every tracker of a home not heard from
// since before (never heard from: created before it) that has no open one.
func (s *GPSService) DetectSilentTrackers(ctx context.Context, before, now time.Time) (int, error) {
	type trk struct {
		id, home string
		mun      int64
		seen     sql.NullInt64
	}
	var silent []trk
	err := s.each(ctx, `SELECT g.id, g.home_id, g.municipality, g.last_seen FROM gps_trackers g
		WHERE g.home_id IS NOT NULL AND COALESCE(g.last_seen, g.created_at) < ?
		AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.gateway_id = g.id AND a.device_id = g.id AND a.type = ? AND a.state <> 'resolved')
		LIMIT 500`, []any{ms(before), int(vagt.AlarmSilentDevice)}, func(r *sql.Rows) error {
		var x trk
		err := r.Scan(&x.id, &x.home, &x.mun, &x.seen)
		silent = append(silent, x)
		return err
	})
	if err != nil {
		return 0, storeErr("detect silent trackers", err)
	}
	for _, x := range silent {
		d := map[string]string{"tracker": x.id}
		if x.seen.Valid {
			d["last_seen"] = fromMs(x.seen.Int64).Format(time.RFC3339)
		}
		err := s.inTx(ctx, func(t *tx) error {
			_, err := t.raise(ctx, raise{gateway: vagt.GatewayID(x.id), device: vagt.DeviceID(x.id), typ: vagt.AlarmSilentDevice,
				municipality: vagt.MunicipalityCode(x.mun), at: now, details: d, home: vagt.HomeID(x.home)}, now)
			return err
		})
		if err != nil {
			return 0, storeErr("raise silent tracker "+x.id, err)
		}
	}
	return len(silent), nil
}

// PrunePositions deletes the positions received before cutoff (the retention period).
func (s *GPSService) PrunePositions(ctx context.Context, cutoff time.Time) (int64, error) {
	r, err := s.db.ExecContext(ctx, s.q(`DELETE FROM gps_positions WHERE received_at < ?`), ms(cutoff))
	if err != nil {
		return 0, storeErr("prune positions", err)
	}
	return r.RowsAffected()
}

// AlertTrack returns the tracker, the home's zones and address and the last limit
// positions up to the alert's last time (and no later) of a GPS alert that scope reaches
// (its district, or the audience it escalated to: as the alert itself); ErrNotFound for
// an alert that is not a tracker's. The caller audits the read.
func (s *GPSService) AlertTrack(ctx context.Context, scope api.Scope, id int64, limit int) (gps.Track, error) {
	var tr gps.Track
	err := s.inTx(ctx, func(t *tx) error {
		a, err := t.scoped(ctx, id, scope) // lifecycle.go: Reaches, with the audience
		if err != nil {
			return err
		}
		tr.Alert, tr.Type, tr.Municipality, tr.District = a.ID, a.Type, a.Municipality, a.District
		var home sql.NullString
		if err := t.row(ctx, `SELECT id, home_id FROM gps_trackers WHERE id = ?`, string(a.Gateway)).Scan(&tr.Tracker, &home); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: alert %d is not a GPS tracker's", api.ErrNotFound, id)
		} else if err != nil {
			return err
		}
		if home.Valid {
			_ = t.row(ctx, `SELECT c.address FROM homes h JOIN citizens c ON c.id = h.citizen_id WHERE h.id = ?`, home.String).Scan(&tr.Address)
			var raw string
			if err := t.row(ctx, `SELECT zones FROM gps_zones WHERE home_id = ?`, home.String).Scan(&raw); err == nil {
				_ = json.Unmarshal([]byte(raw), &tr.Zones)
			}
		}
		if tr.Zones == nil {
			tr.Zones = []gps.Zone{}
		}
		// Up to the alert's last time plus an hour: where the person went after the alarm,
		// not their day since.
		rows, err := t.query(ctx, `SELECT at, lat, lon, acc, battery FROM gps_positions WHERE tracker_id = ? AND at <= ? ORDER BY at DESC LIMIT ?`,
			tr.Tracker, ms(a.LastAt.Add(time.Hour)), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		tr.Positions = []gps.TrackPosition{}
		for rows.Next() {
			var (
				p  gps.TrackPosition
				at int64
				b  sql.NullInt64
			)
			if err := rows.Scan(&at, &p.Lat, &p.Lon, &p.Acc, &b); err != nil {
				return err
			}
			p.At = fromMs(at)
			if b.Valid {
				v := int(b.Int64)
				p.Battery = &v
			}
			tr.Positions = append(tr.Positions, p)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i, j := 0, len(tr.Positions)-1; i < j; i, j = i+1, j-1 {
			tr.Positions[i], tr.Positions[j] = tr.Positions[j], tr.Positions[i]
		}
		return nil
	})
	return tr, storeErrOrNil("alert track", err)
}

// ActiveTrackers counts, per municipality (muns; none: all), the trackers that sent a
// position on a Danish day in [from, to): what the benefit model's gps_tracker row counts
// as active, since positions never reach InfluxDB.
func (s *GPSService) ActiveTrackers(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.MunicipalityCode]int, error) {
	out := map[vagt.MunicipalityCode]int{}
	query, args := `SELECT municipality, COUNT(DISTINCT tracker_id) FROM gps_tracker_days WHERE day >= ? AND day < ?`, []any{danishDay(from), danishDay(to)}
	if len(muns) > 0 {
		query += ` AND municipality IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(muns)), ", ") + `)`
		for _, m := range muns {
			args = append(args, int(m))
		}
	}
	err := s.each(ctx, query+` GROUP BY municipality`, args, func(r *sql.Rows) error {
		var m, n int64
		err := r.Scan(&m, &n)
		out[vagt.MunicipalityCode(m)] = int(n)
		return err
	})
	if err != nil {
		return nil, storeErr("active trackers", err)
	}
	return out, nil
}

// copenhagen is vagt.Copenhagen, loaded once for every component (with time/tzdata, so
// never a fixed CET that is an hour off all summer).
var copenhagen = vagt.Copenhagen

// danishDay is t's date in Denmark, as the statistics' periods count days.
func danishDay(t time.Time) string { return t.In(copenhagen).Format("2006-01-02") }

// eraseGPS deletes the positions of the trackers of the homes that homes selects (one ?
// argument) and those homes' safe zones: where the citizen went and where they may go.
// The trackers and the days they reported stay (pseudonymous, for the statistics).
func (t *tx) eraseGPS(ctx context.Context, homes string, arg any) error {
	if _, err := t.exec(ctx, `DELETE FROM gps_positions WHERE tracker_id IN (SELECT id FROM gps_trackers WHERE home_id IN (`+homes+`))`, arg); err != nil {
		return err
	}
	_, err := t.exec(ctx, `DELETE FROM gps_zones WHERE home_id IN (`+homes+`)`, arg)
	return err
}

// citizenPositions returns the positions still kept of the trackers of the citizen's homes,
// for the citizen's own export (GDPR art. 15 and 20).
func (s *DB) citizenPositions(ctx context.Context, citizen int64) ([]registry.Position, error) {
	out := []registry.Position{}
	err := s.each(ctx, `SELECT p.tracker_id, p.at, p.lat, p.lon, p.acc FROM gps_positions p JOIN gps_trackers g ON g.id = p.tracker_id
		JOIN homes h ON h.id = g.home_id WHERE h.citizen_id = ? ORDER BY p.tracker_id, p.at`, []any{citizen}, func(r *sql.Rows) error {
		var (
			p  registry.Position
			at int64
		)
		err := r.Scan(&p.Tracker, &at, &p.Lat, &p.Lon, &p.Acc)
		p.At = fromMs(at)
		out = append(out, p)
		return err
	})
	return out, err
}
