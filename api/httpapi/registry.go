package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
)

// RegistryStore is what the registry, citizen and erasure endpoints need of the store: the
// registry's contracts, each used by the handler file named.
type RegistryStore interface {
	registry.Directory   // registry.go
	registry.Scopes      // every handler that decides access to one object
	registry.Installs    // registry_devices.go
	registry.DeviceTests // edges.go
	registry.Changes     // registry_changes.go
	registry.CitizenData // citizen.go
}

var errNoRegistry = fmt.Errorf("%w: the registry is not configured", api.ErrUnavailable)

// handle turns a function that answers or fails into a handler; the failure goes through
// writeError, the one place errors become statuses.
func (s *server) handle(f func(w http.ResponseWriter, r *http.Request, p *api.Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r, api.PrincipalFromContext(r.Context())); err != nil {
			writeError(w, r, s.Logger, err)
		}
	})
}

// registryScope returns the municipality a registry read covers: a manager's own (asking
// for another is forbidden), an admin's choice (0: all). Other roles keep no registry.
func registryScope(p *api.Principal, requested string) (vagt.MunicipalityCode, error) {
	m, err := requestedMunicipality(requested)
	if err != nil {
		return 0, err
	}
	switch p.Role {
	case api.RoleAdmin:
		return m, nil
	case api.RoleManager:
		if m != 0 && m != p.Municipality {
			return 0, fmt.Errorf("%w: managers see their own municipality (%d) only", api.ErrForbidden, p.Municipality)
		}
		return p.Municipality, nil
	}
	return 0, fmt.Errorf("%w: the registry is for managers and admins", api.ErrForbidden)
}

// requestedMunicipality reads ?municipality= (0 when absent).
func requestedMunicipality(requested string) (vagt.MunicipalityCode, error) {
	if requested == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(requested, 10, 16)
	if err != nil || vagt.MunicipalityCode(n).Validate() != nil {
		return 0, fmt.Errorf("%w: unknown municipality %q", api.ErrInvalid, requested)
	}
	return vagt.MunicipalityCode(n), nil
}

// mayManage checks that the principal may change the registry of municipality m.
func mayManage(p *api.Principal, m vagt.MunicipalityCode) error {
	if p.Role == api.RoleAdmin || (p.Role == api.RoleManager && p.Municipality == m) {
		return nil
	}
	if p.Role != api.RoleManager {
		return fmt.Errorf("%w: the registry is for managers and admins", api.ErrForbidden)
	}
	return api.ErrOutOfScope // answered as a missing object: names no municipality
}

func (s *server) registryStore() (RegistryStore, error) {
	if s.Registry == nil {
		return nil, errNoRegistry
	}
	return s.Registry, nil
}

func (s *server) listMunicipalities() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		ms, err := reg.Municipalities(r.Context())
		if err != nil {
			return err
		}
		if s.Population == nil {
			writeJSON(w, http.StatusOK, map[string]any{"municipalities": ms})
			return nil
		}
		for i := range ms {
			ms[i].Population65 = s.Population.Of(ms[i].Code)
		}
		writeJSON(w, http.StatusOK, map[string]any{"municipalities": ms, "population_65plus": s.Population.Info()})
		return nil
	})
}

// list answers a registry list in the caller's scope under key.
func (s *server) list(key string, f func(ctx context.Context, reg RegistryStore, m vagt.MunicipalityCode, r *http.Request, p *api.Principal) (any, error)) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		m, err := registryScope(p, r.URL.Query().Get("municipality"))
		if err != nil {
			return err
		}
		v, err := f(r.Context(), reg, m, r, p)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{key: v})
		return nil
	})
}

func (s *server) listDistricts() http.Handler {
	return s.list("districts", func(ctx context.Context, reg RegistryStore, m vagt.MunicipalityCode, _ *http.Request, _ *api.Principal) (any, error) {
		return reg.Districts(ctx, m)
	})
}

// listCitizens is GET /citizens: the registry service narrows the list to the caller's
// scope (api.Principal.RegistryScope).
func (s *server) listCitizens() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		m, err := requestedMunicipality(r.URL.Query().Get("municipality"))
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		cs, err := reg.Citizens(r.Context(), scope, m, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"citizens": cs})
		return nil
	})
}

// listHomes is GET /homes: the registry service narrows the list to the caller's scope.
func (s *server) listHomes() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		m, err := requestedMunicipality(r.URL.Query().Get("municipality"))
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		hs, err := reg.Homes(r.Context(), scope, m)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"homes": hs})
		return nil
	})
}

func (s *server) listGateways() http.Handler {
	return s.list("gateways", func(ctx context.Context, reg RegistryStore, m vagt.MunicipalityCode, _ *http.Request, _ *api.Principal) (any, error) {
		return reg.Gateways(ctx, m)
	})
}

func (s *server) listDevices() http.Handler {
	return s.list("devices", func(ctx context.Context, reg RegistryStore, m vagt.MunicipalityCode, r *http.Request, _ *api.Principal) (any, error) {
		state := registry.DeviceState(r.URL.Query().Get("state"))
		switch state {
		case "", registry.DevicePending, registry.DeviceInstalled, registry.DeviceRemoved:
		default:
			return nil, fmt.Errorf("%w: state must be pending, installed or removed", api.ErrInvalid)
		}
		if u := r.URL.Query().Get("untested"); u != "" {
			return untestedDevices(ctx, reg, m, u, s.Clock.Now())
		}
		return reg.Devices(ctx, m, state)
	})
}

func (s *server) createDistrict() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		var d registry.District
		if err := readJSON(w, r, &d); err != nil {
			return err
		}
		if d.Municipality == 0 && p.Role == api.RoleManager {
			d.Municipality = p.Municipality
		}
		if err := mayManage(p, d.Municipality); err != nil {
			return err
		}
		if d.Name == "" || len(d.Name) > 100 {
			return fmt.Errorf("%w: name must be 1-100 bytes", api.ErrInvalid)
		}
		if d.ID, err = reg.CreateDistrict(r.Context(), d.Municipality, d.Name); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, d)
		return nil
	})
}

func (s *server) createCitizen() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		var c registry.Citizen
		if err := readJSON(w, r, &c); err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		c, err = reg.RegisterCitizen(r.Context(), scope, c, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, c)
		return nil
	})
}

func citizenID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: citizen id %q", api.ErrNotFound, chi.URLParam(r, "id"))
	}
	return id, nil
}

func (s *server) getCitizen() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		id, err := citizenID(r)
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		c, err := reg.Citizen(r.Context(), scope, id, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, c)
		return nil
	})
}

func (s *server) createHome() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		var h registry.Home
		if err := readJSON(w, r, &h); err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		if h, err = reg.AddHome(r.Context(), scope, h); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, h)
		return nil
	})
}
