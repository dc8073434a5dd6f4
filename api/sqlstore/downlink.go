package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// AlertRaiseSeqs returns the gateway event seqs of the raises folded into an alert, the
// newest limit of them, ascending: what the downlink names (docs/wire.md, "downlink").
func (s *AlertService) AlertRaiseSeqs(ctx context.Context, alert int64, limit int) ([]uint64, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq FROM alarm_receipts WHERE alert_id = ? AND clears = 0 ORDER BY seq DESC LIMIT ?`), alert, limit)
	if err != nil {
		return nil, storeErr("alert raise seqs", err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, storeErr("alert raise seqs", err)
		}
		out = append(out, uint64(seq))
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("alert raise seqs", err)
	}
	slices.Reverse(out)
	return out, nil
}

// GatewayEventsSince returns, for a gateway back online, what it may have missed since it
// was last connected: of its alerts that are open or were resolved at or after since, those
// whose latest event is after since, each once, as that event (whose data holds the alert
// as it is now); the newest limit of them by that event, newest first. A gateway with
// nothing open and nothing recent costs one indexed read of its alerts
// (alerts_gateway_resolved, migration 14).
func (s *AlertService) GatewayEventsSince(ctx context.Context, gw vagt.GatewayID, since time.Time, limit int) ([]alerts.Event, error) {
	// Per alert of the gateway (alerts_gateway_resolved) its latest event (events_alert):
	// an index probe each, so neither table is scanned.
	evs, err := s.scanEvents(ctx, `SELECT id, at, kind, municipality, district_id, data, audience FROM events
		WHERE id IN (SELECT (SELECT MAX(e.id) FROM events e WHERE e.alert_id = a.id) FROM alerts a
			WHERE a.gateway_id = ? AND (a.state <> 'resolved' OR a.resolved_at >= ?))
		AND at > ?
		ORDER BY id DESC LIMIT ?`, string(gw), ms(since), ms(since), limit)
	if err != nil {
		return nil, storeErr(fmt.Sprintf("events of %s since %s", gw, since.Format(time.RFC3339)), err)
	}
	return evs, nil
}

// GatewayChangesSince reads the event log back from its end, at most limit events, to the
// first event before from: the time of the latest event of each gateway's alerts among
// them, and the time from which that is complete — from, or the oldest event read when
// limit ran out first. The downlink notifier's note of news starts from it (its fast path
// for gateways with nothing new), so an api that just started does not read the store for
// every gateway's next status. One read of the newest events by id.
func (s *AlertService) GatewayChangesSince(ctx context.Context, from time.Time, limit int) (map[vagt.GatewayID]time.Time, time.Time, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT e.at, a.gateway_id FROM events e JOIN alerts a ON a.id = e.alert_id
		ORDER BY e.id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, time.Time{}, storeErr("gateway changes", err)
	}
	defer rows.Close()
	latest := map[vagt.GatewayID]time.Time{}
	covered, n := from, 0
	for rows.Next() {
		var (
			at int64
			gw string
		)
		if err := rows.Scan(&at, &gw); err != nil {
			return nil, time.Time{}, storeErr("gateway changes", err)
		}
		t := fromMs(at)
		if t.Before(from) {
			return latest, from, nil
		}
		if t.After(latest[vagt.GatewayID(gw)]) {
			latest[vagt.GatewayID(gw)] = t
		}
		if n++; n == limit {
			covered = t // older events were not read
		}
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, storeErr("gateway changes", err)
	}
	return latest, covered, nil
}
