package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
)

type gatewayRequest struct {
	ID   vagt.GatewayID `json:"id"`
	Home vagt.HomeID    `json:"home"`
}

func (s *server) createGateway() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		var req gatewayRequest
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		if err := req.ID.Validate(); err != nil {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		m, err := reg.HomeMunicipality(r.Context(), req.Home)
		if err != nil {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		if err := mayManage(p, m); err != nil {
			return err
		}
		cur, err := reg.GatewayMunicipality(r.Context(), req.ID)
		if err := mayTakeOver(p, cur, err); err != nil {
			return err
		}
		cred, err := registry.NewCredentials(req.ID)
		if err != nil {
			return err
		}
		if err := reg.ProvisionGateway(r.Context(), req.ID, req.Home, cred.PasswordHash, p.Name, s.Clock.Now()); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{
			"gateway": registry.Gateway{ID: req.ID, Home: req.Home, Municipality: m},
			"mqtt":    cred,
		})
		return nil
	})
}

// mayTakeOver checks, for a gateway or device a create names that exists already in
// municipality m (err: the look-up's), that the caller may manage it where it is now:
// naming it must not move it out of another municipality. One not found, or known to no
// municipality yet, is anybody's to register.
func mayTakeOver(p *api.Principal, m vagt.MunicipalityCode, err error) error {
	switch {
	case errors.Is(err, api.ErrNotFound), err == nil && m == 0:
		return nil
	case err != nil:
		return err
	}
	return mayManage(p, m)
}

type deviceRequest struct {
	ID          vagt.DeviceID   `json:"id"`
	Gateway     vagt.GatewayID  `json:"gateway"`
	Technology  vagt.Technology `json:"technology"`
	Label       string          `json:"label"`
	InstalledAt *time.Time      `json:"installed_at"`
	RemovedAt   *time.Time      `json:"removed_at"`
}

func (s *server) createDevice() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		var req deviceRequest
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		m, err := reg.GatewayMunicipality(r.Context(), req.Gateway)
		if err != nil {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		if err := mayManage(p, m); err != nil {
			return err
		}
		cur, err := reg.DeviceMunicipality(r.Context(), req.ID)
		if err := mayTakeOver(p, cur, err); err != nil {
			return err
		}
		if len(req.Label) > 200 {
			return fmt.Errorf("%w: label ≤ 200 bytes", api.ErrInvalid)
		}
		d, err := reg.InstallDevice(r.Context(), registry.Device{ID: req.ID, Gateway: req.Gateway, Technology: req.Technology,
			Label: req.Label, InstalledAt: req.InstalledAt}, p.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, d)
		return nil
	})
}

// deviceAction handles accept and remove of a device in the caller's municipality.
func (s *server) deviceAction(accept bool) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		reg, err := s.registryStore()
		if err != nil {
			return err
		}
		id := vagt.DeviceID(chi.URLParam(r, "device"))
		m, err := reg.DeviceMunicipality(r.Context(), id)
		if err != nil {
			return err
		}
		if err := mayManage(p, m); err != nil {
			return err
		}
		var req deviceRequest
		if r.ContentLength != 0 {
			if err := readJSON(w, r, &req); err != nil {
				return err
			}
		}
		now := s.Clock.Now()
		var d registry.Device
		if accept {
			at := now
			if req.InstalledAt != nil {
				at = *req.InstalledAt
			}
			if req.Technology != 0 {
				if err := req.Technology.Validate(); err != nil {
					return fmt.Errorf("%w: %w", api.ErrInvalid, err)
				}
			}
			d, err = reg.AcceptDevice(r.Context(), id, req.Technology, req.Label, at, p.Name, now)
		} else {
			at := now
			if req.RemovedAt != nil {
				at = *req.RemovedAt
			}
			d, err = reg.RemoveDevice(r.Context(), id, at, p.Name, now)
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	})
}
