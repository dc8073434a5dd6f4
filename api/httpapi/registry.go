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
	"github.com/vagt-dk/vagt/api/registry"
)

// Registry is the registry's services by area. Each area's interface is declared beside
// the handlers that use it (the handler files named), and the wiring sets every area to
// the store's registry service (api/server); an area left nil answers 503.
type Registry struct {
	Municipalities MunicipalityList // registry.go
	Districts      DistrictRegistry // registry.go, registry_changes.go
	Citizens       CitizenRegistry  // registry.go, registry_changes.go, activation.go
	Homes          HomeRegistry     // registry.go, registry_changes.go
	Gateways       GatewayRegistry  // registry_devices.go, registry_changes.go
	Devices        DeviceRegistry   // registry_devices.go
	DeviceTests    DeviceTests      // edges.go
	CitizenData    CitizenData      // citizen.go
	Secrets        GatewaySecrets   // tokens.go
}

// MunicipalityList lists the 98 municipalities (no personal data: anyone signed in).
type MunicipalityList interface {
	Municipalities(ctx context.Context) ([]registry.Municipality, error)
}

// DistrictRegistry lists, adds, renames and deletes districts in the caller's scope.
type DistrictRegistry interface {
	Districts(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode) ([]registry.District, error)
	AddDistrict(ctx context.Context, scope api.Scope, d registry.District) (registry.District, error)
	UpdateDistrict(ctx context.Context, scope api.Scope, id int64, c registry.DistrictChange, actor string, now time.Time) (registry.District, error)
	DeleteDistrict(ctx context.Context, scope api.Scope, id int64, actor string, now time.Time) error
}

// CitizenRegistry lists, reads, registers and corrects citizens in the caller's scope.
type CitizenRegistry interface {
	Citizens(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, actor string, now time.Time) ([]registry.Citizen, error)
	Citizen(ctx context.Context, scope api.Scope, id int64, actor string, now time.Time) (registry.Citizen, error)
	RegisterCitizen(ctx context.Context, scope api.Scope, c registry.Citizen, actor string, now time.Time) (registry.Citizen, error)
	UpdateCitizen(ctx context.Context, scope api.Scope, id int64, c registry.CitizenChange, actor string, now time.Time) (registry.Citizen, error)
}

// HomeRegistry lists, adds, changes and decommissions homes in the caller's scope.
type HomeRegistry interface {
	Homes(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode) ([]registry.Home, error)
	AddHome(ctx context.Context, scope api.Scope, h registry.Home) (registry.Home, error)
	UpdateHome(ctx context.Context, scope api.Scope, id vagt.HomeID, c registry.HomeChange, actor string, now time.Time) (registry.Home, error)
	DecommissionHome(ctx context.Context, scope api.Scope, id vagt.HomeID, at time.Time, actor string, now time.Time) (registry.Home, error)
}

var errNoRegistry = fmt.Errorf("%w: the registry is not configured", api.ErrUnavailable)

// registryArea returns an area of the registry, errNoRegistry when the wiring left it out.
func registryArea[T comparable](area T) (T, error) {
	var none T
	if area == none {
		return none, errNoRegistry
	}
	return area, nil
}

// handle turns a function that answers or fails into a handler; the failure goes through
// writeError, the one place errors become statuses.
func (s *server) handle(f func(w http.ResponseWriter, r *http.Request, p *api.Principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r, api.PrincipalFromContext(r.Context())); err != nil {
			writeError(w, r, s.Logger, err)
		}
	})
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

func (s *server) listMunicipalities() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(s.Registry.Municipalities)
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

// list answers a registry list under key: the service narrows it to the caller's scope
// (api.Principal.RegistryScope) and the ?municipality= asked for.
func list[T comparable](s *server, area T, key string, f func(r *http.Request, reg T, scope api.Scope, m vagt.MunicipalityCode) (any, error)) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(area)
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
		v, err := f(r, reg, scope, m)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{key: v})
		return nil
	})
}

func (s *server) listDistricts() http.Handler {
	return list(s, s.Registry.Districts, "districts", func(r *http.Request, reg DistrictRegistry, scope api.Scope, m vagt.MunicipalityCode) (any, error) {
		return reg.Districts(r.Context(), scope, m)
	})
}

// listCitizens is GET /citizens: the read is audited for the caller.
func (s *server) listCitizens() http.Handler {
	return list(s, s.Registry.Citizens, "citizens", func(r *http.Request, reg CitizenRegistry, scope api.Scope, m vagt.MunicipalityCode) (any, error) {
		p := api.PrincipalFromContext(r.Context())
		return reg.Citizens(r.Context(), scope, m, p.Name, s.Clock.Now())
	})
}

func (s *server) listHomes() http.Handler {
	return list(s, s.Registry.Homes, "homes", func(r *http.Request, reg HomeRegistry, scope api.Scope, m vagt.MunicipalityCode) (any, error) {
		return reg.Homes(r.Context(), scope, m)
	})
}

func (s *server) listGateways() http.Handler {
	return list(s, s.Registry.Gateways, "gateways", func(r *http.Request, reg GatewayRegistry, scope api.Scope, m vagt.MunicipalityCode) (any, error) {
		return reg.Gateways(r.Context(), scope, m)
	})
}

// listDevices is GET /devices; ?untested= asks for the devices not tested lately (edges.go).
func (s *server) listDevices() http.Handler {
	return list(s, s.Registry.Devices, "devices", func(r *http.Request, reg DeviceRegistry, scope api.Scope, m vagt.MunicipalityCode) (any, error) {
		state := registry.DeviceState(r.URL.Query().Get("state"))
		if u := r.URL.Query().Get("untested"); u != "" {
			switch state { // Devices checks it otherwise
			case "", registry.DevicePending, registry.DeviceInstalled, registry.DeviceRemoved:
			default:
				return nil, fmt.Errorf("%w: state must be pending, installed or removed", api.ErrInvalid)
			}
			tests, err := registryArea(s.Registry.DeviceTests)
			if err != nil {
				return nil, err
			}
			return untestedDevices(r.Context(), tests, scope, m, u, s.Clock.Now())
		}
		return reg.Devices(r.Context(), scope, m, state)
	})
}

// createDistrict is POST /districts: the registry service decides the caller's scope (a
// manager's district goes to their own municipality).
func (s *server) createDistrict() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(s.Registry.Districts)
		if err != nil {
			return err
		}
		scope, err := p.RegistryScope()
		if err != nil {
			return err
		}
		var d registry.District
		if err := readJSON(w, r, &d); err != nil {
			return err
		}
		if d, err = reg.AddDistrict(r.Context(), scope, d); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, d)
		return nil
	})
}

func (s *server) createCitizen() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := registryArea(s.Registry.Citizens)
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
		reg, err := registryArea(s.Registry.Citizens)
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
		reg, err := registryArea(s.Registry.Homes)
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
