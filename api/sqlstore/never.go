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
)

// detectNeverConnected raises, once per gateway, a gateway_offline alert with details
// {"never_connected": "true"} for a gateway provisioned at least the policy's NeverConnected
// ago that never sent a status; and resolves such an alert (system, technical_fault) once
// its gateway has connected. It returns how many alerts it changed.
func (s *DB) detectNeverConnected(ctx context.Context, now time.Time) (int, error) {
	n := 0
	if grace := s.policy.NeverConnected; grace > 0 {
		type gw struct {
			id  string
			mun int
		}
		var never []gw
		err := s.each(ctx, `SELECT g.id, g.municipality FROM gateways g
			WHERE g.provisioned_at IS NOT NULL AND g.provisioned_at <= ? AND g.last_seen IS NULL AND g.offline_since IS NULL
			AND g.decommissioned_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.gateway_id = g.id AND a.device_id = g.id AND a.type = ? AND a.raised_at >= g.provisioned_at)
			LIMIT 500`, []any{ms(now.Add(-grace)), int(vagt.AlarmGatewayOffline)}, func(r *sql.Rows) error {
			var g gw
			err := r.Scan(&g.id, &g.mun)
			never = append(never, g)
			return err
		})
		if err != nil {
			return n, storeErr("detect never connected", err)
		}
		for _, g := range never {
			err := s.inTx(ctx, func(t *tx) error {
				_, err := t.raise(ctx, raiseOf(alerts.OfflineAlarm(vagt.GatewayID(g.id), vagt.MunicipalityCode(g.mun), true, now)), now)
				return err
			})
			if err != nil {
				return n, storeErr("raise never-connected alert for "+g.id, err)
			}
			s.log.Warn("sqlstore: gateway provisioned and never connected", "gateway", g.id, "grace", grace)
			n++
		}
	}

	// Connected at last: resolve at once (RecordStatus marked it cleared), without waiting
	// for the online-stable period that a flapping link needs.
	var back []int64
	err := s.each(ctx, `SELECT a.id FROM alerts a JOIN gateways g ON g.id = a.gateway_id
		WHERE a.type = ? AND a.device_id = a.gateway_id AND a.state <> 'resolved' AND a.details LIKE ?
			AND g.last_seen IS NOT NULL LIMIT 500`,
		[]any{int(vagt.AlarmGatewayOffline), `%"` + alerts.DetailNeverConnected + `"%`}, func(r *sql.Rows) error {
			var id int64
			err := r.Scan(&id)
			back = append(back, id)
			return err
		})
	if err != nil {
		return n, storeErr("detect never connected", err)
	}
	for _, id := range back {
		err := s.inTx(ctx, func(t *tx) error {
			outcome, note := s.policy.Recovered(true, now)
			_, err := t.resolve(ctx, id, api.System, nil, outcome, note, now)
			return err
		})
		if errors.Is(err, api.ErrConflict) {
			continue
		}
		if err != nil {
			return n, storeErr(fmt.Sprintf("resolve never-connected alert %d", id), err)
		}
		n++
	}
	return n, nil
}
