package night

import (
	"context"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/stats"
)

// CountStore counts recorded checks (api/sqlstore.NightService implements it).
type CountStore interface {
	NightCheckCounts(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.MunicipalityCode]CheckCounts, error)
}

// Counts gives the statistics the recorded night checks (stats.NightSource).
type Counts struct{ Store CountStore }

var _ stats.NightSource = Counts{}

// NightCounts counts the checks due in [from, to) per municipality.
func (c Counts) NightCounts(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.MunicipalityCode]stats.NightCounts, error) {
	in, err := c.Store.NightCheckCounts(ctx, muns, from, to)
	if err != nil {
		return nil, err
	}
	out := make(map[vagt.MunicipalityCode]stats.NightCounts, len(in))
	for m, n := range in {
		out[m] = stats.NightCounts{Remote: n.Remote, Visits: n.Visits, Missed: n.Missed}
	}
	return out, nil
}
