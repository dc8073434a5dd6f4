// Package auth is who may do what in the API: roles scoped to a municipality and its
// districts, bearer tokens (only their SHA-256 is stored), and the middleware that turns a
// request's token into a Principal. OIDC is not implemented yet.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// Named errors.
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrInvalid         = errors.New("invalid")
)

// Role is what a user does.
type Role string

// The roles.
const (
	RoleStaff    Role = "staff"    // alerts of their districts (all districts: the central on-call)
	RoleManager  Role = "manager"  // statistics and registry of their municipality
	RoleNational Role = "national" // cross-municipality statistics
	RoleAdmin    Role = "admin"    // everything, tokens included
	RoleCitizen  Role = "citizen"  // their own data
)

// Validate reports whether r is a known role.
func (r Role) Validate() error {
	switch r {
	case RoleStaff, RoleManager, RoleNational, RoleAdmin, RoleCitizen:
		return nil
	}
	return fmt.Errorf("%w: role %q", ErrInvalid, r)
}

// Principal is an authenticated caller.
type Principal struct {
	UserID       int64                 `json:"user_id"`
	Name         string                `json:"name"`
	Role         Role                  `json:"role"`
	Municipality vagt.MunicipalityCode `json:"municipality,omitempty"`
	Districts    []int64               `json:"districts,omitempty"`
	// TokenID is the vagt token the request came with (0: an OIDC token); IssuedBy who
	// issued it, for auditing the use of a token issued on someone's behalf.
	TokenID  int64  `json:"token_id,omitempty"`
	IssuedBy string `json:"issued_by,omitempty"`
}

// Validate checks that the principal's scope fits its role.
func (p *Principal) Validate() error {
	if p.Name == "" || len(p.Name) > 128 {
		return fmt.Errorf("%w: name must be 1-128 bytes", ErrInvalid)
	}
	if err := p.Role.Validate(); err != nil {
		return err
	}
	switch p.Role {
	case RoleStaff, RoleManager, RoleCitizen:
		if err := p.Municipality.Validate(); err != nil {
			return fmt.Errorf("%w: role %s needs a municipality: %w", ErrInvalid, p.Role, err)
		}
	}
	if len(p.Districts) > 0 && p.Role != RoleStaff {
		return fmt.Errorf("%w: only staff are scoped to districts", ErrInvalid)
	}
	return nil
}

// AlertScope returns which alerts the principal may list and act on, and false when the
// role has no business with alerts.
func (p *Principal) AlertScope() (alerts.Scope, bool) {
	switch p.Role {
	case RoleAdmin:
		return alerts.Scope{All: true}, true
	case RoleStaff, RoleManager:
		return alerts.Scope{Municipality: p.Municipality, Districts: slices.Clone(p.Districts), User: p.Name}, true
	}
	return alerts.Scope{}, false
}

// CanActOnAlerts reports whether the principal may acknowledge, resolve and annotate
// alerts and see the personal data behind them: care staff only.
func (p *Principal) CanActOnAlerts() bool { return p.Role == RoleStaff }

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the request's principal, nil when unauthenticated.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// TokenPrefix marks vagt tokens, so a leaked one is recognisable in a scanner.
const TokenPrefix = "vagt_"

// NewToken returns a new random bearer token (256 bits) and the hash to store.
func NewToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("new token: %w", err)
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is what the store keeps of a token: its SHA-256 in hex. Tokens are random and
// long, so a fast hash is enough and lookups need no per-token salt.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// AuditEntry is one line of the append-only audit log: who did what to which object, when.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // e.g. "alert.read", "alert.ack", "token.create"
	Object string    `json:"object"` // e.g. "alert/42"
	Detail string    `json:"detail,omitempty"`
}
