package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/careplan"
)

// HomeCoverage returns what the care-plan overview needs of each home's coverage for the
// homes of a municipality (0: all), of the districts when any are given.
func (s *CarePlanService) HomeCoverage(ctx context.Context, mun vagt.MunicipalityCode, districts []int64) (map[vagt.HomeID]careplan.HomeCoverage, error) {
	where, args := `WHERE (? = 0 OR d.municipality = ?)`, []any{int(mun), int(mun)}
	if len(districts) > 0 {
		where += ` AND h.district_id IN (?` + strings.Repeat(", ?", len(districts)-1) + `)`
		for _, d := range districts {
			args = append(args, d)
		}
	}
	out := map[vagt.HomeID]careplan.HomeCoverage{}
	err := s.each(ctx, `SELECT h.id, dv.id FROM homes h JOIN districts d ON d.id = h.district_id
		JOIN gateways g ON g.home_id = h.id AND g.decommissioned_at IS NULL
		JOIN devices dv ON dv.gateway_id = g.id `+where, args, func(r *sql.Rows) error {
		var home, dev string
		if err := r.Scan(&home, &dev); err != nil {
			return err
		}
		c := out[vagt.HomeID(home)]
		c.Registered = append(c.Registered, vagt.DeviceID(dev))
		out[vagt.HomeID(home)] = c
		return nil
	})
	if err != nil {
		return nil, storeErr("home coverage", err)
	}
	err = s.each(ctx, `SELECT h.id, c.settings FROM homes h JOIN districts d ON d.id = h.district_id
		JOIN home_configs c ON c.home_id = h.id `+where, args, func(r *sql.Rows) error {
		var home, plan string
		if err := r.Scan(&home, &plan); err != nil {
			return err
		}
		c := out[vagt.HomeID(home)]
		c.Plan = []byte(plan)
		out[vagt.HomeID(home)] = c
		return nil
	})
	if err != nil {
		return nil, storeErr("home coverage", err)
	}
	return out, nil
}
