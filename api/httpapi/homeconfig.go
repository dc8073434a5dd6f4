package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/careplan"
)

// HomeConfigService reads and changes homes' care plans (careplan.Service).
type HomeConfigService interface {
	HomeScope(ctx context.Context, home vagt.HomeID) (vagt.MunicipalityCode, int64, error)
	View(ctx context.Context, home vagt.HomeID) (careplan.View, error)
	Update(ctx context.Context, home vagt.HomeID, set careplan.Settings, ifVersion uint64, actor string) (careplan.View, error)
	History(ctx context.Context, home vagt.HomeID, limit int) ([]careplan.Change, error)
	Overview(ctx context.Context, mun vagt.MunicipalityCode, districts []int64) ([]careplan.HomeState, error)
	SetAbsence(ctx context.Context, home vagt.HomeID, a *careplan.Absence, actor string) (careplan.View, error)
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
		var (
			mun       vagt.MunicipalityCode
			districts []int64
		)
		switch p.Role {
		case api.RoleAdmin:
			m, err := intParam(r, "municipality")
			if err != nil {
				writeError(w, r, s.Logger, err)
				return
			}
			mun = vagt.MunicipalityCode(m)
		case api.RoleManager:
			mun = p.Municipality
		case api.RoleStaff:
			mun, districts = p.Municipality, p.Districts
		default:
			writeError(w, r, s.Logger, fmt.Errorf("%w: care plans are for care staff and managers", api.ErrForbidden))
			return
		}
		homes, err := s.HomeConfigs.Overview(r.Context(), mun, districts)
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

// homeConfigAccess checks that the caller may read and change the home's care plan: care
// staff of its district (staff without districts cover the whole municipality), managers
// of its municipality, admins.
func (s *server) homeConfigAccess(r *http.Request) (*api.Principal, vagt.HomeID, error) {
	p := api.PrincipalFromContext(r.Context())
	if s.HomeConfigs == nil {
		return nil, "", fmt.Errorf("%w: care plans are not served by this API", api.ErrUnavailable)
	}
	if p.Role != api.RoleAdmin && p.Role != api.RoleManager && p.Role != api.RoleStaff {
		// Before the look-up: a role refusal must not depend on whether the home exists.
		return nil, "", fmt.Errorf("%w: care plans are for care staff and managers", api.ErrForbidden)
	}
	home := vagt.HomeID(chi.URLParam(r, "id"))
	if err := home.Validate(); err != nil {
		return nil, "", fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	mun, district, err := s.HomeConfigs.HomeScope(r.Context(), home)
	if err != nil {
		return nil, "", err
	}
	ok := false
	switch p.Role {
	case api.RoleAdmin:
		ok = true
	case api.RoleManager:
		ok = p.Municipality == mun
	case api.RoleStaff:
		ok = p.Municipality == mun && (len(p.Districts) == 0 || slices.Contains(p.Districts, district))
	}
	if !ok {
		return nil, "", fmt.Errorf("home %s: %w", home, api.ErrOutOfScope)
	}
	return p, home, nil
}

func (s *server) getHomeConfig() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, home, err := s.homeConfigAccess(r)
		if err == nil {
			err = s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "homeconfig.read", Object: "home/" + string(home)})
		}
		var v careplan.View
		if err == nil {
			v, err = s.HomeConfigs.View(r.Context(), home)
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
		p, home, err := s.homeConfigAccess(r)
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
		v, err := s.HomeConfigs.Update(r.Context(), home, set, ifVersion, p.Name)
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
		p, home, err := s.homeConfigAccess(r)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		limit, err := intParam(r, "limit")
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "homeconfig.history", Object: "home/" + string(home)}); err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		h, err := s.HomeConfigs.History(r.Context(), home, int(min(max(limit, 0), 500)))
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"history": h})
	})
}
