package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
)

var key = auth.IdentityKey(strings.Repeat("k", auth.MinIdentityKey))

// registry is an in-process CitizenIdentities: hash → citizens.
type registry map[string]map[int64]vagt.MunicipalityCode

func (r registry) CitizensByIdentity(_ context.Context, h string) (map[int64]vagt.MunicipalityCode, error) {
	return r[h], nil
}

// TestIdentityHash: a CPR number is one person with or without its dash; the hash depends
// on the key and never contains the identity.
func TestIdentityHash(t *testing.T) {
	h := key.Hash("610150-1234")
	if h != key.Hash("6101501234") || h != key.Hash(" 610150 1234 ") {
		t.Error("a CPR number hashes differently with its dash or spaces")
	}
	if h == auth.IdentityKey(strings.Repeat("x", 32)).Hash("6101501234") {
		t.Error("the hash does not depend on the key")
	}
	if strings.Contains(h, "6101501234") || len(h) != 64 {
		t.Errorf("hash %q", h)
	}
	if key.Hash("abc-def") == key.Hash("abcdef") {
		t.Error("a pseudonym lost its dash: only CPR numbers are normalised")
	}
}

// TestCitizenClaims: exactly one citizen; none and two are refused with their reasons; a
// missing claim is refused.
func TestCitizenClaims(t *testing.T) {
	one, two := key.Hash("6101501234"), key.Hash("6101301111")
	m := auth.CitizenClaims{Claim: "cpr", Key: key, Registry: registry{
		one: {7: 766},
		two: {8: 766, 9: 766},
	}}
	p, err := m.Principal(t.Context(), auth.Claims{"cpr": "610150-1234"})
	if err != nil || p.Name != "citizen-7" || p.Role != api.RoleCitizen || p.Municipality != 766 {
		t.Fatalf("one match: %+v %v", p, err)
	}
	if id, ok := auth.CitizenOf(p); !ok || id != 7 {
		t.Errorf("CitizenOf: %d %v", id, ok)
	}
	for name, c := range map[string]struct {
		claims auth.Claims
		want   error
	}{
		"no match":    {auth.Claims{"cpr": "6101999999"}, auth.ErrNoCitizen},
		"two matches": {auth.Claims{"cpr": "6101301111"}, auth.ErrAmbiguousCitizen},
		"no claim":    {auth.Claims{"sub": "x"}, api.ErrInvalid},
	} {
		if _, err := m.Principal(t.Context(), c.claims); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// TestNationalLoginConfigValidate: half a configuration or a short key does not start.
func TestNationalLoginConfigValidate(t *testing.T) {
	ok := auth.NationalLoginConfig{Issuer: "https://broker.example", Key: key,
		SignIn: auth.SignInConfig{ClientID: "vagt", RedirectURL: "https://vagt.example/auth/citizen/callback"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a whole configuration: %v", err)
	}
	if err := (auth.NationalLoginConfig{}).Validate(); err != nil {
		t.Errorf("none at all: %v", err)
	}
	for name, c := range map[string]auth.NationalLoginConfig{
		"no issuer":         {SignIn: ok.SignIn, Key: key},
		"no client":         {Issuer: ok.Issuer, Key: key},
		"no key":            {Issuer: ok.Issuer, SignIn: ok.SignIn},
		"a short key":       {Issuer: ok.Issuer, SignIn: ok.SignIn, Key: auth.IdentityKey("short")},
		"a short key alone": {Key: auth.IdentityKey("short")},
		"plain http":        {Issuer: ok.Issuer, Key: key, SignIn: auth.SignInConfig{ClientID: "vagt", RedirectURL: "http://vagt.example/auth/citizen/callback"}},
	} {
		if err := c.Validate(); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}
