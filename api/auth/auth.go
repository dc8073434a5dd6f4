// Package auth is how a caller proves who it is: bearer tokens (only their SHA-256 is
// stored) and their lifetimes by role, citizens' activation codes, and OIDC. Who the caller
// is and what it may see (api.Principal, api.Role, api.Scope) are the api's vocabulary, in
// package api.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

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
