package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

var _ alerts.GaugeReader = (*Store)(nil)

// AlertGauges counts the alerts waiting for a person, for the metrics (no personal data).
// Three small aggregate queries over indexed columns; a scrape runs them once.
func (s *Store) AlertGauges(ctx context.Context) (alerts.Gauges, error) {
	g := alerts.Gauges{Unresolved: map[vagt.Priority]map[alerts.State]int{}, OldestUnacked: map[vagt.Priority]time.Time{},
		ByTier: map[alerts.Tier]int{}, Escalations: map[alerts.Tier]int{}}
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
	return g, nil
}
