package auth

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/vagt-dk/vagt/api"
)

// Lifetimes of bearer tokens by role: the default when the issuer names none, and the
// longest an issuer may ask for. No vagt token lives forever. A lost staff tablet or an
// admin's laptop opens names, addresses and key-box codes, so those tokens live for a
// working shift by default (staff a 12-hour shift with its handover, admins an 8-hour day)
// and at most a week (a tablet shared on a weekly rota) or a day; managers and national
// users see the registry and statistics of whole municipalities but no alert details, and
// live a month; a citizen's token, obtained by the citizen through an activation code,
// lives three months (the citizen has no other login until the national one comes).
var (
	defaultLifetime = map[api.Role]time.Duration{
		api.RoleStaff: 12 * time.Hour, api.RoleAdmin: 8 * time.Hour,
		api.RoleManager: 30 * 24 * time.Hour, api.RoleNational: 30 * 24 * time.Hour, api.RoleCitizen: 90 * 24 * time.Hour,
		api.RoleRelative: 12 * time.Hour,
	}
	maxLifetime = map[api.Role]time.Duration{
		api.RoleStaff: 7 * 24 * time.Hour, api.RoleAdmin: 24 * time.Hour,
		api.RoleManager: 90 * 24 * time.Hour, api.RoleNational: 90 * 24 * time.Hour, api.RoleCitizen: 90 * 24 * time.Hour,
		api.RoleRelative: 24 * time.Hour, // a relative signs in again: grants end and are revoked
	}
)

// Lifetime returns when a token of role issued at now expires: after requested, or the
// role's default when requested is 0. A request beyond the role's longest is invalid.
func Lifetime(role api.Role, requested time.Duration, now time.Time) (time.Time, error) {
	if err := role.Validate(); err != nil {
		return time.Time{}, err
	}
	if requested < 0 {
		return time.Time{}, fmt.Errorf("%w: a negative lifetime", api.ErrInvalid)
	}
	if requested == 0 {
		requested = defaultLifetime[role]
	}
	if m := maxLifetime[role]; requested > m {
		return time.Time{}, fmt.Errorf("%w: a %s token lives at most %s", api.ErrInvalid, role, m)
	}
	return now.Add(requested), nil
}

// TokenInfo describes a token without its secret (nor its hash): what a listing shows.
type TokenInfo struct {
	ID        int64      `json:"id"`
	UserID    int64      `json:"user_id"`
	User      string     `json:"user"`
	Role      api.Role   `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// IssuedBy is who issued it: an admin's name, "cli", or "activation" when the citizen
	// exchanged an activation code for it.
	IssuedBy string `json:"issued_by"`
	Note     string `json:"note,omitempty"`
}

// IssueOptions say who issues a token and whether it replaces the user's others.
type IssueOptions struct {
	IssuedBy string
	Note     string
	// RevokeOlder revokes the user's other tokens in the same transaction: a re-issue
	// after a lost device.
	RevokeOlder bool
}

// ActivationIssuer marks a token the citizen obtained with an activation code.
const ActivationIssuer = "activation"

// activationAlphabet is Crockford's base32 without I, L, O, U: nothing to misread on paper.
const activationAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewActivationCode returns a one-time code to hand a citizen on paper (12 characters,
// 60 bits, shown in groups of four) and the hash to store.
func NewActivationCode() (code, hash string, err error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("new activation code: %w", err)
	}
	var s strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			s.WriteByte('-')
		}
		s.WriteByte(activationAlphabet[int(c)%len(activationAlphabet)])
	}
	code = s.String()
	return code, HashActivationCode(code), nil
}

// HashActivationCode normalises a typed code (case, spaces, dashes) and hashes it.
func HashActivationCode(code string) string {
	code = strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, code)
	return HashToken("activation:" + code)
}
