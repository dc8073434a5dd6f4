package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// AlertGauges counts the alerts waiting for a person, for the metrics (no personal data).
// Three small aggregate queries over indexed columns; a scrape runs them once.
func (s *AlertService) AlertGauges(ctx context.Context) (alerts.Gauges, error) {
	g := alerts.Gauges{Unresolved: map[vagt.Priority]map[alerts.State]int{}, OldestUnacked: map[vagt.Priority]time.Time{},
		ByTier: map[alerts.Tier]int{}, Escalations: map[alerts.Tier]int{}, OpenByDistrict: map[alerts.DistrictKey]int{},
		Gateways: map[vagt.MunicipalityCode]map[alerts.GatewayState]int{}}
	rows, err := s.db.QueryContext(ctx, `SELECT priority, state, escalation_level, COUNT(*),
		MIN(CASE WHEN state = 'open' THEN raised_at END) FROM alerts WHERE state <> 'resolved'
		GROUP BY priority, state, escalation_level`)
	if err != nil {
		return g, storeErr("alert gauges", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			prio, level, n int
			state          string
			oldest         sql.NullInt64
		)
		if err := rows.Scan(&prio, &state, &level, &n, &oldest); err != nil {
			return g, storeErr("alert gauges", err)
		}
		p, st := vagt.Priority(prio), alerts.State(state)
		if g.Unresolved[p] == nil {
			g.Unresolved[p] = map[alerts.State]int{}
		}
		g.Unresolved[p][st] += n
		g.ByTier[alerts.TierOf(level)] += n
		if oldest.Valid {
			if t, ok := g.OldestUnacked[p]; !ok || fromMs(oldest.Int64).Before(t) {
				g.OldestUnacked[p] = fromMs(oldest.Int64)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return g, storeErr("alert gauges", err)
	}
	rows.Close()
	tiers, err := s.db.QueryContext(ctx, `SELECT tier, COUNT(*) FROM alert_escalations GROUP BY tier`)
	if err != nil {
		return g, storeErr("alert gauges", err)
	}
	defer tiers.Close()
	for tiers.Next() {
		var (
			tier string
			n    int
		)
		if err := tiers.Scan(&tier, &n); err != nil {
			return g, storeErr("alert gauges", err)
		}
		g.Escalations[alerts.Tier(tier)] = n
	}
	if err := tiers.Err(); err != nil {
		return g, storeErr("alert gauges", err)
	}
	if err := s.gaugeRows(ctx, `SELECT municipality, COALESCE(district_id, 0), COUNT(*) FROM alerts WHERE state = 'open'
		GROUP BY municipality, COALESCE(district_id, 0)`, func(sc func(...any) error) error {
		var (
			k alerts.DistrictKey
			n int
		)
		err := sc(&k.Municipality, &k.District, &n)
		g.OpenByDistrict[k] = n
		return err
	}); err != nil {
		return g, err
	}
	// A gateway's municipality is its home's district's; one not yet in a home counts under
	// the municipality it reported (0 when none).
	if err := s.gaugeRows(ctx, `SELECT COALESCE(d.municipality, g.municipality),
		CASE WHEN g.last_seen IS NULL THEN 'never_connected' WHEN g.online = 1 THEN 'online' ELSE 'offline' END, COUNT(*)
		FROM gateways g LEFT JOIN homes h ON h.id = g.home_id LEFT JOIN districts d ON d.id = h.district_id
		WHERE g.decommissioned_at IS NULL GROUP BY 1, 2`, func(sc func(...any) error) error {
		var (
			mun   vagt.MunicipalityCode
			state string
			n     int
		)
		err := sc(&mun, &state, &n)
		if g.Gateways[mun] == nil {
			g.Gateways[mun] = map[alerts.GatewayState]int{}
		}
		g.Gateways[mun][alerts.GatewayState(state)] = n
		return err
	}); err != nil {
		return g, err
	}
	return g, nil
}

// gaugeRows runs query and hands each row's Scan to row.
func (s *DB) gaugeRows(ctx context.Context, query string, row func(scan func(...any) error) error) error {
	rows, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return storeErr("alert gauges", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return storeErr("alert gauges", err)
		}
	}
	return storeErrOrNil("alert gauges", rows.Err())
}
