package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/stats"
)

// Comparer puts municipalities side by side (stats.Service.Compare).
type Comparer interface {
	Compare(ctx context.Context, q stats.CompareQuery) (stats.Comparison, error)
}

// compareQuery validates GET /stats/compare: the statistics' period, municipality and
// technology parameters (statsQuery: roles, unknown codes and names, a period zero,
// reversed, too long, in the future or before the retention); a manager compares their own
// municipality with a peer group (peers=, optional, at least 5 other municipalities),
// national users and admins the municipalities asked (default all 98).
func (s *server) compareQuery(r *http.Request, p *api.Principal) (stats.CompareQuery, error) {
	var cq stats.CompareQuery
	v := r.URL.Query()
	if v.Get("interval") != "" {
		return cq, &api.FieldError{Field: "interval", Reason: "the comparison is over the whole period; it takes no interval"}
	}
	q, err := s.statsQuery(r, p)
	if err != nil {
		return cq, err
	}
	cq = stats.CompareQuery{Period: q.Period, Technologies: q.Technologies, Municipalities: q.Municipalities, All: q.All, Suppress: q.Suppress}
	if p.Role == api.RoleManager {
		cq.Own, cq.Municipalities, cq.All = p.Municipality, nil, false
	}
	if ps := v.Get("peers"); ps != "" {
		if p.Role != api.RoleManager {
			return cq, &api.FieldError{Field: "peers", Reason: "peers= is for a manager's comparison; national users and admins list municipality="}
		}
		cq.Peers = []vagt.MunicipalityCode{}
		for _, part := range strings.Split(ps, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(part), 10, 16)
			m := vagt.MunicipalityCode(n)
			if err != nil || m.Validate() != nil {
				return cq, &api.FieldError{Field: "peers", Reason: fmt.Sprintf("unknown municipality %q", part)}
			}
			if !slices.Contains(cq.Peers, m) {
				cq.Peers = append(cq.Peers, m)
			}
		}
		slices.Sort(cq.Peers)
	}
	return cq, nil
}

func (s *server) statsRetention() time.Duration {
	if s.StatsRetention > 0 {
		return s.StatsRetention
	}
	return stats.DefaultRetention
}

func (s *server) compareStats() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		c, ok := s.Stats.(Comparer)
		if s.Stats == nil || !ok {
			return errNoStats
		}
		q, err := s.compareQuery(r, p)
		if err != nil {
			return err
		}
		release, err := s.stats.take(r.Context(), w)
		if err != nil {
			return err
		}
		res, err := func() (stats.Comparison, error) { defer release(); return c.Compare(r.Context(), q) }()
		if err != nil {
			return err
		}
		if wantsCSV(r) {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="vagt-compare-%s-%s.csv"`,
				q.Period.From.Format("20060102"), q.Period.To.Format("20060102")))
			w.Header().Set("Cache-Control", "no-store")
			return stats.WriteCompareCSV(w, res)
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	})
}
