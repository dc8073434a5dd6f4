package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// identities is who the provider's login app lets in next; nil claims refuse.
type identities struct {
	mu sync.Mutex
	id localstack.HydraIdentity
}

func (i *identities) set(id localstack.HydraIdentity) { i.mu.Lock(); i.id = id; i.mu.Unlock() }

func (i *identities) login(context.Context, localstack.HydraLogin) (localstack.HydraIdentity, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.id.Subject == "" {
		return i.id, errors.New("the user cancelled")
	}
	return i.id, nil
}

type signInFixture struct {
	hydra  *localstack.Hydra
	who    *identities
	store  *sqlstore.Store
	clock  *api.ManualClock
	url    string
	client localstack.HydraClient // the api's registration
	north  int64
}

// otherRedirect is a redirect URI nobody serves: the test, playing a second application,
// stops there and reads the code from the URL.
const otherRedirect = "http://127.0.0.1:9/cb"

func newSignInFixture(t *testing.T) *signInFixture { return newSignInFixtureSecret(t, "") }

// newSignInFixtureSecret registers the api at the provider as a confidential client when
// secret is set, else as a public one (PKCE only).
func newSignInFixtureSecret(t *testing.T, secret string) *signInFixture {
	t.Helper()
	who := &identities{}
	h := stacktest.Hydra(t, localstack.HydraOptions{Login: who.login})
	store, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	north, err := store.CreateDistrict(t.Context(), 766, "Nord")
	if err != nil {
		t.Fatal(err)
	}
	// The provider's tokens carry the real time; the api's clock starts there.
	clock := api.NewManualClock(time.Now())
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	client, err := h.CreateClient(t.Context(), localstack.HydraClient{Secret: secret, RedirectURIs: []string{srv.URL + "/auth/callback", otherRedirect}})
	if err != nil {
		t.Fatal(err)
	}
	// The api's requests to the provider may wait long on a busy machine (the production
	// default is 10 s); this bounds a hang, it is no target.
	o, err := auth.NewOIDC(auth.OIDCConfig{Issuer: h.Issuer(), Audience: client.ID, Client: &http.Client{Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	flow, err := auth.NewSignIn(o, auth.SignInConfig{ClientID: client.ID, ClientSecret: secret, RedirectURL: srv.URL + "/auth/callback"})
	if err != nil {
		t.Fatal(err)
	}
	handler = httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: alerts.NewFeed(store, alerts.FeedOptions{}),
		OIDC: o, SignIn: flow, Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	who.set(localstack.HydraIdentity{Subject: "anna", Claims: map[string]any{"preferred_username": "anna",
		"vagt_role": "staff", "vagt_municipality": 766, "vagt_districts": []int64{north}}})
	return &signInFixture{hydra: h, who: who, store: store, clock: clock, url: srv.URL, client: client, north: north}
}

// browser is an HTTP client with cookies that follows redirects and remembers every URL
// it was sent to.
type browser struct {
	*http.Client
	visited []string
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{}
	b.Client = &http.Client{Jar: jar, Timeout: 2 * time.Minute, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.visited = append(b.visited, req.URL.String())
		return nil
	}}
	return b
}

func (b *browser) get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	b.visited = append(b.visited, u)
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var jsString = regexp.MustCompile(`setItem\("vagt\.token", ("[^"]*")\)[\s\S]*location\.replace\(("[^"]*")\)`)

// handedOff reads the session token and the return path from the hand-off page.
func handedOff(t *testing.T, body string) (token, next string) {
	t.Helper()
	m := jsString.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no hand-off in the page:\n%s", body)
	}
	if err := json.Unmarshal([]byte(m[1]), &token); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(m[2]), &next); err != nil {
		t.Fatal(err)
	}
	return token, next
}

func bearerGet(t *testing.T, u, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestSignInWithProvider: the whole authorization code flow against a real provider, as a
// browser without JavaScript walks it: /auth/login → provider → login and consent app →
// provider → /auth/callback → the hand-off page with a session token that works.
func TestSignInWithProvider(t *testing.T) {
	f := newSignInFixture(t)
	b := newBrowser(t)
	resp, body := b.get(t, f.url+"/auth/login?next="+url.QueryEscape("/night?board=1"))
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/auth/callback" {
		t.Fatalf("ended at %s with %d:\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("hand-off page Cache-Control %q, want no-store", cc)
	}
	token, next := handedOff(t, body)
	if !strings.HasPrefix(token, auth.TokenPrefix) || next != "/night?board=1" {
		t.Fatalf("handed off token %q, next %q", token, next)
	}
	for _, u := range b.visited {
		if strings.Contains(u, token) {
			t.Errorf("the session token is in a URL: %s", u)
		}
	}
	// The PKCE challenge went to the provider (S256), and no verifier did.
	var sawChallenge bool
	for _, u := range b.visited {
		if p, _ := url.Parse(u); p != nil && p.Query().Get("code_challenge_method") == "S256" && p.Query().Get("code_challenge") != "" {
			sawChallenge = true
		}
		if strings.Contains(u, "code_verifier") {
			t.Errorf("a verifier in a URL: %s", u)
		}
	}
	if !sawChallenge {
		t.Errorf("no S256 code challenge in the redirects: %v", b.visited)
	}
	code, me := bearerGet(t, f.url+"/api/v1/me", token)
	if code != http.StatusOK || me["name"] != "oidc:anna" || me["role"] != "staff" || me["municipality"] != float64(766) ||
		fmt.Sprint(me["districts"]) != fmt.Sprintf("[%d]", f.north) || me["issued_by"] != auth.OIDCIssuer {
		t.Fatalf("GET /me with the session token: %d %v", code, me)
	}
	// A session token of the token system: listed, revocable, and it expires.
	tokens, err := f.store.Tokens(t.Context(), int64(me["user_id"].(float64)))
	if err != nil || len(tokens) != 1 || tokens[0].ExpiresAt == nil || tokens[0].IssuedBy != auth.OIDCIssuer {
		t.Fatalf("tokens: %v %+v", err, tokens)
	}
	if life := tokens[0].ExpiresAt.Sub(f.clock.Now()); life > 12*time.Hour || life <= 0 {
		t.Errorf("session token lives %s, want at most 12h", life)
	}
	log, err := f.store.AuditLog(t.Context(), api.Scope{All: true}, fmt.Sprintf("user/%d", tokens[0].UserID), 0, 10)
	if err != nil || len(log) == 0 || log[0].Action != "signin.oidc" {
		t.Errorf("audit: %v %+v", err, log)
	}
	f.clock.Advance(13 * time.Hour)
	if code, _ := bearerGet(t, f.url+"/api/v1/me", token); code != http.StatusUnauthorized {
		t.Errorf("a stale session token: %d, want 401", code)
	}
}

// TestSignInConfidentialClient: a municipality that registers vagt with a client secret.
func TestSignInConfidentialClient(t *testing.T) {
	f := newSignInFixtureSecret(t, "a-secret-from-the-environment-file")
	resp, body := newBrowser(t).get(t, f.url+"/auth/login?next=/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d\n%s", resp.StatusCode, body)
	}
	token, _ := handedOff(t, body)
	if code, me := bearerGet(t, f.url+"/api/v1/me", token); code != http.StatusOK || me["name"] != "oidc:anna" {
		t.Fatalf("GET /me: %d %v", code, me)
	}
}

// TestSignInRefusals: what must not sign anyone in.
func TestSignInRefusals(t *testing.T) {
	f := newSignInFixture(t)

	t.Run("open redirect", func(t *testing.T) {
		for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "evil", "javascript:alert(1)", "/%0d%0aLocation:x"} {
			b := newBrowser(t)
			b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, _ := b.get(t, f.url+"/auth/login?next="+url.QueryEscape(next))
			if next == "/%0d%0aLocation:x" {
				// A path with an encoded line break is still a local path.
				if resp.StatusCode != http.StatusFound {
					t.Errorf("next %q: %d", next, resp.StatusCode)
				}
				continue
			}
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("next %q: %d to %q, want 400 and no redirect", next, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})

	t.Run("wrong state", func(t *testing.T) {
		b := newBrowser(t)
		b.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, _ := b.get(t, f.url+"/auth/login?next=/")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		resp, body := b.get(t, f.url+"/auth/callback?state=forged&code=whatever")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "state") || strings.Contains(body, "vagt.token") {
			t.Errorf("forged state: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("replayed code", func(t *testing.T) {
		b := newBrowser(t)
		var callback string
		var cookies []*http.Cookie
		b.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == "/auth/callback" {
				callback = req.URL.String()
				cookies = b.Jar.Cookies(req.URL)
			}
			return nil
		}
		resp, body := b.get(t, f.url+"/auth/login?next=/")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("first sign-in: %d\n%s", resp.StatusCode, body)
		}
		// The same callback again: the state was used up.
		resp, body = b.get(t, callback)
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "vagt.token") {
			t.Errorf("replayed callback: %d\n%s", resp.StatusCode, body)
		}
		// With the state cookie put back, the provider refuses the used code.
		u, _ := url.Parse(f.url + "/auth/")
		b.Jar.SetCookies(u, cookies)
		resp, body = b.get(t, callback)
		if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "vagt.token") {
			t.Errorf("replayed code: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("provider refuses the login", func(t *testing.T) {
		f.who.set(localstack.HydraIdentity{})
		defer f.who.set(localstack.HydraIdentity{Subject: "anna", Claims: map[string]any{"preferred_username": "anna",
			"vagt_role": "staff", "vagt_municipality": 766, "vagt_districts": []int64{f.north}}})
		resp, body := newBrowser(t).get(t, f.url+"/auth/login?next=/")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "access_denied") {
			t.Errorf("refused login: %d\n%s", resp.StatusCode, body)
		}
	})

	t.Run("claims that make no staff principal", func(t *testing.T) {
		for name, claims := range map[string]map[string]any{
			"citizen": {"vagt_role": "citizen", "vagt_municipality": 766},
			"no role": {"vagt_municipality": 766},
		} {
			f.who.set(localstack.HydraIdentity{Subject: "eve", Claims: claims})
			resp, body := newBrowser(t).get(t, f.url+"/auth/login?next=/")
			if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "vagt.token") {
				t.Errorf("%s: %d\n%s", name, resp.StatusCode, body)
			}
		}
	})
}

// idToken gets an ID token for client straight from the provider, as another
// application would (code flow with PKCE, stopping at otherRedirect).
func idToken(t *testing.T, h *localstack.Hydra, clientID string) string {
	t.Helper()
	cfg := oauth2.Config{ClientID: clientID, RedirectURL: otherRedirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: h.Issuer() + "/oauth2/auth", TokenURL: h.Issuer() + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	var code string
	b.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), otherRedirect) {
			code = req.URL.Query().Get("code")
			return http.ErrUseLastResponse
		}
		return nil
	}
	b.get(t, cfg.AuthCodeURL("state-of-the-test-app", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n-0123456789")))
	if code == "" {
		t.Fatalf("no code for %s: %v", clientID, b.visited)
	}
	tok, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no ID token")
	}
	return raw
}

// TestProviderBearerTokens: the provider's own JWTs as bearer tokens (the api verifies them
// with go-oidc): one for the api's audience works; another audience, another issuer, or an
// expired one gets 401.
func TestProviderBearerTokens(t *testing.T) {
	f := newSignInFixture(t)
	good := idToken(t, f.hydra, f.client.ID)
	if code, me := bearerGet(t, f.url+"/api/v1/me", good); code != http.StatusOK || me["name"] != "oidc:anna" || me["token_id"] != nil {
		t.Fatalf("the provider's ID token for the api: %d %v", code, me)
	}
	other, err := f.hydra.CreateClient(t.Context(), localstack.HydraClient{RedirectURIs: []string{otherRedirect}})
	if err != nil {
		t.Fatal(err)
	}
	wrongAudience := idToken(t, f.hydra, other.ID)
	elsewhere := stacktest.Hydra(t, localstack.HydraOptions{Login: f.who.login})
	foreignClient, err := elsewhere.CreateClient(t.Context(), localstack.HydraClient{ID: f.client.ID, RedirectURIs: []string{otherRedirect}})
	if err != nil {
		t.Fatal(err)
	}
	if foreignClient.ID != f.client.ID {
		t.Fatalf("the other provider named the client %q, not %q: the case would not isolate the issuer", foreignClient.ID, f.client.ID)
	}
	anotherIssuer := idToken(t, elsewhere, foreignClient.ID)
	for name, tok := range map[string]string{"wrong audience": wrongAudience, "another issuer": anotherIssuer} {
		if code, _ := bearerGet(t, f.url+"/api/v1/me", tok); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
	f.clock.Advance(2 * time.Hour) // the provider's tokens live 1 h
	if code, _ := bearerGet(t, f.url+"/api/v1/me", good); code != http.StatusUnauthorized {
		t.Errorf("expired: %d, want 401", code)
	}
}
