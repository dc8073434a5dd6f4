package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// OIDCConfig pins what an identity provider's ID or access tokens must be. The
// municipality's provider puts the vagt role and scope into claims.
type OIDCConfig struct {
	Issuer     string   // exact "iss"
	Audience   string   // must be in "aud"
	Algorithms []string // accepted "alg" values; default RS256 only
	// JWKSURL is where the signing keys are; default: jwks_uri from the issuer's
	// /.well-known/openid-configuration.
	JWKSURL string
	// Claim names; defaults "vagt_role", "vagt_municipality", "vagt_districts".
	RoleClaim, MunicipalityClaim, DistrictsClaim string
	Client                                       *http.Client // default: 10 s timeout
}

// OIDC verifies JWTs from one identity provider.
type OIDC struct {
	c OIDCConfig

	mu      sync.Mutex
	keys    map[string]crypto.PublicKey
	fetched time.Time
}

// NewOIDC returns a verifier; keys are fetched on first use and when an unknown key id
// shows up (at most once a minute).
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
	return &OIDC{c: c}, nil
}

// Verify checks a JWT's signature, issuer, audience, algorithm and lifetime and returns the
// principal its claims describe; ErrUnauthenticated (wrapped) when anything is off.
func (o *OIDC) Verify(ctx context.Context, token string, now time.Time) (*api.Principal, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return o.key(ctx, kid)
	}, jwt.WithValidMethods(o.c.Algorithms), jwt.WithIssuer(o.c.Issuer), jwt.WithAudience(o.c.Audience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrUnauthenticated, err)
	}
	p := &api.Principal{}
	for _, c := range []string{"preferred_username", "email", "sub"} {
		if s, _ := claims[c].(string); s != "" {
			p.Name = "oidc:" + s
			break
		}
	}
	role, _ := claims[o.c.RoleClaim].(string)
	p.Role = api.Role(role)
	if m, ok := claims[o.c.MunicipalityClaim].(float64); ok {
		p.Municipality = vagt.MunicipalityCode(m)
	}
	if ds, ok := claims[o.c.DistrictsClaim].([]any); ok {
		for _, d := range ds {
			if f, ok := d.(float64); ok {
				p.Districts = append(p.Districts, int64(f))
			}
		}
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: token claims: %w", api.ErrUnauthenticated, err)
	}
	return p, nil
}

func (o *OIDC) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if k, ok := o.keys[kid]; ok {
		return k, nil
	}
	if time.Since(o.fetched) < time.Minute && o.keys != nil {
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	keys, err := o.fetch(ctx)
	o.fetched = time.Now()
	if err != nil {
		return nil, err
	}
	o.keys = keys
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("unknown key id %q", kid)
}

func (o *OIDC) fetch(ctx context.Context) (map[string]crypto.PublicKey, error) {
	url := o.c.JWKSURL
	if url == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := o.getJSON(ctx, strings.TrimSuffix(o.c.Issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
			return nil, err
		}
		if doc.Issuer != o.c.Issuer || doc.JWKSURI == "" {
			return nil, fmt.Errorf("OIDC discovery: issuer %q, jwks_uri %q", doc.Issuer, doc.JWKSURI)
		}
		url = doc.JWKSURI
	}
	var set struct {
		Keys []struct {
			Kid, Kty, Use, Crv, N, E, X, Y string
		} `json:"keys"`
	}
	if err := o.getJSON(ctx, url, &set); err != nil {
		return nil, err
	}
	keys := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch k.Kty {
		case "RSA":
			n, err1 := base64.RawURLEncoding.DecodeString(k.N)
			e, err2 := base64.RawURLEncoding.DecodeString(k.E)
			if err1 != nil || err2 != nil || len(e) > 4 {
				continue
			}
			keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			var curve elliptic.Curve
			switch k.Crv {
			case "P-256":
				curve = elliptic.P256()
			case "P-384":
				curve = elliptic.P384()
			default:
				continue
			}
			x, err1 := base64.RawURLEncoding.DecodeString(k.X)
			y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
			if err1 != nil || err2 != nil {
				continue
			}
			keys[k.Kid] = &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("OIDC: no usable signing keys")
	}
	return keys, nil
}

func (o *OIDC) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := o.c.Client.Do(req)
	if err != nil {
		return fmt.Errorf("OIDC: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("OIDC: GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}
