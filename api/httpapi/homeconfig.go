package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/careplan"
)

// HomeConfigService reads and changes homes' care plans (careplan.Service).
type HomeConfigService interface {
	View(ctx context.Context, scope api.Scope, home vagt.HomeID) (careplan.View, error)
	Update(ctx context.Context, scope api.Scope, home vagt.HomeID, set careplan.Settings, ifVersion uint64, actor string) (careplan.View, error)
	History(ctx context.Context, scope api.Scope, home vagt.HomeID, limit int) ([]careplan.Change, error)
	Overview(ctx context.Context, scope api.Scope, mun vagt.MunicipalityCode) ([]careplan.HomeState, error)
	SetAbsence(ctx context.Context, scope api.Scope, home vagt.HomeID, a *careplan.Absence, actor string) (careplan.View, error)
}

// carePlanOverview lists the homes the caller may see with the state of their care plans:
// which gateways run the latest version, which are pending (offline) or refused it.
func (s *server) carePlanOverview() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := api.PrincipalFromContext(r.Context())
		if s.HomeConfigs == nil {
			writeError(w, r, s.Logger, fmt.Errorf("%w: care plans are not served by this API", api.ErrUnavailable))
			return
		}
		scope, err := p.CarePlanScope()
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		var m int64
		if scope.All { // an admin's choice; any other scope is its own municipality
			if m, err = intParam(r, "municipality"); err != nil {
				writeError(w, r, s.Logger, err)
				return
			}
		}
		homes, err := s.HomeConfigs.Overview(r.Context(), scope, vagt.MunicipalityCode(m))
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		// The overview names the homes' citizens: audited before it is answered.
		named := 0
		for _, h := range homes {
			if h.Citizen != "" {
				named++
			}
		}
		if named > 0 {
			if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "careplan.list",
				Object: "careplans", Detail: fmt.Sprintf("%d homes, %d citizens named", len(homes), named)}); err != nil {
				writeError(w, r, s.Logger, err)
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"homes": homes})
	})
}

// homeScope is what a GPS or night route on a home needs before its service decides
// access to the home: the caller's scope over homes (the care plan's: Principal.
// CarePlanScope; 403 for another role, before anything is looked up) and the home named
// in the URL.
func homeScope(r *http.Request) (*api.Principal, api.Scope, vagt.HomeID, error) {
	p := api.PrincipalFromContext(r.Context())
	scope, err := p.CarePlanScope()
	if err != nil {
		return nil, api.Scope{}, "", err
	}
	home := vagt.HomeID(chi.URLParam(r, "id"))
	if err := home.Validate(); err != nil {
		return nil, api.Scope{}, "", fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	return p, scope, home, nil
}

// carePlanScope is what a care-plan route needs before the care-plan service decides
// access to the home: the caller's scope (403 for a role without care plans, before
// anything is looked up) and the home named in the URL.
func (s *server) carePlanScope(r *http.Request) (*api.Principal, api.Scope, vagt.HomeID, error) {
	p := api.PrincipalFromContext(r.Context())
	if s.HomeConfigs == nil {
		return nil, api.Scope{}, "", fmt.Errorf("%w: care plans are not served by this API", api.ErrUnavailable)
	}
	scope, err := p.CarePlanScope()
	if err != nil {
		return nil, api.Scope{}, "", err
	}
	home := vagt.HomeID(chi.URLParam(r, "id"))
	if err := home.Validate(); err != nil {
		return nil, api.Scope{}, "", fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	return p, scope, home, nil
}

func (s *server) getHomeConfig() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, scope, home, err := s.carePlanScope(r)
		var v careplan.View
		if err == nil {
			v, err = s.HomeConfigs.View(r.Context(), scope, home)
		}
		if err == nil { // audited before anything leaves; a failed audit answers nothing
			err = s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "homeconfig.read", Object: "home/" + string(home)})
		}
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(v.Version, 10)))
		writeJSON(w, http.StatusOK, v)
	})
}

// putHomeConfig replaces a home's settings. An If-Match header with the version read
// makes the change conditional (409 when someone else changed it meanwhile).
func (s *server) putHomeConfig() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, scope, home, err := s.carePlanScope(r)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		var ifVersion uint64
		if m := r.Header.Get("If-Match"); m != "" {
			if ifVersion, err = strconv.ParseUint(strings.Trim(m, `"`), 10, 64); err != nil || ifVersion == 0 {
				writeError(w, r, s.Logger, &api.FieldError{Field: "If-Match", Reason: "the version read, as an ETag (\"3\")"})
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		set, err := careplan.ParseSettings(body)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		v, err := s.HomeConfigs.Update(r.Context(), scope, home, set, ifVersion, p.Name)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		w.Header().Set("ETag", strconv.Quote(strconv.FormatUint(v.Version, 10)))
		writeJSON(w, http.StatusOK, v)
	})
}

func (s *server) homeConfigHistory() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, scope, home, err := s.carePlanScope(r)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		limit, err := intParam(r, "limit")
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		h, err := s.HomeConfigs.History(r.Context(), scope, home, int(min(max(limit, 0), 500)))
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		// Audited before anything leaves; a failed audit answers nothing.
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "homeconfig.history", Object: "home/" + string(home)}); err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"history": h})
	})
}
