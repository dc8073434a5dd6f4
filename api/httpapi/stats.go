package httpapi

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/stats"
)

// StatsService computes the statistics (stats.Service).
type StatsService interface {
	Adoption(ctx context.Context, q stats.Query) (stats.Adoption, error)
	Alerts(ctx context.Context, q stats.Query) (stats.AlertStats, error)
	Benefits(ctx context.Context, q stats.Query) (stats.Benefits, error)
}

var errNoStats = fmt.Errorf("%w: statistics are not configured", api.ErrUnavailable)

// statsQuery validates the request's municipality, technology, from, to and interval
// against the caller's role: managers get their own municipality only, national users and
// admins any (national with small counts suppressed); other roles get none. Every
// statistics endpoint asks it, so each refuses the same bad input alike: a 400 naming the
// field and why (a period of zero length, reversed, longer than the retention or wholly in
// the future: stats.CheckPeriod; an unknown municipality or technology).
func (s *server) statsQuery(r *http.Request, p *api.Principal) (stats.Query, error) {
	var q stats.Query
	v := r.URL.Query()
	switch p.Role {
	case api.RoleManager, api.RoleNational, api.RoleAdmin:
	default:
		return q, fmt.Errorf("%w: statistics are for managers, national users and admins", api.ErrForbidden)
	}
	var err error
	if q.Period, err = stats.CheckPeriod(v.Get("from"), v.Get("to"), v.Get("interval"), s.Clock.Now(), s.statsRetention()); err != nil {
		return q, err
	}
	if s := v.Get("municipality"); s != "" {
		for _, part := range strings.Split(s, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(part), 10, 16)
			m := vagt.MunicipalityCode(n)
			if err != nil || m.Validate() != nil {
				return q, &api.FieldError{Field: "municipality", Reason: fmt.Sprintf("unknown municipality %q", part)}
			}
			if !slices.Contains(q.Municipalities, m) {
				q.Municipalities = append(q.Municipalities, m)
			}
		}
		slices.Sort(q.Municipalities)
	}
	if p.Role == api.RoleManager {
		for _, m := range q.Municipalities {
			if m != p.Municipality {
				return q, fmt.Errorf("%w: managers see their own municipality (%d) only", api.ErrForbidden, p.Municipality)
			}
		}
		q.Municipalities = []vagt.MunicipalityCode{p.Municipality}
	}
	if len(q.Municipalities) == 0 {
		q.All = true
		for _, m := range vagt.Municipalities() {
			q.Municipalities = append(q.Municipalities, m.Code)
		}
	}
	if s := v.Get("technology"); s != "" {
		for _, part := range strings.Split(s, ",") {
			t, err := vagt.ParseTechnology(strings.TrimSpace(part))
			if err != nil {
				return q, &api.FieldError{Field: "technology", Reason: fmt.Sprintf("unknown technology %q", part)}
			}
			if !slices.Contains(q.Technologies, t) {
				q.Technologies = append(q.Technologies, t)
			}
		}
		slices.Sort(q.Technologies)
	} else {
		for _, t := range vagt.Technologies() {
			q.Technologies = append(q.Technologies, t.Technology)
		}
	}
	q.Suppress = p.Role == api.RoleNational
	return q, nil
}

// wantsCSV reports whether the client asked for text/csv.
func wantsCSV(r *http.Request) bool { return accepts(r, "text/csv") }

func accepts(r *http.Request, media string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == media {
			return true
		}
	}
	return false
}

// statsEndpoint answers one statistics endpoint as JSON or, on Accept: text/csv, CSV.
func statsEndpoint[T any](s *server, name string, compute func(StatsService, context.Context, stats.Query) (T, error), writeCSV func(io.Writer, T) error) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		if s.Stats == nil {
			return errNoStats
		}
		q, err := s.statsQuery(r, p)
		if err != nil {
			return err
		}
		release, err := s.stats.take(r.Context(), w)
		if err != nil {
			return err
		}
		res, err := func() (T, error) { defer release(); return compute(s.Stats, r.Context(), q) }()
		if err != nil {
			return err
		}
		if wantsCSV(r) {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="vagt-%s-%s-%s.csv"`,
				name, q.Period.From.Format("20060102"), q.Period.To.Format("20060102")))
			w.Header().Set("Cache-Control", "no-store")
			return writeCSV(w, res)
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	})
}

func (s *server) adoptionStats() http.Handler {
	return statsEndpoint(s, "adoption", StatsService.Adoption, stats.WriteAdoptionCSV)
}

// alertStats answers per municipality; with by=district the CSV has a row per district
// and priority (the JSON carries both).
func (s *server) alertStats() http.Handler {
	rows := statsEndpoint(s, "alerts", StatsService.Alerts, stats.WriteAlertsCSV)
	byDistrict := statsEndpoint(s, "alerts-by-district", StatsService.Alerts, stats.WriteResponseCSV)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("by") {
		case "":
			rows.ServeHTTP(w, r)
		case "district":
			byDistrict.ServeHTTP(w, r)
		default:
			writeError(w, r, s.Logger, fmt.Errorf("%w: by=%q: only by=district", api.ErrInvalid, r.URL.Query().Get("by")))
		}
	})
}

func (s *server) benefitStats() http.Handler {
	return statsEndpoint(s, "benefits", StatsService.Benefits, stats.WriteBenefitsCSV)
}
