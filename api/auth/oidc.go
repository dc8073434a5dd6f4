package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// OIDCConfig pins what an identity provider's ID or access tokens must be. The
// municipality's provider puts the vagt role and scope into claims.
type OIDCConfig struct {
	Issuer     string   // exact "iss"; discovery at Issuer/.well-known/openid-configuration
	Audience   string   // must be in "aud" of a bearer token
	Algorithms []string // accepted "alg" values; default RS256 only
	// JWKSURL is where the signing keys are; default: jwks_uri from the issuer's
	// /.well-known/openid-configuration.
	JWKSURL string
	// Claim names; defaults "vagt_role", "vagt_municipality", "vagt_districts".
	RoleClaim, MunicipalityClaim, DistrictsClaim string
	Client                                       *http.Client // default: 10 s timeout
	// KeyRefetch is how often, at most, the keys are fetched again for a token whose
	// signature fits none of them (a rotation, or a forgery); default DefaultKeyRefetch.
	KeyRefetch time.Duration
	// Mapper turns a verified token's claims into a principal; default StaffClaims
	// with the claim names above. Issue 17's citizen login plugs in its own.
	Mapper ClaimMapper
}

// Claims are a verified token's claims, numbers as float64 (encoding/json).
type Claims map[string]any

// String returns claim name as a string, "" when absent or not a string.
func (c Claims) String(name string) string {
	s, _ := c[name].(string)
	return s
}

// ClaimMapper turns an identity provider's verified claims into the principal they
// describe. The staff mapping reads role and scope from claims (StaffClaims); a citizen
// login maps an identity claim to one citizen in the registry instead.
type ClaimMapper interface {
	Principal(ctx context.Context, c Claims) (*api.Principal, error)
}

// StaffClaims is the claim mapping for staff, managers and admins: the provider states the
// vagt role, municipality and districts in claims of these names, and the user's name is
// "oidc:" and the first of preferred_username, email, sub.
type StaffClaims struct {
	RoleClaim, MunicipalityClaim, DistrictsClaim string
}

// Principal maps c. A citizen is never made from these claims: a citizen's principal must
// be tied to one citizen in the registry, which the citizen login does.
func (m StaffClaims) Principal(_ context.Context, c Claims) (*api.Principal, error) {
	p := &api.Principal{}
	for _, name := range []string{"preferred_username", "email", "sub"} {
		if s := c.String(name); s != "" {
			p.Name = "oidc:" + s
			break
		}
	}
	p.Role = api.Role(c.String(m.RoleClaim))
	if p.Role == api.RoleCitizen {
		return nil, fmt.Errorf("%w: role %s is not given by the staff sign-in", api.ErrInvalid, p.Role)
	}
	if n, ok := c[m.MunicipalityClaim].(float64); ok {
		p.Municipality = vagt.MunicipalityCode(n)
	}
	if ds, ok := c[m.DistrictsClaim].([]any); ok {
		for _, d := range ds {
			if f, ok := d.(float64); ok {
				p.Districts = append(p.Districts, int64(f))
			}
		}
	}
	return p, nil
}

// OIDC verifies tokens from one identity provider with github.com/coreos/go-oidc, which
// does discovery and checks signature, issuer, audience, algorithm and expiry. The signing
// keys are fetched again when a token's signature fits none of them (key rotation), at
// most once per KeyRefetch (keyCache).
type OIDC struct {
	c    OIDCConfig
	keys *keyCache

	mu       sync.Mutex
	provider *oidc.Provider
	failedAt time.Time // last failed discovery: not retried for discoveryRetry
	failure  error
}

// discoveryRetry is how long a failed discovery is remembered: a provider that is down
// is not asked again by every request.
const discoveryRetry = 10 * time.Second

// NewOIDC returns a verifier. Nothing is fetched yet: discovery happens on first use (the
// api starts while the identity provider is down, and OIDC tokens fail until it is up).
func NewOIDC(c OIDCConfig) (*OIDC, error) {
	if c.Issuer == "" || c.Audience == "" {
		return nil, fmt.Errorf("%w: OIDC needs an issuer and an audience", api.ErrInvalid)
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"RS256"}
	}
	for _, a := range c.Algorithms {
		if a == "none" || strings.HasPrefix(a, "HS") {
			return nil, fmt.Errorf("%w: OIDC algorithm %q is not allowed (public-key algorithms only)", api.ErrInvalid, a)
		}
	}
	if c.RoleClaim == "" {
		c.RoleClaim = "vagt_role"
	}
	if c.MunicipalityClaim == "" {
		c.MunicipalityClaim = "vagt_municipality"
	}
	if c.DistrictsClaim == "" {
		c.DistrictsClaim = "vagt_districts"
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Mapper == nil {
		c.Mapper = StaffClaims{RoleClaim: c.RoleClaim, MunicipalityClaim: c.MunicipalityClaim, DistrictsClaim: c.DistrictsClaim}
	}
	if c.KeyRefetch <= 0 {
		c.KeyRefetch = DefaultKeyRefetch
	}
	algs := make([]jose.SignatureAlgorithm, len(c.Algorithms))
	for i, a := range c.Algorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	return &OIDC{c: c, keys: &keyCache{client: c.Client, refetch: c.KeyRefetch, algs: algs, url: c.JWKSURL}}, nil
}

// clientContext makes go-oidc use the configured HTTP client.
func (o *OIDC) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.c.Client)
}

// Provider returns the discovered provider: its endpoints and signing keys.
func (o *OIDC) Provider(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	if o.failure != nil && time.Since(o.failedAt) < discoveryRetry {
		return nil, o.failure
	}
	p, err := oidc.NewProvider(o.clientContext(ctx), o.c.Issuer)
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err == nil {
		err = p.Claims(&doc)
	}
	if err == nil && doc.JWKSURI == "" {
		err = errors.New("the discovery document names no jwks_uri")
	}
	if err != nil {
		o.failure, o.failedAt = fmt.Errorf("OIDC discovery: %w", err), time.Now()
		return nil, o.failure
	}
	if o.c.JWKSURL == "" {
		o.keys.setURL(doc.JWKSURI)
	}
	o.provider, o.failure = p, nil
	return p, nil
}

// verifier returns a go-oidc verifier for audience at now.
func (o *OIDC) verifier(ctx context.Context, audience string, now time.Time) (*oidc.IDTokenVerifier, error) {
	if o.c.JWKSURL == "" {
		if _, err := o.Provider(ctx); err != nil { // learns the jwks_uri
			return nil, err
		}
	}
	cfg := &oidc.Config{ClientID: audience, SupportedSigningAlgs: o.c.Algorithms, Now: func() time.Time { return now }}
	return oidc.NewVerifier(o.c.Issuer, o.keys, cfg), nil
}

// ErrIdentityProvider is the identity provider unreachable or broken: not the caller's fault.
var ErrIdentityProvider = errors.New("identity provider unavailable")

// VerifyClaims checks a JWT's signature, issuer, audience, algorithm and expiry and returns
// its claims; api.ErrUnauthenticated (wrapped) when the token is bad, ErrIdentityProvider when
// the provider cannot be asked for its keys.
func (o *OIDC) VerifyClaims(ctx context.Context, token, audience string, now time.Time) (*oidc.IDToken, Claims, error) {
	v, err := o.verifier(ctx, audience, now)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrIdentityProvider, err)
	}
	t, err := v.Verify(ctx, token)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", api.ErrUnauthenticated, err)
	}
	var c Claims
	if err := t.Claims(&c); err != nil {
		return nil, nil, fmt.Errorf("%w: claims: %w", api.ErrUnauthenticated, err)
	}
	return t, c, nil
}

// Principal maps verified claims to a principal with the configured mapper and checks it.
func (o *OIDC) Principal(ctx context.Context, c Claims) (*api.Principal, error) {
	// The mapper's reason is told (%v), not wrapped: claims that make no principal are an
	// authentication failure (401), not an invalid request.
	p, err := o.c.Mapper.Principal(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("%w: token claims: %v", api.ErrUnauthenticated, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: token claims: %v", api.ErrUnauthenticated, err)
	}
	return p, nil
}

// Verify checks a bearer JWT (an ID or access token for the configured audience) and
// returns the principal its claims describe; api.ErrUnauthenticated (wrapped) when anything is
// off. A provider that cannot be reached also fails the token: the caller gets 401 and may
// use a vagt token meanwhile.
func (o *OIDC) Verify(ctx context.Context, token string, now time.Time) (*api.Principal, error) {
	_, c, err := o.VerifyClaims(ctx, token, o.c.Audience, now)
	if errors.Is(err, ErrIdentityProvider) {
		return nil, fmt.Errorf("%w: %w", api.ErrUnauthenticated, err)
	}
	if err != nil {
		return nil, err
	}
	return o.Principal(ctx, c)
}
