package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
)

// ErrUnauthenticated: the request carries no valid credentials (401).
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrOutOfScope is an object outside the caller's municipality or districts. The API answers
// it exactly as an id that does not exist (404), so a refusal does not tell which ids exist
// (issue 22, item 7).
var ErrOutOfScope = fmt.Errorf("%w: outside your scope", ErrForbidden)

// Role is what a user does.
type Role string

// The roles.
const (
	RoleStaff    Role = "staff"    // alerts of their districts (all districts: the central on-call)
	RoleManager  Role = "manager"  // statistics and registry of their municipality
	RoleNational Role = "national" // cross-municipality statistics
	RoleAdmin    Role = "admin"    // everything, tokens included
	RoleCitizen  Role = "citizen"  // their own data
	// RoleRelative is a citizen's relative, who sees only what a citizen's grant names,
	// for as long as it runs (docs/citizen.md); every request checks the grants again.
	RoleRelative Role = "relative"
)

// Validate reports whether r is a known role.
func (r Role) Validate() error {
	switch r {
	case RoleStaff, RoleManager, RoleNational, RoleAdmin, RoleCitizen, RoleRelative:
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
func (p *Principal) AlertScope() (Scope, bool) {
	switch p.Role {
	case RoleAdmin:
		return Scope{All: true}, true
	case RoleStaff, RoleManager:
		return Scope{Municipality: p.Municipality, Districts: slices.Clone(p.Districts), User: p.Name}, true
	}
	return Scope{}, false
}

// ErrNoRegistry is a role that keeps no registry (403 before any object is looked up).
var ErrNoRegistry = fmt.Errorf("%w: the registry is for managers and admins", ErrForbidden)

// RegistryScope returns which part of the registry (citizens, homes, their personal data)
// the principal may read and change: an admin all of it, a manager their municipality.
// The registry service decides each object against it; other roles get ErrNoRegistry.
func (p *Principal) RegistryScope() (Scope, error) {
	switch p.Role {
	case RoleAdmin:
		return Scope{All: true}, nil
	case RoleManager:
		return Scope{Municipality: p.Municipality}, nil
	}
	return Scope{}, ErrNoRegistry
}

// ErrNoRosters is a role that has no business with duty rosters.
var ErrNoRosters = fmt.Errorf("%w: rosters are for staff, managers and admins", ErrForbidden)

// RosterScope returns whose duty rosters and central on-call the principal may read: the
// municipality's staff (all its districts: who is on duty next door is who backs them
// up) and managers, admins all. Changing a roster is the registry's scope
// (RegistryScope). Other roles get ErrNoRosters.
func (p *Principal) RosterScope() (Scope, error) {
	switch p.Role {
	case RoleAdmin:
		return Scope{All: true}, nil
	case RoleStaff, RoleManager:
		return Scope{Municipality: p.Municipality, User: p.Name}, nil
	}
	return Scope{}, ErrNoRosters
}

// ErrNoErasure is a role that may not erase a citizen's data.
var ErrNoErasure = fmt.Errorf("%w: erasure is for admins only", ErrForbidden)

// ErasureScope returns whose personal data the principal may erase (GDPR art. 17): admins
// all; others get ErrNoErasure (a citizen asks for erasure instead: RequestErasure).
func (p *Principal) ErasureScope() (Scope, error) {
	if p.Role == RoleAdmin {
		return Scope{All: true}, nil
	}
	return Scope{}, ErrNoErasure
}

// ErrNotCitizen is a role other than a citizen's own login asking for a citizen's own data.
var ErrNotCitizen = fmt.Errorf("%w: this is the citizen's own data", ErrForbidden)

// OwnScope returns the scope of a citizen's own login over citizen, the citizen the login
// belongs to (authentication tells which: the registry's CitizenOfUser); other roles get
// ErrNotCitizen.
func (p *Principal) OwnScope(citizen int64) (Scope, error) {
	if p.Role != RoleCitizen || citizen <= 0 {
		return Scope{}, ErrNotCitizen
	}
	return Scope{Citizen: citizen, User: p.Name}, nil
}

// ErrNotRelative is a role other than a relative's login asking for the relative's view.
var ErrNotRelative = fmt.Errorf("%w: for relatives signed in with the national login", ErrForbidden)

// RelativeScope returns the scope of a relative's login: the citizens whose live grants
// name it, which the registry service reads again at every read (Scope.Relative); other
// roles get ErrNotRelative.
func (p *Principal) RelativeScope() (Scope, error) {
	if p.Role != RoleRelative || p.Name == "" {
		return Scope{}, ErrNotRelative
	}
	return Scope{Relative: p.Name}, nil
}

// ErrNoCarePlans is a role that has no business with homes' care plans.
var ErrNoCarePlans = fmt.Errorf("%w: care plans are for care staff and managers", ErrForbidden)

// CarePlanScope returns which homes' care plans the principal may read and change: care
// staff of their districts (staff without districts: the whole municipality), managers of
// their municipality, admins all. The care-plan service decides each home against it;
// other roles get ErrNoCarePlans.
func (p *Principal) CarePlanScope() (Scope, error) {
	switch p.Role {
	case RoleAdmin:
		return Scope{All: true}, nil
	case RoleManager:
		return Scope{Municipality: p.Municipality}, nil
	case RoleStaff:
		return Scope{Municipality: p.Municipality, Districts: slices.Clone(p.Districts)}, nil
	}
	return Scope{}, ErrNoCarePlans
}

// ErrNoAuditLog is a role that may not read the audit log.
var ErrNoAuditLog = fmt.Errorf("%w: admins only", ErrForbidden)

// AuditScope returns what of the audit log the principal may read: an admin all of it
// (its entries name objects of every municipality and no municipality of their own);
// other roles get ErrNoAuditLog. The audit service decides against it.
func (p *Principal) AuditScope() (Scope, error) {
	if p.Role == RoleAdmin {
		return Scope{All: true}, nil
	}
	return Scope{}, ErrNoAuditLog
}

// CanActOnAlerts reports whether the principal may acknowledge, resolve and annotate
// alerts and see the personal data behind them: care staff only.
func (p *Principal) CanActOnAlerts() bool { return p.Role == RoleStaff }

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// PrincipalFromContext returns the request's principal, nil when unauthenticated.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
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
