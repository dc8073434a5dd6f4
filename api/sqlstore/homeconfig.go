package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/careplan"
)

// Care plans (api/careplan): a home's configuration as JSON, its history and what each
// gateway runs, in careplan's words (careplan.Store). The store keeps the JSON as it is
// given; careplan validates and reads it.

// HomeFacts returns a home's municipality, district, gateways and their devices.
func (s *CarePlanService) HomeFacts(ctx context.Context, home vagt.HomeID) (careplan.HomeFacts, error) {
	f := careplan.HomeFacts{Home: home, Devices: map[vagt.DeviceID]vagt.Technology{}}
	var mun int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT d.municipality, d.id FROM homes h JOIN districts d ON d.id = h.district_id WHERE h.id = ?`),
		string(home)).Scan(&mun, &f.District)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("home %s: %w", home, api.ErrNotFound)
	} else if err != nil {
		return f, storeErr("home facts", err)
	}
	f.Municipality = vagt.MunicipalityCode(mun)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT g.id, d.id, d.technology FROM gateways g
		LEFT JOIN devices d ON d.gateway_id = g.id WHERE g.home_id = ? AND g.decommissioned_at IS NULL ORDER BY g.id`), string(home))
	if err != nil {
		return f, storeErr("home facts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			gw   string
			dev  sql.NullString
			tech sql.NullInt64
		)
		if err := rows.Scan(&gw, &dev, &tech); err != nil {
			return f, storeErr("home facts", err)
		}
		if len(f.Gateways) == 0 || f.Gateways[len(f.Gateways)-1] != vagt.GatewayID(gw) {
			f.Gateways = append(f.Gateways, vagt.GatewayID(gw))
		}
		if dev.Valid {
			f.Devices[vagt.DeviceID(dev.String)] = vagt.Technology(tech.Int64)
		}
	}
	if err := rows.Err(); err != nil {
		return f, storeErr("home facts", err)
	}
	return f, nil
}

// HomeConfig returns a home's current configuration; api.ErrNotFound when it has none.
func (s *CarePlanService) HomeConfig(ctx context.Context, home vagt.HomeID) (careplan.HomeConfigRow, error) {
	rows, err := s.homeConfigRows(ctx, `SELECT home_id, version, settings, effective, changed_at, changed_by FROM home_configs WHERE home_id = ?`, string(home))
	if err != nil {
		return careplan.HomeConfigRow{}, err
	}
	if len(rows) == 0 {
		return careplan.HomeConfigRow{}, fmt.Errorf("configuration of home %s: %w", home, api.ErrNotFound)
	}
	return rows[0], nil
}

// HomeConfigHistory returns a home's configurations, newest first.
func (s *CarePlanService) HomeConfigHistory(ctx context.Context, home vagt.HomeID, limit int) ([]careplan.HomeConfigRow, error) {
	if limit <= 0 || limit > MaxListLimit {
		limit = MaxListLimit
	}
	return s.homeConfigRows(ctx, `SELECT home_id, version, settings, effective, changed_at, changed_by FROM home_config_history
		WHERE home_id = ? ORDER BY version DESC LIMIT ?`, string(home), limit)
}

func (s *DB) homeConfigRows(ctx context.Context, query string, args ...any) ([]careplan.HomeConfigRow, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, storeErr("home config", err)
	}
	defer rows.Close()
	var out []careplan.HomeConfigRow
	for rows.Next() {
		var (
			r         careplan.HomeConfigRow
			home      string
			v, at     int64
			set, eff  string
			changedBy string
		)
		if err := rows.Scan(&home, &v, &set, &eff, &at, &changedBy); err != nil {
			return nil, storeErr("home config", err)
		}
		r.Home, r.Version, r.Settings, r.Effective, r.ChangedAt, r.ChangedBy = vagt.HomeID(home), uint64(v), []byte(set), []byte(eff), fromMs(at), changedBy
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("home config", err)
	}
	return out, nil
}

// SaveHomeConfig stores a new version of a home's configuration — the current version plus
// one, or above, when higher, (a gateway that already runs a higher version: moved from
// another home, or the database was restored from a backup; it would ignore a lower one) —
// with its history line and an audit entry, in one transaction. A decommissioned home
// takes no new version (api.ErrConflict). ifVersion > 0 makes
// it conditional: api.ErrConflict when the current version is another (someone else
// changed it meanwhile). build gets the new version and returns the JSON to store.
func (s *CarePlanService) SaveHomeConfig(ctx context.Context, home vagt.HomeID, ifVersion, above uint64, actor, detail string, now time.Time,
	build func(version uint64) (settings, effective []byte, err error)) (careplan.HomeConfigRow, error) {
	var row careplan.HomeConfigRow
	err := s.inTx(ctx, func(t *tx) error {
		var decom sql.NullInt64
		if err := t.row(ctx, `SELECT decommissioned_at FROM homes WHERE id = ?`, string(home)).Scan(&decom); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if decom.Valid {
			return fmt.Errorf("home %s is decommissioned; its care plan is kept for history and takes no change: %w", home, api.ErrConflict)
		}
		var cur int64
		err := t.row(ctx, `SELECT version FROM home_configs WHERE home_id = ?`, string(home)).Scan(&cur)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if ifVersion > 0 && uint64(cur) != ifVersion {
			return fmt.Errorf("configuration of home %s is at version %d, not %d: %w", home, cur, ifVersion, api.ErrConflict)
		}
		v := max(uint64(cur), above) + 1
		set, eff, err := build(v)
		if err != nil {
			return err
		}
		row = careplan.HomeConfigRow{Home: home, Version: v, Settings: set, Effective: eff, ChangedAt: now.UTC().Truncate(time.Millisecond), ChangedBy: actor}
		if _, err := t.exec(ctx, `INSERT INTO home_configs (home_id, version, settings, effective, changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (home_id) DO UPDATE SET version = excluded.version, settings = excluded.settings,
				effective = excluded.effective, changed_at = excluded.changed_at, changed_by = excluded.changed_by`,
			string(home), int64(v), string(set), string(eff), ms(now), actor); err != nil {
			return err
		}
		if err := t.keepAbsence(ctx, home, eff); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO home_config_history (home_id, version, settings, effective, changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?)`,
			string(home), int64(v), string(set), string(eff), ms(now), actor); err != nil {
			return err
		}
		return t.audit(ctx, now, actor, "homeconfig.update", "home/"+string(home), fmt.Sprintf("version %d: %s", v, detail))
	})
	if err != nil {
		return careplan.HomeConfigRow{}, storeErr("save home config", err)
	}
	return row, nil
}

// RecordGatewayConfig keeps what a gateway's status says about its configuration. The
// caller writes only a change (GatewayConfig first): statuses are frequent, changes rare.
func (s *CarePlanService) RecordGatewayConfig(ctx context.Context, gw vagt.GatewayID, applied uint64, refused string, now time.Time) error {
	err := s.inTx(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO gateway_configs (gateway_id, applied, refused, reported_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (gateway_id) DO UPDATE SET applied = excluded.applied, refused = excluded.refused, reported_at = excluded.reported_at`,
			string(gw), int64(applied), refused, ms(now))
		return err
	})
	if err != nil {
		return storeErr("record gateway config", err)
	}
	return nil
}

// MarkConfigPublished records that version was published to the gateway.
func (s *CarePlanService) MarkConfigPublished(ctx context.Context, gw vagt.GatewayID, version uint64, now time.Time) error {
	err := s.inTx(ctx, func(t *tx) error {
		_, err := t.exec(ctx, `INSERT INTO gateway_configs (gateway_id, published, published_at) VALUES (?, ?, ?)
			ON CONFLICT (gateway_id) DO UPDATE SET published = excluded.published, published_at = excluded.published_at`,
			string(gw), int64(version), ms(now))
		return err
	})
	if err != nil {
		return storeErr("mark config published", err)
	}
	return nil
}

// GatewayConfig returns what the platform knows of a gateway's configuration.
func (s *CarePlanService) GatewayConfig(ctx context.Context, gw vagt.GatewayID) (careplan.GatewayConfigState, error) {
	st := careplan.GatewayConfigState{Gateway: gw}
	var (
		applied, published, desired int64
		reportedAt, publishAt       sql.NullInt64
		online                      sql.NullInt64
		home                        sql.NullString
	)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT g.home_id, COALESCE(h.version, 0), COALESCE(c.applied, 0), COALESCE(c.refused, ''), c.reported_at,
			COALESCE(c.published, 0), c.published_at, g.online
		FROM gateways g LEFT JOIN gateway_configs c ON c.gateway_id = g.id LEFT JOIN home_configs h ON h.home_id = g.home_id
		WHERE g.id = ?`), string(gw)).
		Scan(&home, &desired, &applied, &st.Refused, &reportedAt, &published, &publishAt, &online)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("gateway %s: %w", gw, api.ErrNotFound)
	} else if err != nil {
		return st, storeErr("gateway config", err)
	}
	st.Home, st.Desired = vagt.HomeID(home.String), uint64(desired)
	st.Applied, st.Published, st.Online = uint64(applied), uint64(published), online.Int64 != 0
	st.ReportedAt, st.PublishedAt = nullMs(reportedAt), nullMs(publishAt)
	return st, nil
}

// ConfigsToPublish returns gateways whose home has a configuration version that was not
// yet published to them (at start: a change whose publish did not happen before a stop).
func (s *CarePlanService) ConfigsToPublish(ctx context.Context, limit int) ([]vagt.GatewayID, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT g.id FROM gateways g JOIN home_configs h ON h.home_id = g.home_id
		LEFT JOIN gateway_configs c ON c.gateway_id = g.id WHERE COALESCE(c.published, 0) < h.version AND g.decommissioned_at IS NULL
		ORDER BY g.id LIMIT ?`), limit)
	if err != nil {
		return nil, storeErr("configs to publish", err)
	}
	defer rows.Close()
	var out []vagt.GatewayID
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, storeErr("configs to publish", err)
		}
		out = append(out, vagt.GatewayID(id))
	}
	return out, storeErrOrNil("configs to publish", rows.Err())
}

func storeErrOrNil(op string, err error) error {
	if err == nil {
		return nil
	}
	return storeErr(op, err)
}

// HomeConfigLines returns the homes of a municipality (0: all), of the districts when any
// are given, ordered by home, at most limit homes' worth of lines.
func (s *CarePlanService) HomeConfigLines(ctx context.Context, mun vagt.MunicipalityCode, districts []int64, limit int) ([]careplan.HomeConfigLine, error) {
	if limit <= 0 || limit > 5000 {
		limit = 5000
	}
	query := `SELECT h.id, h.district_id, COALESCE(c.version, 0), COALESCE(g.id, ''), COALESCE(g.online, 0),
			COALESCE(gc.applied, 0), COALESCE(gc.refused, ''), c.away_from, c.away_until, COALESCE(ci.name, '')
		FROM homes h JOIN districts d ON d.id = h.district_id
		LEFT JOIN citizens ci ON ci.id = h.citizen_id
		LEFT JOIN home_configs c ON c.home_id = h.id
		LEFT JOIN gateways g ON g.home_id = h.id AND g.decommissioned_at IS NULL
		LEFT JOIN gateway_configs gc ON gc.gateway_id = g.id
		WHERE (? = 0 OR d.municipality = ?)`
	args := []any{int(mun), int(mun)}
	if len(districts) > 0 {
		query += ` AND h.district_id IN (?` + strings.Repeat(", ?", len(districts)-1) + `)`
		for _, d := range districts {
			args = append(args, d)
		}
	}
	query += ` ORDER BY h.id, g.id LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, storeErr("home config lines", err)
	}
	defer rows.Close()
	var out []careplan.HomeConfigLine
	for rows.Next() {
		var (
			l                careplan.HomeConfigLine
			home, gw         string
			desired, applied int64
			online           int
			awayFrom, until  sql.NullInt64
		)
		if err := rows.Scan(&home, &l.District, &desired, &gw, &online, &applied, &l.Refused, &awayFrom, &until, &l.Citizen); err != nil {
			return nil, storeErr("home config lines", err)
		}
		l.Home, l.Gateway, l.Desired, l.Applied, l.Online = vagt.HomeID(home), vagt.GatewayID(gw), uint64(desired), uint64(applied), online != 0
		l.AwayFrom, l.AwayUntil = nullMs(awayFrom), nullMs(until)
		out = append(out, l)
	}
	return out, storeErrOrNil("home config lines", rows.Err())
}

// Gateway returns a gateway's link state.
func (s *CarePlanService) Gateway(ctx context.Context, id vagt.GatewayID) (careplan.GatewayLink, error) {
	var (
		g                      careplan.GatewayLink
		home                   sql.NullString
		mun, online, hb        int
		lastSeen, offlineSince sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, home_id, municipality, online, last_seen, offline_since, heartbeat_s, software
		FROM gateways WHERE id = ?`), string(id)).Scan(&g.ID, &home, &mun, &online, &lastSeen, &offlineSince, &hb, &g.Software)
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("gateway %s: %w", id, api.ErrNotFound)
	} else if err != nil {
		return g, storeErr("gateway", err)
	}
	g.Home, g.Municipality, g.Online = vagt.HomeID(home.String), vagt.MunicipalityCode(mun), online != 0
	g.LastSeen, g.OfflineSince, g.Heartbeat = nullMs(lastSeen), nullMs(offlineSince), time.Duration(hb)*time.Second
	return g, nil
}
