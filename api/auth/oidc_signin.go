package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/vagt-dk/vagt/api"
)

// OIDCIssuer is the IssuedBy of a session token that sign-in with the identity provider
// issued.
const OIDCIssuer = "oidc"

// SignInConfig is the api's client registration at the identity provider, for the
// authorization code flow with PKCE that signs staff in to the web pages.
type SignInConfig struct {
	ClientID string
	// ClientSecret is empty for a public client: PKCE alone protects the code.
	ClientSecret string
	// RedirectURL is this api's /auth/callback as the browser reaches it, registered
	// at the provider exactly.
	RedirectURL string
	// Scopes asked for; "openid" is always asked. Default: openid profile email.
	Scopes []string
	// SessionLifetime is how long the vagt session token lives; default 12 h (a shift),
	// and never longer than the role's default token lifetime (Lifetime).
	SessionLifetime time.Duration
}

// Enabled reports whether sign-in is configured at all.
func (c SignInConfig) Enabled() bool { return c.ClientID != "" || c.RedirectURL != "" }

// Validate checks a configuration that enables sign-in.
func (c SignInConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	if c.ClientID == "" {
		return fmt.Errorf("%w: OIDC sign-in needs a client id", api.ErrInvalid)
	}
	u, err := url.Parse(c.RedirectURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Fragment != "" {
		return fmt.Errorf("%w: OIDC redirect URL %q must be an absolute http(s) URL without a fragment", api.ErrInvalid, c.RedirectURL)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%w: OIDC redirect URL %q must be https (plain http only on loopback)", api.ErrInvalid, c.RedirectURL)
	}
	if c.SessionLifetime < 0 {
		return fmt.Errorf("%w: a negative session lifetime", api.ErrInvalid)
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// SignIn runs the authorization code flow with PKCE (RFC 7636, S256) and a nonce against
// the provider of an OIDC verifier.
type SignIn struct {
	o *OIDC
	c SignInConfig
}

// NewSignIn returns the flow for o's provider.
func NewSignIn(o *OIDC, c SignInConfig) (*SignIn, error) {
	if !c.Enabled() {
		return nil, fmt.Errorf("%w: OIDC sign-in is not configured", api.ErrInvalid)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"profile", "email"}
	}
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range c.Scopes {
		if s != oidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	c.Scopes = scopes
	if c.SessionLifetime == 0 {
		c.SessionLifetime = 12 * time.Hour
	}
	return &SignIn{o: o, c: c}, nil
}

// LoginState is what the browser keeps (in a cookie) between leaving for the provider and
// coming back: the state to match, the nonce the ID token must carry, the PKCE verifier and
// the local path to return to.
type LoginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"next"`
}

// ErrNotLocal is a return path that leaves this site: an open redirect, refused.
var ErrNotLocal = fmt.Errorf("%w: next must be a path on this site", api.ErrInvalid)

// LocalPath returns next when it is a path on this site ("/" when empty), and ErrNotLocal
// for anything a browser could take elsewhere ("//evil", "/\evil", "https://evil").
func LocalPath(next string) (string, error) {
	if next == "" {
		return "/", nil
	}
	if len(next) > 1024 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return "", ErrNotLocal
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", ErrNotLocal
	}
	return next, nil
}

// Start returns where to send the browser and the state to keep until it comes back.
func (s *SignIn) Start(ctx context.Context, next string) (string, LoginState, error) {
	next, err := LocalPath(next)
	if err != nil {
		return "", LoginState{}, err
	}
	cfg, err := s.oauth2(ctx)
	if err != nil {
		return "", LoginState{}, err
	}
	st := LoginState{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: next}
	return cfg.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)), st, nil
}

// ErrWrongState is a callback whose state is not the one this browser started with:
// a forged or stale callback (login CSRF), refused.
var ErrWrongState = fmt.Errorf("%w: the sign-in state does not match; start again", api.ErrInvalid)

// Finish takes the provider's answer (state and code), exchanges the code with the PKCE
// verifier, verifies the ID token (issuer, audience = client id, expiry, nonce) and maps
// its claims to a principal. api.ErrUnauthenticated when the provider refuses or the token is
// bad; ErrIdentityProvider when the provider cannot be reached.
func (s *SignIn) Finish(ctx context.Context, st LoginState, state, code string, now time.Time) (*api.Principal, error) {
	if st.State == "" || state != st.State {
		return nil, ErrWrongState
	}
	if code == "" {
		return nil, fmt.Errorf("%w: the provider sent no code", api.ErrUnauthenticated)
	}
	cfg, err := s.oauth2(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := cfg.Exchange(s.o.clientContext(ctx), code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			// The provider refused: a used or foreign code, a wrong verifier.
			return nil, fmt.Errorf("%w: code exchange refused: %s", api.ErrUnauthenticated, re.ErrorCode)
		}
		return nil, fmt.Errorf("%w: code exchange: %w", ErrIdentityProvider, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the provider sent no ID token", api.ErrUnauthenticated)
	}
	idt, claims, err := s.o.VerifyClaims(ctx, raw, s.c.ClientID, now)
	if err != nil {
		return nil, err
	}
	if idt.Nonce != st.Nonce {
		return nil, fmt.Errorf("%w: the ID token's nonce does not match", api.ErrUnauthenticated)
	}
	return s.o.Principal(ctx, claims)
}

// SessionExpiry is when the session token of a principal signed in at now expires.
func (s *SignIn) SessionExpiry(role api.Role, now time.Time) (time.Time, error) {
	return Lifetime(role, min(s.c.SessionLifetime, defaultLifetime[role]), now)
}

func (s *SignIn) oauth2(ctx context.Context) (*oauth2.Config, error) {
	p, err := s.o.Provider(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIdentityProvider, err)
	}
	ep := p.Endpoint()
	if s.c.ClientSecret == "" {
		// A public client sends its id in the body, no secret.
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{ClientID: s.c.ClientID, ClientSecret: s.c.ClientSecret, Endpoint: ep,
		RedirectURL: s.c.RedirectURL, Scopes: s.c.Scopes}, nil
}

// random returns 128 random bits, URL-safe.
func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
