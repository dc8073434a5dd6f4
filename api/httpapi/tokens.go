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
	"github.com/vagt-dk/vagt/api/auth"
)

type tokenRequest struct {
	Name         string                `json:"name"`
	Role         api.Role              `json:"role"`
	Municipality vagt.MunicipalityCode `json:"municipality"`
	Districts    []int64               `json:"districts"`
	// ExpiresIn is the lifetime in hours; 0: the role's default (auth.Lifetime).
	ExpiresIn int64 `json:"expires_in_hours"`
	// RevokeOlder revokes the user's other tokens: a re-issue after a lost device.
	RevokeOlder bool   `json:"revoke_older"`
	Note        string `json:"note"`
}

type tokenResponse struct {
	Token     string        `json:"token"` // shown once; the store keeps its hash
	Principal api.Principal `json:"principal"`
	ExpiresAt *time.Time    `json:"expires_at,omitempty"`
}

func requireAdmin(r *http.Request) (*api.Principal, error) {
	p := api.PrincipalFromContext(r.Context())
	if p.Role != api.RoleAdmin {
		return p, fmt.Errorf("%w: admins only", api.ErrForbidden)
	}
	return p, nil
}

// createToken lets an admin issue a token (creating or updating the user).
func (s *server) createToken() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		admin, err := requireAdmin(r)
		if err != nil {
			return err
		}
		var req tokenRequest
		if err := readJSON(w, r, &req); err != nil {
			return err
		}
		if req.ExpiresIn < 0 || req.ExpiresIn > 24*366 || len(req.Note) > 200 {
			return fmt.Errorf("%w: expires_in_hours 0-%d, note at most 200 bytes", api.ErrInvalid, 24*366)
		}
		now := s.Clock.Now()
		exp, err := auth.Lifetime(req.Role, time.Duration(req.ExpiresIn)*time.Hour, now)
		if err != nil {
			return err
		}
		token, hash, err := auth.NewToken()
		if err != nil {
			return err
		}
		p, err := s.Auth.IssueTokenWith(r.Context(), api.Principal{Name: req.Name, Role: req.Role,
			Municipality: req.Municipality, Districts: req.Districts}, hash, &exp, now,
			auth.IssueOptions{IssuedBy: admin.Name, Note: req.Note, RevokeOlder: req.RevokeOlder})
		if err != nil {
			return err
		}
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: now, Actor: admin.Name, Action: "token.create",
			Object: fmt.Sprintf("user/%d", p.UserID), Detail: fmt.Sprintf("%s token/%d", p.Role, p.TokenID)}); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, tokenResponse{Token: token, Principal: p, ExpiresAt: &exp})
		return nil
	})
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, name), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: %s must be a positive integer", api.ErrInvalid, name)
	}
	return id, nil
}

// userTokens is GET /users/{id}/tokens (admins): a user's tokens without their secrets.
func (s *server) userTokens() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		admin, err := requireAdmin(r)
		if err != nil {
			return err
		}
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		list, err := s.Auth.Tokens(r.Context(), id)
		if err != nil {
			return err
		}
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: admin.Name, Action: "token.list",
			Object: fmt.Sprintf("user/%d", id)}); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
		return nil
	})
}

// revokeToken is DELETE /tokens/{id} (admins): that token stops working at once.
func (s *server) revokeToken() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		admin, err := requireAdmin(r)
		if err != nil {
			return err
		}
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		ti, err := s.Auth.RevokeToken(r.Context(), id, admin.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, ti)
		return nil
	})
}

// revokeUserTokens is DELETE /users/{id}/tokens (admins): every token of the user stops
// working (a lost device, someone who left).
func (s *server) revokeUserTokens() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		admin, err := requireAdmin(r)
		if err != nil {
			return err
		}
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		n, err := s.Auth.RevokeUserTokens(r.Context(), id, admin.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
		return nil
	})
}

// GatewaySecrets reads a gateway's stored password hash (Registry.Secrets).
type GatewaySecrets interface {
	GatewayPasswordHash(ctx context.Context, id vagt.GatewayID, actor string, now time.Time) (string, error)
}

// gatewayPasswordLine is GET /gateways/{id}/password-file-line (admins): the line for the
// broker's password file, so the plaintext never reaches the broker host and the hash
// never reaches the installer. Audited.
func (s *server) gatewayPasswordLine() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, _ *api.Principal) error {
		admin, err := requireAdmin(r)
		if err != nil {
			return err
		}
		gs, err := registryArea(s.Registry.Secrets)
		if err != nil {
			return err
		}
		id := vagt.GatewayID(chi.URLParam(r, "id"))
		hash, err := gs.GatewayPasswordHash(r.Context(), id, admin.Name, s.Clock.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]string{"password_file_line": string(id) + ":" + hash})
		return nil
	})
}

// auditLog lets an admin read the audit log (the read itself is audited); the store
// decides the caller's scope (Principal.AuditScope).
func (s *server) auditLog() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request, p *api.Principal) error {
		scope, err := p.AuditScope()
		if err != nil {
			return err
		}
		before, err := intParam(r, "before")
		if err != nil {
			return err
		}
		limit, err := intParam(r, "limit")
		if err != nil {
			return err
		}
		object := r.URL.Query().Get("object")
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "audit.read", Object: "audit", Detail: object}); err != nil {
			return err
		}
		log, err := s.Auth.AuditLog(r.Context(), scope, object, before, int(min(limit, 500)))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"entries": log})
		return nil
	})
}
