package sqlstore

import (
	"context"
	"slices"
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
