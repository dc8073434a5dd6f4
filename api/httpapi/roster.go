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
// escalation").
type RosterStore interface {
	DistrictMunicipality(ctx context.Context, id int64) (vagt.MunicipalityCode, error)
	Roster(ctx context.Context, district int64) (roster.Roster, error)
	SaveRoster(ctx context.Context, r roster.Roster, actor string, now time.Time) (roster.Roster, error)
	CentralOnCall(ctx context.Context, m vagt.MunicipalityCode) ([]string, error)
	SaveCentralOnCall(ctx context.Context, m vagt.MunicipalityCode, users []string, actor string, now time.Time) ([]string, error)
	DutyAt(ctx context.Context, m vagt.MunicipalityCode, at time.Time) (roster.Board, error)
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

// mayReadRoster: who is on duty is for the municipality's staff and managers, and admins.
func mayReadRoster(p *api.Principal, m vagt.MunicipalityCode) error {
	switch {
	case p.Role == api.RoleAdmin:
		return nil
	case (p.Role == api.RoleStaff || p.Role == api.RoleManager) && p.Municipality == m:
		return nil
	case p.Role == api.RoleStaff || p.Role == api.RoleManager:
		return api.ErrOutOfScope
	}
	return fmt.Errorf("%w: rosters are for staff, managers and admins", api.ErrForbidden)
}

// districtOf parses {id} and returns the district's municipality; ErrNotFound for a bad id.
func districtOf(ctx context.Context, st RosterStore, r *http.Request) (int64, vagt.MunicipalityCode, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, 0, fmt.Errorf("%w: district %q", api.ErrNotFound, chi.URLParam(r, "id"))
	}
	m, err := st.DistrictMunicipality(ctx, id)
	return id, m, err
}

func (s *server) getRoster() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		st, err := s.rosters()
		if err != nil {
			return err
		}
		id, m, err := districtOf(r.Context(), st, r)
		if err != nil {
			return err
		}
		if err := mayReadRoster(p, m); err != nil {
			return err
		}
		ro, err := st.Roster(r.Context(), id)
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
		id, m, err := districtOf(r.Context(), st, r)
		if err != nil {
			return err
		}
		if err := mayManage(p, m); err != nil {
			return err
		}
		var req rosterRequest
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		ro, err := st.SaveRoster(r.Context(), roster.Roster{District: id, Shifts: req.Shifts}, p.Name, s.Clock.Now())
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
		m, err := municipalityParam(chi.URLParam(r, "code"))
		if err != nil {
			return err
		}
		if err := mayReadRoster(p, m); err != nil {
			return err
		}
		users, err := st.CentralOnCall(r.Context(), m)
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
		m, err := municipalityParam(chi.URLParam(r, "code"))
		if err != nil {
			return err
		}
		if err := mayManage(p, m); err != nil {
			return err
		}
		var req struct {
			Users []string `json:"users"`
		}
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		users, err := st.SaveCentralOnCall(r.Context(), m, req.Users, p.Name, s.Clock.Now())
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
		if err := mayReadRoster(p, m); err != nil {
			return err
		}
		at := s.Clock.Now()
		if v := q.Get("at"); v != "" {
			if at, err = time.Parse(time.RFC3339, v); err != nil {
				return fmt.Errorf("%w: at=%q is not an RFC 3339 time", api.ErrInvalid, v)
			}
		}
		b, err := st.DutyAt(r.Context(), m, at)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, b)
		return nil
	})
}
