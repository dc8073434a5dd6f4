package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// DetectOffline applies the offline policy at now:
//   - a gateway whose will said offline for the grace period, or whose heartbeats stopped for
//     its interval × factor plus the grace period, gets a gateway_offline alert — or, when
//     its offline alert is open but cleared (it came back a moment ago), that alert is
//     raised again with its count increased, so a flapping link makes one alert;
//   - an offline alert whose gateway has been back for the stable period resolves itself,
//     with a note saying so.
//
// It returns how many alerts it changed.
func (s *AlertService) DetectOffline(ctx context.Context, now time.Time) (int, error) {
	p := s.policy
	cutoff := ms(now.Add(-p.OfflineGrace))
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT g.id, g.municipality FROM gateways g
		WHERE ((g.online = 0 AND g.offline_since IS NOT NULL AND g.offline_since <= ?)
			OR (g.online = 1 AND g.last_seen IS NOT NULL
				AND g.last_seen + (CASE WHEN g.heartbeat_s > 0 THEN g.heartbeat_s ELSE ? END) * ? <= ?))
		AND g.decommissioned_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.gateway_id = g.id AND a.device_id = g.id AND a.type = ?
			AND a.state <> 'resolved' AND a.cleared_at IS NULL)
		LIMIT 500`),
		cutoff, int64(p.DefaultHeartbeat/time.Second), int64(p.OfflineFactor)*1000, cutoff, int(vagt.AlarmGatewayOffline))
	if err != nil {
		return 0, storeErr("detect offline", err)
	}
	type gw struct {
		id  string
		mun int
	}
	var silent []gw
	for rows.Next() {
		var g gw
		if err := rows.Scan(&g.id, &g.mun); err != nil {
			rows.Close()
			return 0, storeErr("detect offline", err)
		}
		silent = append(silent, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, storeErr("detect offline", err)
	}
	n, err := s.detectNeverConnected(ctx, now)
	if err != nil {
		return n, err
	}
	for _, g := range silent {
		err := s.inTx(ctx, func(t *tx) error {
			_, err := t.raise(ctx, raiseOf(alerts.OfflineAlarm(vagt.GatewayID(g.id), vagt.MunicipalityCode(g.mun), false, now)), now)
			return err
		})
		if err != nil {
			return n, storeErr("raise offline alert for "+g.id, err)
		}
		n++
	}

	rows, err = s.db.QueryContext(ctx, s.q(`SELECT a.id FROM alerts a JOIN gateways g ON g.id = a.gateway_id
		WHERE a.type = ? AND a.device_id = a.gateway_id AND a.state <> 'resolved' AND a.cleared_at IS NOT NULL
			AND a.cleared_at <= ? AND g.online = 1 LIMIT 500`),
		int(vagt.AlarmGatewayOffline), ms(now.Add(-p.OnlineStable)))
	if err != nil {
		return n, storeErr("detect offline", err)
	}
	var back []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return n, storeErr("detect offline", err)
		}
		back = append(back, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return n, storeErr("detect offline", err)
	}
	for _, id := range back {
		err := s.inTx(ctx, func(t *tx) error {
			outcome, note := p.Recovered(false, now)
			_, err := t.resolve(ctx, id, api.System, nil, outcome, note, now)
			return err
		})
		if errors.Is(err, api.ErrConflict) {
			continue // staff resolved it meanwhile
		}
		if err != nil {
			return n, storeErr(fmt.Sprintf("resolve offline alert %d", id), err)
		}
		n++
	}
	return n, nil
}
