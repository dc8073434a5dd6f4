package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/night"
	"github.com/vagt-dk/vagt/api/stats"
)

// Night supervision (docs/night-supervision.md): the night board, a check's decision, a
// home's checks, and the checks' statistics.

// NightService is the night supervision (night.Service).
type NightService interface {
	Board(ctx context.Context, scope api.Scope) (night.Board, error)
	Record(ctx context.Context, scope api.Scope, home vagt.HomeID, actor string, d night.Decision) (night.Check, error)
	Checks(ctx context.Context, scope api.Scope, home vagt.HomeID, from, to time.Time) ([]night.Check, error)
	// ShiftNow is the time on the shift's clock, which due times are on (the demo's
	// --night-speed runs it ahead of the wall clock).
	ShiftNow() time.Time
}

// NightStatsService computes the night checks' statistics (stats.Service).
type NightStatsService interface {
	NightChecks(ctx context.Context, q stats.Query) (stats.NightStats, error)
}

var errNoNight = fmt.Errorf("%w: night supervision is not served by this API", api.ErrUnavailable)

// nightBoard answers GET /night/board: care staff on duty (the board names citizens),
// their districts; the read is audited.
func (s *server) nightBoard() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		if s.Night == nil {
			return errNoNight
		}
		p, scope, err := actorScope(r)
		if err != nil {
			return err
		}
		b, err := s.Night.Board(r.Context(), scope)
		if err != nil {
			return err
		}
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "night.board",
			Object: "night/board", Detail: fmt.Sprintf("%d homes", len(b.Homes))}); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, b)
		return nil
	})
}

// recordNightCheck answers POST /homes/{id}/night-checks {"due_at", "decision":
// "all_well" | "visit", "note"}: care staff of the home's district.
func (s *server) recordNightCheck() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		if s.Night == nil {
			return errNoNight
		}
		p, scope, err := actorScope(r)
		if err != nil {
			return err
		}
		home := vagt.HomeID(chi.URLParam(r, "id"))
		if err := home.Validate(); err != nil {
			return fmt.Errorf("%w: %w", api.ErrNotFound, err)
		}
		var d night.Decision
		if err := readJSON(w, r, &d); err != nil {
			return err
		}
		c, err := s.Night.Record(r.Context(), scope, home, p.Name, d)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, c)
		return nil
	})
}

// nightChecks answers GET /homes/{id}/night-checks?from=&to= (RFC 3339; default the last
// 7 days): who checked when, the state seen, the decision. Same scope as the care plan,
// decided by the store; audited.
func (s *server) nightChecks() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		if s.Night == nil {
			return errNoNight
		}
		p, scope, home, err := homeScope(r)
		if err != nil {
			return err
		}
		now, shift := s.Clock.Now(), s.Night.ShiftNow()
		from, to := shift.Add(-7*24*time.Hour), shift.Add(night.Lookahead)
		for _, q := range []struct {
			name string
			dst  *time.Time
		}{{"from", &from}, {"to", &to}} {
			if v := r.URL.Query().Get(q.name); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return &night.InvalidField{Field: q.name, Reason: fmt.Sprintf("%q: want RFC 3339", v)}
				}
				*q.dst = t
			}
		}
		cs, err := s.Night.Checks(r.Context(), scope, home, from, to)
		if err != nil {
			return err
		}
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: now, Actor: p.Name, Action: "night.checks.read", Object: "home/" + string(home)}); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"home": home, "from": from.UTC(), "to": to.UTC(), "checks": cs})
		return nil
	})
}

// nightStats answers GET /stats/night (as the other statistics; CSV on Accept: text/csv).
func (s *server) nightStats() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		ns, ok := s.Stats.(NightStatsService)
		if s.Stats == nil || !ok {
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
		res, err := func() (stats.NightStats, error) { defer release(); return ns.NightChecks(r.Context(), q) }()
		if err != nil {
			return err
		}
		if wantsCSV(r) {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="vagt-night-%s-%s.csv"`,
				q.Period.From.Format("20060102"), q.Period.To.Format("20060102")))
			return stats.WriteNightCSV(w, res)
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	})
}
