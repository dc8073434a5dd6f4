package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// DefaultKeyRefetch is how often, at most, the provider's signing keys are fetched again
// because a token's signature fits none of the known ones.
const DefaultKeyRefetch = time.Minute

// keyCache is the provider's signing keys for go-oidc's verifier (an oidc.KeySet). go-oidc's
// own RemoteKeySet fetches the keys again for every token whose signature fits none of
// them, so a stream of forged tokens would become a stream of requests to the
// municipality's provider. Here a rotation is still followed (an unknown signature
// fetches the keys again) but at most once per refetch interval.
type keyCache struct {
	client  *http.Client
	refetch time.Duration
	algs    []jose.SignatureAlgorithm

	mu      sync.Mutex // held across a fetch: callers meanwhile wait and use its result
	url     string
	keys    []jose.JSONWebKey
	fetched time.Time
}

var _ oidc.KeySet = (*keyCache)(nil)

func (k *keyCache) setURL(url string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.url = url
}

func (k *keyCache) current() []jose.JSONWebKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys
}

// VerifySignature returns the JWT's payload when the provider's key it names (kid; any of
// them when it names none) signed it.
func (k *keyCache) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, k.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("a jwt needs exactly one signature")
	}
	if p, ok := verifyWith(jws, k.current()); ok {
		return p, nil
	}
	fetchErr := k.refresh(ctx)
	if p, ok := verifyWith(jws, k.current()); ok {
		return p, nil
	}
	return nil, errors.Join(errors.New("no key of the provider signed it"), fetchErr)
}

func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey) ([]byte, bool) {
	kid := jws.Signatures[0].Header.KeyID
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		if p, err := jws.Verify(&keys[i]); err == nil {
			return p, true
		}
	}
	return nil, false
}

// refresh fetches the keys unless that was done less than the refetch interval ago.
func (k *keyCache) refresh(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.fetched.IsZero() && time.Since(k.fetched) < k.refetch {
		return nil
	}
	if k.url == "" {
		return errors.New("OIDC: no jwks_uri")
	}
	k.fetched = time.Now()
	keys, err := k.fetch(ctx)
	if err != nil {
		return err
	}
	k.keys = keys
	return nil
}

func (k *keyCache) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("OIDC keys: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("OIDC keys: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("OIDC keys: GET %s: %s", k.url, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("OIDC keys: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, jwk := range set.Keys {
		if jwk.Use != "" && jwk.Use != "sig" {
			continue
		}
		switch jwk.Key.(type) { // public keys only: never a shared secret
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			keys = append(keys, jwk)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("OIDC keys: no usable signing keys")
	}
	return keys, nil
}
