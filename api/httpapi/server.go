// Package httpapi is the API's HTTP side: the REST endpoints under /api/v1 (alerts, tokens,
// the audit log), the live alert stream as server-sent events, health and readiness, the
// Prometheus metrics and the OpenAPI document. Handlers are functions returning
// http.Handler; errors become {"error": {"code", "message"}} in one place (errors.go).
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/stats"
)

// AlertStore is what the alert endpoints need: the alerts and their events for the live
// stream.
type AlertStore interface {
	alerts.Service
	alerts.EventLog
}

// AuthStore finds principals by token hash, issues tokens and keeps the audit log.
type AuthStore interface {
	auth.TokenService
	api.AuditService
}

// JWTVerifier checks an identity provider's token (auth.OIDC).
type JWTVerifier interface {
	Verify(ctx context.Context, token string, now time.Time) (*api.Principal, error)
}

// Config is what NewHandler wires together.
type Config struct {
	Alerts   AlertStore
	Auth     AuthStore
	Feed     *alerts.Feed
	OIDC     JWTVerifier // nil: vagt tokens only
	SignIn   SignInFlow  // sign-in with the identity provider (signin.go); nil: not offered
	Clock    api.Clock
	Logger   *slog.Logger
	Gatherer prometheus.Gatherer   // served at /metrics only with MetricsToken; nil: none
	Metrics  prometheus.Registerer // request metrics; nil: none
	// Ready reports whether the API can serve (store reachable, lane connected).
	Ready func(ctx context.Context) error
	// MetricsToken is the bearer token the scraper sends for /metrics on this handler;
	// without it /metrics is not served here: serve MetricsHandler on a listener of its own
	// (api.Config.MetricsListen). The metrics tell who is busy and when.
	MetricsToken string
	// TokenRecheck is how often a long request (the live stream) checks that its vagt
	// token is still valid, and ends when it was revoked or expired; default 30 s.
	TokenRecheck time.Duration
	// StreamWriteTimeout drops a stream client that takes longer than this to accept one
	// write; default 10 s.
	StreamWriteTimeout time.Duration
	// OpenAPI is the API's description (api/openapi.yaml), served at /openapi.yaml.
	OpenAPI []byte
	// StreamKeepAlive is how often an idle stream gets a comment line; default 15 s.
	StreamKeepAlive time.Duration
	// MaxStreams and MaxStreamsPerPrincipal cap the open live streams (429 past them);
	// default DefaultMaxStreams, DefaultMaxStreamsPerPrincipal.
	MaxStreams, MaxStreamsPerPrincipal int
	// Registry serves the registry, citizen export and erasure, by area (registry.go); an
	// area left nil answers 503.
	Registry Registry
	// Stats computes the statistics; nil: they answer 503.
	Stats StatsService
	// StatsRetention is how far back, and how long, a statistics period may reach (every
	// statistics endpoint); default stats.DefaultRetention.
	StatsRetention time.Duration
	// StatsConcurrency is how many statistics computations run at once (the rest wait in
	// line, at most StatsWait, then 503 with Retry-After); defaults DefaultStatsConcurrency
	// and DefaultStatsWait.
	StatsConcurrency int
	StatsWait        time.Duration
	// Telemetry reads a citizen's telemetry and erases it; nil (InfluxDB not configured):
	// the export and erasure answer 503.
	Telemetry TelemetryStore
	// Population gives a municipality's citizens aged 65+ and where the figures come
	// from; nil: the municipalities answer without them.
	Population *stats.Population
	// HomeConfigs serves the homes' care plans; nil: they answer 503.
	HomeConfigs HomeConfigService
	// Night serves night supervision (night.go); nil: it answers 503.
	Night NightService
	// GPS serves trackers, safe zones and alert tracks (gps.go); nil: they answer 503.
	GPS GPSService
	// Citizens serves the citizen page, the national login and relatives' grants, by area
	// (citizen_portal.go); without every area they answer 503.
	Citizens CitizenPortal
	// CitizenSignIn and RelativeSignIn are the national login's flows for citizens and
	// their relatives (citizen_signin.go); nil: not offered.
	CitizenSignIn, RelativeSignIn SignInFlow
	// IdentityKey hashes national identities (auth.IdentityKey); empty: none can be recorded.
	IdentityKey auth.IdentityKey
	// Presence serves take / on my way / arrived / release (presence.go); nil: 503.
	Presence PresenceService
	// Rosters serves the duty rosters and who is on duty (roster.go); nil: they answer 503.
	Rosters RosterStore
	// FHIR hands resolved visits to care-record systems (fhir.go); nil: it answers 503.
	FHIR FHIRService
}

type server struct {
	guards // refusals.go
	Config
	requests *prometheus.CounterVec
	ackDelay *prometheus.HistogramVec // raised → acknowledged, by priority
	streams  *streamLimits
	stats    *statsSlots
}

// NewHandler returns the API's handler.
func NewHandler(c Config) http.Handler {
	if c.Clock == nil {
		c.Clock = api.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.StreamWriteTimeout <= 0 {
		c.StreamWriteTimeout = 10 * time.Second
	}
	if c.StreamKeepAlive <= 0 {
		c.StreamKeepAlive = 15 * time.Second
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if c.MaxStreamsPerPrincipal <= 0 {
		c.MaxStreamsPerPrincipal = DefaultMaxStreamsPerPrincipal
	}
	s := &server{Config: c, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vagt_api_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "code"}),
		ackDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vagt_api_alert_ack_delay_seconds",
			Help:    "Time from an alert being raised to its acknowledgement by staff, by priority.",
			Buckets: []float64{10, 30, 60, 120, 180, 300, 600, 1800, 3600}}, []string{"priority"}),
		streams: newStreamLimits(c.MaxStreams, c.MaxStreamsPerPrincipal),
		stats:   newStatsSlots(c.StatsConcurrency, c.StatsWait)}
	if c.Metrics != nil {
		c.Metrics.MustRegister(s.requests, s.ackDelay, s.streams.refused)
	}

	s.initGuards()
	r := chi.NewRouter()
	r.Use(s.recoverer, s.count, securityHeaders)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) { writeError(w, r, s.Logger, errNotFound) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) { writeError(w, r, s.Logger, errMethod) })
	r.Method(http.MethodGet, "/healthz", health())
	r.Method(http.MethodGet, "/readyz", s.ready())
	r.Method(http.MethodGet, "/openapi.yaml", openAPI(c.OpenAPI))
	r.Method(http.MethodGet, "/", s.webPage("console.html"))
	r.Method(http.MethodGet, "/stats", s.webPage("stats.html"))
	r.Method(http.MethodGet, "/stats/compare", s.webPage("compare.html"))
	r.Method(http.MethodGet, "/careplan", s.webPage("careplan.html"))
	r.Method(http.MethodGet, "/night", s.webPage("night.html"))
	r.Method(http.MethodGet, "/app", s.webPage("app.html"))
	r.Method(http.MethodGet, "/app/sw.js", s.appServiceWorker())
	r.Method(http.MethodGet, "/app/manifest.webmanifest", s.appManifest())
	r.Method(http.MethodGet, "/roster", s.webPage("roster.html"))
	r.Method(http.MethodGet, "/assets/{file}", s.webAsset(""))
	r.Method(http.MethodGet, "/assets/lang/{file}", s.webAsset("lang"))
	r.Method(http.MethodGet, "/gps/osmand/{key}", s.osmand())
	r.Method(http.MethodPost, "/gps/osmand/{key}", s.osmand())
	r.Method(http.MethodGet, "/favicon.ico", s.webIcon())
	if c.Gatherer != nil && c.MetricsToken != "" {
		r.Method(http.MethodGet, "/metrics", s.metricsBehindToken(MetricsHandler(c.Gatherer)))
	}
	r.With(apiHeaders).Method(http.MethodPost, "/api/v1/activate", s.activate())
	r.With(apiHeaders).Method(http.MethodGet, "/auth/config", s.signInConfig())
	r.Method(http.MethodGet, "/auth/login", s.signInStart())
	r.Method(http.MethodGet, "/auth/callback", s.signInCallback())
	r.Method(http.MethodGet, "/mig", s.webPage("mig.html"))
	r.Method(http.MethodGet, "/auth/citizen/login", s.citizenSignInStart())
	r.Method(http.MethodGet, "/auth/citizen/callback", s.citizenSignInCallback())
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(apiHeaders, s.authenticate, s.refusals)
		r.Method(http.MethodGet, "/me", s.me())
		r.Method(http.MethodGet, "/alerts", s.listAlerts())
		r.Method(http.MethodGet, "/alerts/stream", s.stream())
		r.Method(http.MethodGet, "/alerts/{id}", s.getAlert())
		r.Method(http.MethodPost, "/alerts/{id}/ack", s.ackAlert())
		r.Method(http.MethodPost, "/alerts/{id}/resolve", s.resolveAlert())
		r.Method(http.MethodPost, "/alerts/{id}/notes", s.addNote())
		r.Method(http.MethodPost, "/alerts/{id}/take", s.presence(takeStep))
		r.Method(http.MethodPost, "/alerts/{id}/enroute", s.presence(enrouteStep))
		r.Method(http.MethodPost, "/alerts/{id}/arrived", s.presence(arriveStep))
		r.Method(http.MethodPost, "/alerts/{id}/release", s.presence(releaseStep))
		r.Method(http.MethodPost, "/tokens", s.createToken())
		r.Method(http.MethodDelete, "/tokens/{id}", s.revokeToken())
		r.Method(http.MethodGet, "/users/{id}/tokens", s.userTokens())
		r.Method(http.MethodDelete, "/users/{id}/tokens", s.revokeUserTokens())
		r.Method(http.MethodGet, "/audit", s.auditLog())
		r.Method(http.MethodGet, "/municipalities", s.listMunicipalities())
		r.Method(http.MethodGet, "/districts", s.listDistricts())
		r.Method(http.MethodPost, "/districts", s.createDistrict())
		r.Method(http.MethodPatch, "/districts/{id}", s.updateDistrict())
		r.Method(http.MethodDelete, "/districts/{id}", s.deleteDistrict())
		r.Method(http.MethodGet, "/citizens", s.listCitizens())
		r.Method(http.MethodPost, "/citizens", s.createCitizen())
		r.Method(http.MethodGet, "/citizens/{id}", s.getCitizen())
		r.Method(http.MethodDelete, "/citizens/{id}", s.eraseCitizen())
		r.Method(http.MethodPatch, "/citizens/{id}", s.updateCitizen())
		r.Method(http.MethodPost, "/citizens/{id}/activation", s.citizenActivation())
		r.Method(http.MethodGet, "/homes", s.listHomes())
		r.Method(http.MethodPost, "/homes", s.createHome())
		r.Method(http.MethodPatch, "/homes/{id}", s.updateHome())
		r.Method(http.MethodDelete, "/homes/{id}", s.decommissionHome())
		r.Method(http.MethodGet, "/gateways", s.listGateways())
		r.Method(http.MethodPost, "/gateways", s.createGateway())
		r.Method(http.MethodPatch, "/gateways/{id}", s.updateGateway())
		r.Method(http.MethodDelete, "/gateways/{id}", s.decommissionGateway())
		r.Method(http.MethodPost, "/gateways/{id}/credentials", s.rotateGatewayCredentials())
		r.Method(http.MethodGet, "/gateways/{id}/password-file-line", s.gatewayPasswordLine())
		r.Method(http.MethodGet, "/devices", s.listDevices())
		r.Method(http.MethodPost, "/devices", s.createDevice())
		r.Method(http.MethodPost, "/devices/{device}/accept", s.deviceAction(true))
		r.Method(http.MethodPost, "/devices/{device}/remove", s.deviceAction(false))
		r.Method(http.MethodPost, "/devices/{device}/test", s.testMode(true))
		r.Method(http.MethodDelete, "/devices/{device}/test", s.testMode(false))
		r.Method(http.MethodGet, "/stats/adoption", s.adoptionStats())
		r.Method(http.MethodGet, "/stats/alerts", s.alertStats())
		r.Method(http.MethodGet, "/stats/benefits", s.benefitStats())
		r.Method(http.MethodGet, "/stats/compare", s.compareStats())
		r.Method(http.MethodGet, "/me/data", s.myData())
		r.Method(http.MethodGet, "/me/overview", s.myOverview())
		r.Method(http.MethodPost, "/me/erasure", s.myErasure())
		r.Method(http.MethodGet, "/me/relatives", s.myRelatives())
		r.Method(http.MethodPost, "/me/relatives", s.myRelatives())
		r.Method(http.MethodDelete, "/me/relatives/{grant}", s.myRevoke())
		r.Method(http.MethodGet, "/relative/view", s.relativeView())
		r.Method(http.MethodPut, "/citizens/{id}/identity", s.citizenIdentity())
		r.Method(http.MethodPost, "/citizens/{id}/relatives", s.citizenRelatives())
		r.Method(http.MethodDelete, "/citizens/{id}/relatives/{grant}", s.citizenRelatives())
		r.Method(http.MethodGet, "/homes/{id}/config", s.getHomeConfig())
		r.Method(http.MethodPut, "/homes/{id}/config", s.putHomeConfig())
		r.Method(http.MethodGet, "/homes/{id}/config/history", s.homeConfigHistory())
		r.Method(http.MethodPut, "/homes/{id}/absence", s.putAbsence())
		r.Method(http.MethodDelete, "/homes/{id}/absence", s.deleteAbsence())
		r.Method(http.MethodGet, "/careplans", s.carePlanOverview())
		r.Method(http.MethodGet, "/night/board", s.nightBoard())
		r.Method(http.MethodGet, "/homes/{id}/night-checks", s.nightChecks())
		r.Method(http.MethodPost, "/homes/{id}/night-checks", s.recordNightCheck())
		r.Method(http.MethodGet, "/stats/night", s.nightStats())
		r.Method(http.MethodPost, "/homes/{id}/trackers", s.createTracker())
		r.Method(http.MethodGet, "/homes/{id}/safezones", s.getSafeZones())
		r.Method(http.MethodPut, "/homes/{id}/safezones", s.putSafeZones())
		r.Method(http.MethodGet, "/alerts/{id}/track", s.alertTrack())
		r.Method(http.MethodGet, "/districts/{id}/roster", s.getRoster())
		r.Method(http.MethodPut, "/districts/{id}/roster", s.putRoster())
		r.Method(http.MethodGet, "/municipalities/{code}/central-on-call", s.getCentral())
		r.Method(http.MethodPut, "/municipalities/{code}/central-on-call", s.putCentral())
		r.Method(http.MethodGet, "/duty", s.duty())
		r.Method(http.MethodGet, "/fhir/Encounter", s.fhirPull())
		r.Method(http.MethodGet, "/fhir/export", s.fhirExport())
	})
	return r
}

func health() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func (s *server) ready() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Ready != nil {
			if err := s.Ready(r.Context()); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: errorDetail{Code: "not_ready", Message: err.Error()}})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func openAPI(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(doc)
	})
}

// authenticate turns the bearer token into the request's principal. Failures are counted
// per remote address and throttled (refusals.go); expired and revoked tokens get 401.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.Clock.Now()
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		hash := ""
		if ok && token != "" {
			hash = auth.HashToken(token)
		}
		if wait, limited := s.authFails.limited(r, hash, now); limited {
			s.security.WithLabelValues("throttled").Inc()
			writeThrottled(w, r, s.Logger, wait)
			return
		}
		if hash == "" {
			// A browser's first request without a token is not an attack: not counted.
			writeError(w, r, s.Logger, fmt.Errorf("%w: an Authorization: Bearer token is required", api.ErrUnauthenticated))
			return
		}
		var (
			p   *api.Principal
			err error
		)
		if s.OIDC != nil && !strings.HasPrefix(token, auth.TokenPrefix) {
			p, err = s.OIDC.Verify(r.Context(), token, now)
		} else {
			p, err = s.Auth.Principal(r.Context(), hash, now)
		}
		if err != nil {
			s.authFailed(w, r, "token unknown, expired or revoked", err, now)
			return
		}
		s.authFails.succeeded(hash, now)
		if err := s.auditOnBehalf(r, p); err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		ctx := api.WithPrincipal(r.Context(), p)
		if p.TokenID != 0 && strings.HasSuffix(r.URL.Path, "/stream") {
			// A revoked tablet must not keep receiving alerts on a stream it opened before.
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			go s.recheckToken(ctx, cancel, hash)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// recheckToken cancels a long request once its token is revoked or expired.
func (s *server) recheckToken(ctx context.Context, cancel context.CancelFunc, hash string) {
	t := time.NewTicker(s.TokenRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.Clock.Now()
		_, err := s.Auth.Principal(ctx, hash, now)
		if errors.Is(err, api.ErrUnauthenticated) {
			cancel()
			return
		}
		if err == nil {
			// Still good: a reconnect from an address a neighbour got throttled passes.
			s.authFails.succeeded(hash, now)
		}
	}
}

// MetricsHandler serves the Prometheus metrics, for a listener of their own.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// metricsBehindToken answers /metrics only to the scraper's bearer token.
func (s *server) metricsBehindToken(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.MetricsToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeError(w, r, s.Logger, fmt.Errorf("%w: /metrics needs the metrics token", api.ErrUnauthenticated))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) me() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.PrincipalFromContext(r.Context()))
	})
}

// statusWriter remembers the status for the request counter and passes Flush through
// (the stream needs it; http.ResponseController finds it with Unwrap).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.requests.WithLabelValues(route, fmt.Sprint(sw.code)).Inc()
	})
}

func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, r, s.Logger, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// apiHeaders marks every API answer — JSON, CSV and zip exports alike, errors too — as
// not to be cached (it may carry a citizen's personal data, and a shared computer or a
// proxy must not keep it) and not to be sniffed as another type.
func apiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		// API answers are data, never a document to run: nothing may load from them, and
		// no page may frame them.
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// securityHeaders go on every answer — pages, API, /openapi.yaml, 404s: no sniffing, and
// HSTS whenever the answer goes out over HTTPS (served here, or by a proxy that says so).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
