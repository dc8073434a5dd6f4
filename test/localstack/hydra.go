package localstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Ory Hydra (github.com/ory/hydra/v2, a certified OpenID Connect provider) stands in for a
// municipality's identity provider in the sign-in tests. deploy/tools.sh builds it into
// bin/hydra. Hydra has no login screen of its own: it asks a "login and consent app",
// which Hydra starts here in-process and which answers as HydraOptions.Login says.

// HydraOptions configure an OpenID Connect provider. The zero value refuses every login.
type HydraOptions struct {
	// Login decides who signs in: the subject and the claims the ID token carries, or an
	// error to refuse (the provider then sends the browser back with access_denied).
	Login func(ctx context.Context, r HydraLogin) (HydraIdentity, error)
	// IDTokenTTL is how long ID and access tokens live; default 1h.
	IDTokenTTL time.Duration

	BaseDir      string        // parent of the temporary directory; default os.TempDir()
	StartTimeout time.Duration // default 2m: it migrates its in-memory database first
	StopTimeout  time.Duration // SIGTERM to SIGKILL; default 10s
	Logger       *slog.Logger  // nil logs nothing
}

// HydraLogin is a login request as the login app sees it.
type HydraLogin struct {
	ClientID string
	Scopes   []string
}

// HydraIdentity is who the login app says signed in.
type HydraIdentity struct {
	Subject string
	Claims  map[string]any // added to the ID token
}

// HydraClient is an OAuth 2.0 client registered at the provider.
type HydraClient struct {
	ID, Secret   string // Secret "" for a public client (PKCE only)
	RedirectURIs []string
	Scope        string // space-separated; default "openid profile email"
}

// Hydra is a running (or stopped) Ory Hydra with its login and consent app.
type Hydra struct {
	*service
	opts      HydraOptions
	path      string
	public    int
	admin     int
	secret    string
	app       *http.Server
	appURL    string
	appClient *http.Client
}

// StartHydra starts Hydra (in-memory storage) on free loopback ports and waits until it
// is ready. ctx bounds the start only.
func StartHydra(ctx context.Context, opts HydraOptions) (*Hydra, error) {
	path, err := FindBinary("hydra")
	if err != nil {
		return nil, err
	}
	if opts.IDTokenTTL <= 0 {
		opts.IDTokenTTL = time.Hour
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	svc, err := newService(serviceConfig{name: "hydra", baseDir: opts.BaseDir, stopSignal: syscall.SIGTERM,
		stopTimeout: opts.StopTimeout, logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 24)
	_, _ = rand.Read(secret)
	h := &Hydra{service: svc, opts: opts, path: path, secret: hex.EncodeToString(secret),
		// Generous: the tests share a busy machine; this bounds a hang, it is no target.
		appClient: &http.Client{Timeout: time.Minute}}
	h.launch = h.launchLocked
	if err := h.startApp(); err != nil {
		return nil, errors.Join(err, h.Close())
	}
	if err := h.pickPorts(); err != nil {
		return nil, errors.Join(err, h.Close())
	}
	if err := h.Start(ctx); err != nil {
		return nil, errors.Join(err, h.Close())
	}
	return h, nil
}

// Issuer is the provider's issuer URL (its public endpoint).
func (h *Hydra) Issuer() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(h.public))
}

// AdminURL is the admin endpoint (clients, login and consent requests).
func (h *Hydra) AdminURL() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(h.admin))
}

// Close stops Hydra and its login app.
func (h *Hydra) Close() error {
	var appErr error
	if h.app != nil {
		appErr = h.app.Close()
	}
	return errors.Join(h.service.Close(), appErr)
}

// CreateClient registers a client and returns it with the id the provider gave it.
func (h *Hydra) CreateClient(ctx context.Context, c HydraClient) (HydraClient, error) {
	if c.Scope == "" {
		c.Scope = "openid profile email"
	}
	body := map[string]any{"grant_types": []string{"authorization_code"}, "response_types": []string{"code"},
		"redirect_uris": c.RedirectURIs, "scope": c.Scope, "token_endpoint_auth_method": "none"}
	if c.ID != "" {
		body["client_id"] = c.ID
	}
	if c.Secret != "" {
		body["client_secret"] = c.Secret
		body["token_endpoint_auth_method"] = "client_secret_basic"
	}
	var out struct {
		ID string `json:"client_id"`
	}
	if err := h.adminJSON(ctx, http.MethodPost, "/admin/clients", body, &out); err != nil {
		return c, err
	}
	c.ID = out.ID
	return c, nil
}

func (h *Hydra) pickPorts() error {
	var err error
	if h.public, err = FreePort(); err != nil {
		return err
	}
	h.admin, err = FreePort()
	return err
}

func (h *Hydra) launchLocked(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx, h.opts.StartTimeout)
	defer cancel()
	repick := h.pickPorts
	if h.proc.run != nil {
		repick = nil
	}
	return h.startRetrying(ctx, repick, func(ctx context.Context) error {
		conf := filepath.Join(h.dir, "hydra.yml")
		if err := os.WriteFile(conf, []byte(h.config()), 0o600); err != nil {
			return fmt.Errorf("localstack: write hydra config: %w", err)
		}
		// --dev allows an http issuer on loopback; SQA_OPT_OUT keeps it from phoning home.
		h.proc.env = append(os.Environ(), "SQA_OPT_OUT=true", "DSN=memory")
		if err := h.proc.start(h.path, "serve", "all", "--dev", "--sqa-opt-out", "--config", conf); err != nil {
			return err
		}
		return h.proc.waitReady(ctx, h.ready)
	})
}

func (h *Hydra) config() string {
	return fmt.Sprintf(`# written by vagt test/localstack
serve:
  public: {host: 127.0.0.1, port: %d}
  admin: {host: 127.0.0.1, port: %d}
urls:
  self: {issuer: "http://127.0.0.1:%d"}
  login: "%s/login"
  consent: "%s/consent"
  error: "%s/error"
secrets:
  system: ["%s"]
oauth2:
  pkce: {enforced_for_public_clients: true}
ttl:
  id_token: %s
  access_token: %s
  login_consent_request: 10m
log: {level: warn}
`, h.public, h.admin, h.public, h.appURL, h.appURL, h.appURL, h.secret, h.opts.IDTokenTTL, h.opts.IDTokenTTL)
}

func (h *Hydra) ready(ctx context.Context) error {
	for _, u := range []string{"http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(h.admin)) + "/health/ready",
		"http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(h.public)) + "/.well-known/openid-configuration"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := h.appClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", u, resp.Status)
		}
	}
	return nil
}

// startApp starts the login and consent app on a free loopback port.
func (h *Hydra) startApp() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("localstack: hydra login app: %w", err)
	}
	h.appURL = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", h.login)
	mux.HandleFunc("GET /consent", h.consent)
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "hydra: "+r.URL.Query().Get("error")+": "+r.URL.Query().Get("error_description"), http.StatusBadRequest)
	})
	h.app = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.app.Serve(ln) }() // ends with Close
	return nil
}

// login accepts or rejects a login request as HydraOptions.Login says; the identity's
// claims travel to the consent step in the accepted request's context.
func (h *Hydra) login(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	q := "?login_challenge=" + url.QueryEscape(challenge)
	var req struct {
		Scope  []string `json:"requested_scope"`
		Client struct {
			ID string `json:"client_id"`
		} `json:"client"`
	}
	if err := h.adminJSON(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/login"+q, nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	var (
		id  HydraIdentity
		err = errors.New("nobody may sign in")
	)
	if h.opts.Login != nil {
		id, err = h.opts.Login(r.Context(), HydraLogin{ClientID: req.Client.ID, Scopes: req.Scope})
	}
	var next struct {
		RedirectTo string `json:"redirect_to"`
	}
	if err != nil {
		err = h.adminJSON(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/login/reject"+q,
			map[string]any{"error": "access_denied", "error_description": err.Error()}, &next)
	} else {
		err = h.adminJSON(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/login/accept"+q,
			map[string]any{"subject": id.Subject, "context": id.Claims}, &next)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, next.RedirectTo, http.StatusFound)
}

// consent grants what the client asked for and puts the login's claims in the ID token.
func (h *Hydra) consent(w http.ResponseWriter, r *http.Request) {
	q := "?consent_challenge=" + url.QueryEscape(r.URL.Query().Get("consent_challenge"))
	var req struct {
		Scope    []string       `json:"requested_scope"`
		Audience []string       `json:"requested_access_token_audience"`
		Context  map[string]any `json:"context"`
	}
	if err := h.adminJSON(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/consent"+q, nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	var next struct {
		RedirectTo string `json:"redirect_to"`
	}
	if err := h.adminJSON(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/consent/accept"+q, map[string]any{
		"grant_scope": req.Scope, "grant_access_token_audience": req.Audience,
		"session": map[string]any{"id_token": req.Context, "access_token": req.Context},
	}, &next); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, next.RedirectTo, http.StatusFound)
}

// adminJSON calls the admin API with a JSON body (nil: none) and decodes the answer.
func (h *Hydra) adminJSON(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(h.admin))+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.appClient.Do(req)
	if err != nil {
		return fmt.Errorf("hydra admin: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("hydra admin %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
