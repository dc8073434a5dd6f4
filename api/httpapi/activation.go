package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
)

// ActivationLifetime is how long an activation code works: long enough to be handed over
// at a home visit or read from a letter within a few days, short enough that a code
// forgotten in a drawer is dead. A new code can be issued at any time.
const ActivationLifetime = 72 * time.Hour

// citizenActivation is POST /citizens/{id}/activation (the citizen's municipality's
// managers, admins): a one-time code for the citizen to exchange for a token of their own
// at POST /activate. The manager never holds a citizen's bearer token; until the national
// login (MitID) comes, the code on paper is the out-of-band step (docs/operations.md).
func (s *server) citizenActivation() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		if _, err := registryArea(s.Registry.Citizens); err != nil {
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
		code, hash, err := auth.NewActivationCode()
		if err != nil {
			return err
		}
		now := s.Clock.Now()
		exp := now.Add(ActivationLifetime)
		if err := s.Auth.IssueActivationCode(r.Context(), scope, id, hash, p.Name, exp, now); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{"activation_code": code, "citizen": id, "expires_at": exp,
			"activate_at": "/activate"})
		return nil
	})
}

type activateRequest struct {
	Code string `json:"code"`
}

// activate is POST /api/v1/activate, without a token: the citizen exchanges an activation
// code for a citizen token (shown once). Failed codes count towards the remote address's
// authentication throttle, so codes cannot be guessed at speed.
func (s *server) activate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.Clock.Now()
		if wait, limited := s.authFails.limited(r, "", now); limited {
			s.security.WithLabelValues("throttled").Inc()
			writeThrottled(w, r, s.Logger, wait)
			return
		}
		var req activateRequest
		if err := readJSON(w, r, &req); err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		if len(req.Code) == 0 || len(req.Code) > 64 {
			writeError(w, r, s.Logger, fmt.Errorf("%w: code is required", api.ErrInvalid))
			return
		}
		token, hash, err := auth.NewToken()
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		exp, err := auth.Lifetime(api.RoleCitizen, 0, now)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		p, _, err := s.Auth.Activate(r.Context(), auth.HashActivationCode(req.Code), hash, exp, now)
		if err != nil {
			s.authFailed(w, r, "activation code unknown, used or expired", err, now)
			return
		}
		writeJSON(w, http.StatusCreated, tokenResponse{Token: token, Principal: p, ExpiresAt: &exp})
	})
}
