package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// NationalLoginIssuer is the IssuedBy of a session token that the national login (MitID
// through the municipality's broker) issued to a citizen or a relative.
const NationalLoginIssuer = "national-login"

// IdentityKey hashes the identity a national login names a person by (a CPR number or a
// broker's pseudonymous id). Only the keyed hash is stored and compared: a stolen database
// does not give the CPR numbers back without the key, which lives in the api's
// configuration (VAGT_CITIZEN_IDENTITY_KEY), not in the database.
type IdentityKey []byte

// MinIdentityKey is the shortest key accepted (256 bits).
const MinIdentityKey = 32

// Validate checks the key's length.
func (k IdentityKey) Validate() error {
	if len(k) < MinIdentityKey {
		return fmt.Errorf("%w: the identity key must be at least %d bytes", api.ErrInvalid, MinIdentityKey)
	}
	return nil
}

// Hash returns the keyed hash (HMAC-SHA256, hex) of an identity. A CPR number is compared
// without its dash and spaces, so "010150-1234" and "0101501234" are one person.
func (k IdentityKey) Hash(identity string) string {
	id := strings.TrimSpace(identity)
	if isCPR(id) {
		id = strings.NewReplacer("-", "", " ", "").Replace(id)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}

func isCPR(s string) bool {
	d := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			d++
		case r == '-' || r == ' ':
		default:
			return false
		}
	}
	return d == 10
}

// RelativeUser is a relative's login name, from the keyed hash of their identity: it
// names the same person at every sign-in and says nothing about who they are.
func RelativeUser(idHash string) string { return "relative-" + idHash[:16] }

// CitizenOf returns the citizen a citizen principal's own login belongs to ("citizen-N",
// the name activation and the national login give it).
func CitizenOf(p *api.Principal) (int64, bool) {
	if p == nil || p.Role != api.RoleCitizen {
		return 0, false
	}
	n, ok := strings.CutPrefix(p.Name, "citizen-")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(n, 10, 64)
	return id, err == nil && id > 0
}

// CitizenIdentities finds the citizens whose identity has a keyed hash (sqlstore).
type CitizenIdentities interface {
	CitizensByIdentity(ctx context.Context, idHash string) (map[int64]vagt.MunicipalityCode, error)
}

// Reasons a national login names no citizen; the sign-in page shows them, with no data.
var (
	ErrNoCitizen        = fmt.Errorf("%w: this login is not registered with the municipality's alarm service", api.ErrForbidden)
	ErrAmbiguousCitizen = fmt.Errorf("%w: this login matches more than one citizen in the registry; the municipality must correct the registry", api.ErrForbidden)
)

// CitizenClaims maps a national login to exactly one citizen: the identity claim (Claim,
// e.g. "cpr" or "sub") is hashed with Key and looked up; no match and two matches are
// refused. The claim's value is never logged, returned or stored.
type CitizenClaims struct {
	Claim    string
	Key      IdentityKey
	Registry CitizenIdentities
}

// Principal maps c to the citizen's own principal ("citizen-N").
func (m CitizenClaims) Principal(ctx context.Context, c Claims) (*api.Principal, error) {
	id := c.String(m.Claim)
	if id == "" {
		return nil, fmt.Errorf("%w: the login carries no %q claim", api.ErrInvalid, m.Claim)
	}
	found, err := m.Registry.CitizensByIdentity(ctx, m.Key.Hash(id))
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, ErrNoCitizen
	case 1:
	default:
		return nil, ErrAmbiguousCitizen
	}
	for cit, mun := range found {
		return &api.Principal{Name: fmt.Sprintf("citizen-%d", cit), Role: api.RoleCitizen, Municipality: mun, IssuedBy: NationalLoginIssuer}, nil
	}
	panic("unreachable")
}

// RelativeClaims maps a national login to a relative's login name; whether any citizen
// has granted that person anything is the store's to say (at sign-in and every request).
type RelativeClaims struct {
	Claim string
	Key   IdentityKey
}

// Principal maps c to the relative's principal.
func (m RelativeClaims) Principal(_ context.Context, c Claims) (*api.Principal, error) {
	id := c.String(m.Claim)
	if id == "" {
		return nil, fmt.Errorf("%w: the login carries no %q claim", api.ErrInvalid, m.Claim)
	}
	return &api.Principal{Name: RelativeUser(m.Key.Hash(id)), Role: api.RoleRelative, IssuedBy: NationalLoginIssuer}, nil
}

// NationalLoginConfig is the citizens' national login: an OIDC client of the api at the
// municipality's MitID broker (a provider of its own, not the staff's), with the claim that
// names the person and the key that hashes it (docs/citizen.md).
type NationalLoginConfig struct {
	Issuer string
	SignIn SignInConfig // RedirectURL is this api's /auth/citizen/callback
	// IdentityClaim names the person: a CPR number or the broker's pseudonymous id;
	// default "sub" (a pseudonym stable per person at the broker).
	IdentityClaim string
	Key           IdentityKey
	Client        *http.Client // default: 10 s timeout
}

// Enabled reports whether the national login is configured.
func (c NationalLoginConfig) Enabled() bool { return c.Issuer != "" || c.SignIn.Enabled() }

// Validate checks an enabled configuration.
func (c NationalLoginConfig) Validate() error {
	if len(c.Key) > 0 {
		if err := c.Key.Validate(); err != nil {
			return err
		}
	}
	if !c.Enabled() {
		return nil
	}
	if c.Issuer == "" || c.SignIn.ClientID == "" {
		return fmt.Errorf("%w: the national login needs an issuer and a client id", api.ErrInvalid)
	}
	if err := c.Key.Validate(); err != nil {
		return err
	}
	return c.SignIn.Validate()
}

// NewNationalLogin returns the sign-in flows for citizens (the identity must name exactly
// one citizen in reg) and for relatives.
func NewNationalLogin(c NationalLoginConfig, reg CitizenIdentities) (citizen, relative *SignIn, err error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if c.IdentityClaim == "" {
		c.IdentityClaim = "sub"
	}
	for i, m := range []ClaimMapper{CitizenClaims{Claim: c.IdentityClaim, Key: c.Key, Registry: reg}, RelativeClaims{Claim: c.IdentityClaim, Key: c.Key}} {
		o, err := NewOIDC(OIDCConfig{Issuer: c.Issuer, Audience: c.SignIn.ClientID, Client: c.Client, Mapper: m})
		if err != nil {
			return nil, nil, err
		}
		s, err := NewSignIn(o, c.SignIn)
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			citizen = s
		} else {
			relative = s
		}
	}
	return citizen, relative, nil
}
