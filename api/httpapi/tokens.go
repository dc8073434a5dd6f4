package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
)

type tokenRequest struct {
	Name         string                `json:"name"`
	Role         auth.Role             `json:"role"`
	Municipality vagt.MunicipalityCode `json:"municipality"`
	Districts    []int64               `json:"districts"`
	ExpiresIn    int64                 `json:"expires_in_hours"` // 0: does not expire
}

type tokenResponse struct {
	Token     string         `json:"token"` // shown once; the store keeps its hash
	Principal auth.Principal `json:"principal"`
	ExpiresAt *time.Time     `json:"expires_at,omitempty"`
}

func requireAdmin(r *http.Request) (*auth.Principal, error) {
	p := auth.FromContext(r.Context())
	if p.Role != auth.RoleAdmin {
		return p, fmt.Errorf("%w: admins only", alerts.ErrForbidden)
	}
	return p, nil
}

// createToken lets an admin issue a token (creating or updating the user).
func (s *server) createToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admin, err := requireAdmin(r)
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		var req tokenRequest
		if err := readJSON(w, r, &req); err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		if req.ExpiresIn < 0 || req.ExpiresIn > 24*366*5 {
			writeError(w, r, s.Log, fmt.Errorf("%w: expires_in_hours 0-%d", alerts.ErrInvalid, 24*366*5))
			return
		}
		token, hash, err := auth.NewToken()
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		now := s.Clock.Now()
		var exp *time.Time
		if req.ExpiresIn > 0 {
			t := now.Add(time.Duration(req.ExpiresIn) * time.Hour)
			exp = &t
		}
		p, err := s.Auth.IssueToken(r.Context(), auth.Principal{Name: req.Name, Role: req.Role,
			Municipality: req.Municipality, Districts: req.Districts}, hash, exp, now)
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		if err := s.Auth.Audit(r.Context(), auth.AuditEntry{At: now, Actor: admin.Name, Action: "token.create",
			Object: fmt.Sprintf("user/%d", p.UserID), Detail: string(p.Role)}); err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		writeJSON(w, http.StatusCreated, tokenResponse{Token: token, Principal: p, ExpiresAt: exp})
	})
}

// auditLog lets an admin read the audit log (the read itself is audited).
func (s *server) auditLog() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admin, err := requireAdmin(r)
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		before, err := intParam(r, "before")
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		limit, err := intParam(r, "limit")
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		object := r.URL.Query().Get("object")
		if err := s.Auth.Audit(r.Context(), auth.AuditEntry{At: s.Clock.Now(), Actor: admin.Name, Action: "audit.read", Object: "audit", Detail: object}); err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		log, err := s.Auth.AuditLog(r.Context(), object, before, int(min(limit, 500)))
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"entries": log})
	})
}
