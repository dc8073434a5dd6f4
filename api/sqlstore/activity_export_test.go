package sqlstore

import (
	"context"
	"fmt"
)

// ActivityRowsForTest dumps the roll-up's rows in key order.
func (s *Store) ActivityRowsForTest(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT month, municipality, gateway_id, device_id, days FROM device_activity
		ORDER BY month, municipality, gateway_id, device_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var month, mun int
		var gw, dev string
		var days int64
		if err := rows.Scan(&month, &mun, &gw, &dev, &days); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%d %d %s %s %b", month, mun, gw, dev, days))
	}
	return out, rows.Err()
}
