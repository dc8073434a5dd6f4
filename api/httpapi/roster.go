package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/roster"
)

// RosterStore is what the duty roster endpoints need (docs/alerts.md, "Rosters and
// escalation"). The roster service decides each call against the caller's scope:
// api.Principal.RosterScope to read, RegistryScope to change.
type RosterStore interface {
	Roster(ctx context.Context, scope api.Scope, district int64) (roster.Roster, error)
	SaveRoster(ctx context.Context, scope api.Scope, r roster.Roster, actor string, now time.Time) (roster.Roster, error)
	CentralOnCall(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode) ([]string, error)
	SaveCentralOnCall(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, users []string, actor string, now time.Time) ([]string, error)
	DutyAt(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, at time.Time) (roster.Board, error)
}

// rosterAnswer is a roster with what it leaves open: the page warns of a shift with nobody.
type rosterAnswer struct {
	roster.Roster
	Warnings []roster.Warning `json:"warnings"`
}

func (s *server) rosters() (RosterStore, error) {
	if s.Rosters == nil {
		return nil, fmt.Errorf("%w: rosters are not configured", api.ErrUnavailable)
	}
	return s.Rosters, nil
}

// districtParam parses {id}; ErrNotFound for a bad id.
func districtParam(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: district %q", api.ErrNotFound, chi.URLParam(r, "id"))
	}
	return id, nil
}

func (s *server) getRoster() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		st, err := s.rosters()
		if err != nil {
			return err
		}
		scope, err := p.RosterScope()
		if err != nil {
			return err
		}
		id, err := districtParam(r)
		if err != nil {
			return err
		}
		ro, err := st.Roster(r.Context(), scope, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, rosterAnswer{Roster: ro, Warnings: ro.Warnings()})
		return nil
	})
}

type rosterRequest struct {
	Shifts []roster.Shift `json:"shifts"`
}

// putRoster replaces a district's roster: the municipality's managers (the district leads)
// and admins, like the other registry writes; audited. Invalid: 400 naming every field,
// nothing saved.
func (s *server) putRoster() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		st, err := s.rosters()
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		id, err := districtParam(r)
		if err != nil {
			return err
		}
		var req rosterRequest
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		ro, err := st.SaveRoster(r.Context(), scope, roster.Roster{District: id, Shifts: req.Shifts}, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, rosterAnswer{Roster: ro, Warnings: ro.Warnings()})
		return nil
	})
}

func municipalityParam(v string) (vagt.MunicipalityCode, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || vagt.MunicipalityCode(n).Validate() != nil {
		return 0, fmt.Errorf("%w: unknown municipality %q", api.ErrInvalid, v)
	}
	return vagt.MunicipalityCode(n), nil
}

type centralAnswer struct {
	Municipality vagt.MunicipalityCode `json:"municipality"`
	Users        []string              `json:"users"`
}

func (s *server) getCentral() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		st, err := s.rosters()
		if err != nil {
			return err
		}
		scope, err := p.RosterScope()
		if err != nil {
			return err
		}
		m, err := municipalityParam(chi.URLParam(r, "code"))
		if err != nil {
			return err
		}
		users, err := st.CentralOnCall(r.Context(), scope, m)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, centralAnswer{Municipality: m, Users: users})
		return nil
	})
}

func (s *server) putCentral() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		st, err := s.rosters()
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		m, err := municipalityParam(chi.URLParam(r, "code"))
		if err != nil {
			return err
		}
		var req struct {
			Users []string `json:"users"`
		}
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		users, err := st.SaveCentralOnCall(r.Context(), scope, m, req.Users, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, centralAnswer{Municipality: m, Users: users})
		return nil
	})
}

// duty answers who receives the municipality's alerts at ?at= (RFC 3339; default now), tier
// by tier. ?municipality= is the caller's own unless an admin names one.
func (s *server) duty() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		st, err := s.rosters()
		if err != nil {
			return err
		}
		scope, err := p.RosterScope()
		if err != nil {
			return err
		}
		q := r.URL.Query()
		m := p.Municipality
		if v := q.Get("municipality"); v != "" {
			if m, err = municipalityParam(v); err != nil {
				return err
			}
		}
		if m == 0 && p.Role == api.RoleAdmin {
			return fmt.Errorf("%w: municipality= is required", api.ErrInvalid)
		}
		at := s.Clock.Now()
		if v := q.Get("at"); v != "" {
			if at, err = time.Parse(time.RFC3339, v); err != nil {
				return fmt.Errorf("%w: at=%q is not an RFC 3339 time", api.ErrInvalid, v)
			}
		}
		b, err := st.DutyAt(r.Context(), scope, m, at)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, b)
		return nil
	})
}
