package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
)

var now = time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)

func TestOIDC(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	rotated, _ := rsa.GenerateKey(rand.Reader, 2048)
	var (
		issuer  string
		mu      sync.Mutex
		served  = map[string]*rsa.PrivateKey{"k1": key}
		fetches int // of the key set
	)
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		keys := []map[string]string{}
		for kid, k := range served {
			keys = append(keys, map[string]string{"kid": kid, "kty": "RSA", "use": "sig",
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	issuer = srv.URL
	v, err := auth.NewOIDC(auth.OIDCConfig{Issuer: issuer, Audience: "vagt"})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": issuer, "aud": "vagt", "sub": "u1", "preferred_username": "anna",
			"exp": now.Add(time.Hour).Unix(), "vagt_role": "staff", "vagt_municipality": 766, "vagt_districts": []int{3}}
		if change != nil {
			change(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, k any, kid string, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p, err := v.Verify(t.Context(), sign(jwt.SigningMethodRS256, key, "k1", claims(nil)), now)
	if err != nil || p.Name != "oidc:anna" || p.Role != api.RoleStaff || p.Municipality != 766 || len(p.Districts) != 1 || p.Districts[0] != 3 {
		t.Fatalf("good token: %v %+v", err, p)
	}
	for name, tok := range map[string]string{
		"citizen from staff claims":           sign(jwt.SigningMethodRS256, key, "k1", claims(func(c jwt.MapClaims) { c["vagt_role"] = "citizen"; delete(c, "vagt_districts") })),
		"wrong audience":                      sign(jwt.SigningMethodRS256, key, "k1", claims(func(c jwt.MapClaims) { c["aud"] = "other" })),
		"wrong issuer":                        sign(jwt.SigningMethodRS256, key, "k1", claims(func(c jwt.MapClaims) { c["iss"] = "https://evil" })),
		"expired":                             sign(jwt.SigningMethodRS256, key, "k1", claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })),
		"no expiry":                           sign(jwt.SigningMethodRS256, key, "k1", claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"other key":                           sign(jwt.SigningMethodRS256, other, "k1", claims(nil)),
		"unknown kid":                         sign(jwt.SigningMethodRS256, key, "k9", claims(nil)),
		"HS256 with the public key as secret": sign(jwt.SigningMethodHS256, key.N.Bytes(), "k1", claims(nil)),
		"alg none":                            sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", claims(nil)),
		"PS256 not pinned":                    sign(jwt.SigningMethodPS256, key, "k1", claims(nil)),
		"no role":                             sign(jwt.SigningMethodRS256, key, "k1", claims(func(c jwt.MapClaims) { delete(c, "vagt_role") })),
	} {
		if _, err := v.Verify(t.Context(), tok, now); !errors.Is(err, api.ErrUnauthenticated) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A flood of tokens whose signature fits no key fetched the keys at most once more:
	// forged tokens do not turn into requests to the provider.
	mu.Lock()
	before := fetches
	mu.Unlock()
	for range 20 {
		if _, err := v.Verify(t.Context(), sign(jwt.SigningMethodRS256, other, "k7", claims(nil)), now); !errors.Is(err, api.ErrUnauthenticated) {
			t.Fatalf("forged: %v", err)
		}
	}
	mu.Lock()
	if fetches-before > 1 {
		t.Errorf("20 forged tokens fetched the keys %d times", fetches-before)
	}
	mu.Unlock()

	// The provider rotates its key: a token under the new key is accepted once the keys
	// are fetched again (here the refetch interval is nil), and the retired key is refused.
	rotating, err := auth.NewOIDC(auth.OIDCConfig{Issuer: issuer, Audience: "vagt", KeyRefetch: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotating.Verify(t.Context(), sign(jwt.SigningMethodRS256, key, "k1", claims(nil)), now); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	served = map[string]*rsa.PrivateKey{"k2": rotated}
	mu.Unlock()
	if p, err := rotating.Verify(t.Context(), sign(jwt.SigningMethodRS256, rotated, "k2", claims(nil)), now); err != nil || p.Name != "oidc:anna" {
		t.Fatalf("token under the rotated key: %v %+v", err, p)
	}
	if _, err := rotating.Verify(t.Context(), sign(jwt.SigningMethodRS256, key, "k1", claims(nil)), now); !errors.Is(err, api.ErrUnauthenticated) {
		t.Errorf("token under the retired key: %v", err)
	}
	if _, err := auth.NewOIDC(auth.OIDCConfig{Issuer: issuer, Audience: "vagt", Algorithms: []string{"HS256"}}); err == nil {
		t.Error("HS256 accepted as a pinned algorithm")
	}
}
