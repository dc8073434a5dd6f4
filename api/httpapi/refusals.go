package httpapi

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
)

// Failed authentication is throttled per remote address (issue 22, item 5): after
// AuthFailLimit failures within AuthFailWindow, further attempts from that address answer
// 429 with Retry-After until the window ends, before any token or code is looked up.
// Tokens that authenticated within the last hour pass anyway, so colleagues behind the
// same address as a misbehaving client keep their consoles (an alarm must reach staff).
const (
	AuthFailLimit  = 20
	AuthFailWindow = time.Minute
	maxTracked     = 10000 // addresses and tokens remembered; beyond it the oldest go
	goodFor        = time.Hour
)

// guards are the server's authentication throttle, refusal log and their counters.
type guards struct {
	authFails *authThrottle
	refused   *burstLog
	// security counts failed authentications, throttled requests and refusals.
	security *prometheus.CounterVec
}

func (s *server) initGuards() {
	if s.TokenRecheck <= 0 {
		s.TokenRecheck = 30 * time.Second
	}
	s.guards = guards{authFails: newAuthThrottle(s.Logger), refused: &burstLog{seen: map[string]*failWindow{}},
		security: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vagt_api_security_events_total",
			Help: "Failed authentications (auth_failed), requests throttled for them (throttled) and authorisation refusals (refused)."},
			[]string{"event"})}
	if s.Metrics != nil {
		s.Metrics.MustRegister(s.security)
	}
}

// errThrottled is the 429 answer.
var errThrottled = fmt.Errorf("too many failed authentications from this address; try again later")

// remoteHost is the client's address without the port. Behind a reverse proxy this is the
// proxy: X-Forwarded-For is not trusted (anyone can send it), see docs/operations.md.
func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

type failWindow struct {
	start    time.Time
	n        int
	previous int // failures in the window before, reported with the next burst's first line
}

// authThrottle counts failed authentications per remote address and remembers recently
// good tokens (by hash).
type authThrottle struct {
	mu    sync.Mutex
	hosts map[string]*failWindow
	good  map[string]time.Time
	log   *slog.Logger
}

func newAuthThrottle(log *slog.Logger) *authThrottle {
	return &authThrottle{hosts: map[string]*failWindow{}, good: map[string]time.Time{}, log: log}
}

// limited reports whether a request from r's address with tokenHash ("" none) is to be
// answered 429, and for how long.
func (a *authThrottle) limited(r *http.Request, tokenHash string, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t, ok := a.good[tokenHash]; ok && tokenHash != "" && now.Sub(t) < goodFor {
		return 0, false
	}
	e := a.hosts[remoteHost(r)]
	if e == nil || e.n < AuthFailLimit || now.Sub(e.start) >= AuthFailWindow {
		return 0, false
	}
	return e.start.Add(AuthFailWindow).Sub(now), true
}

// succeeded remembers a token that authenticated.
func (a *authThrottle) succeeded(tokenHash string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.good) >= maxTracked {
		for k, t := range a.good {
			if now.Sub(t) >= goodFor || len(a.good) >= maxTracked {
				delete(a.good, k)
			}
		}
	}
	a.good[tokenHash] = now
}

// failed counts a failure from r's address and logs it once per burst: the first failure
// of a window (with the count of the window before), and the start of throttling. The
// token itself is never logged.
func (a *authThrottle) failed(r *http.Request, reason string, now time.Time) {
	host := remoteHost(r)
	a.mu.Lock()
	e := a.hosts[host]
	if e == nil {
		if len(a.hosts) >= maxTracked {
			for k, v := range a.hosts {
				if now.Sub(v.start) >= AuthFailWindow || len(a.hosts) >= maxTracked {
					delete(a.hosts, k)
				}
			}
		}
		e = &failWindow{start: now}
		a.hosts[host] = e
	}
	if now.Sub(e.start) >= AuthFailWindow {
		*e = failWindow{start: now, previous: e.n}
	}
	e.n++
	first, throttle := e.n == 1, e.n == AuthFailLimit
	previous := e.previous
	a.mu.Unlock()
	if first {
		a.log.Warn("api: authentication failed", "remote", host, "method", r.Method, "path", r.URL.Path,
			"reason", reason, "failures_in_previous_window", previous)
	}
	if throttle {
		a.log.Warn("api: throttling authentication", "remote", host, "failures", AuthFailLimit,
			"window", AuthFailWindow, "path", r.URL.Path)
	}
}

func writeThrottled(w http.ResponseWriter, r *http.Request, log *slog.Logger, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusTooManyRequests, errorBody{Error: errorDetail{Code: "too_many_requests", Message: errThrottled.Error()}})
}

// authFailed answers a failed authentication: counted, logged once per burst, 401 (or 503
// when the store could not tell).
func (s *server) authFailed(w http.ResponseWriter, r *http.Request, reason string, err error, now time.Time) {
	if code, _ := status(err); code >= 500 {
		writeError(w, r, s.Logger, err)
		return
	}
	s.security.WithLabelValues("auth_failed").Inc()
	s.authFails.failed(r, reason, now)
	writeError(w, r, s.Logger, fmt.Errorf("%w: %s", api.ErrUnauthenticated, reason))
}

// personalReads are the routes whose GET reads personal data; a refused read is audited,
// under the object named by the prefix and the route's {id}.
var personalReads = map[string]string{
	"/api/v1/alerts/{id}":               "alert/",
	"/api/v1/citizens/{id}":             "citizen/",
	"/api/v1/citizens":                  "citizens",
	"/api/v1/me/data":                   "me/data",
	"/api/v1/homes/{id}/config":         "home/",
	"/api/v1/homes/{id}/config/history": "home/",
	"/api/v1/audit":                     "audit",
}

// burstLog logs a repeated event once per window per key.
type burstLog struct {
	mu   sync.Mutex
	seen map[string]*failWindow
}

// first reports whether key's event is the first of its window, with the count of the
// window before.
func (b *burstLog) first(key string, now time.Time) (bool, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.seen[key]
	if e == nil {
		if len(b.seen) >= maxTracked {
			clear(b.seen)
		}
		e = &failWindow{start: now}
		b.seen[key] = e
	} else if now.Sub(e.start) >= AuthFailWindow {
		*e = failWindow{start: now, previous: e.n}
	}
	e.n++
	return e.n == 1, e.previous
}

// refusalWriter learns from writeError that a 404 was an object outside the caller's
// scope, which the client is not told.
type refusalWriter struct {
	statusWriter
	outOfScope bool
}

// refusals logs authorisation refusals (403: actor, route, object, remote address) once per
// burst per actor and route, and audits every refused read of personal data.
func (s *server) refusals(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &refusalWriter{statusWriter: statusWriter{ResponseWriter: w}}
		next.ServeHTTP(sw, r)
		if sw.code != http.StatusForbidden && !sw.outOfScope {
			return
		}
		s.security.WithLabelValues("refused").Inc()
		p := api.PrincipalFromContext(r.Context())
		route, object := r.URL.Path, r.URL.Path
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
			if prefix, ok := personalReads[route]; ok {
				object = prefix + rc.URLParam("id")
			}
		}
		now := s.Clock.Now()
		if first, previous := s.refused.first(p.Name+" "+r.Method+" "+route, now); first {
			s.Logger.Warn("api: authorisation refused", "actor", p.Name, "role", p.Role, "method", r.Method, "route", route,
				"object", object, "remote", remoteHost(r), "refusals_in_previous_window", previous)
		}
		if _, ok := personalReads[route]; ok && r.Method == http.MethodGet {
			if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: now, Actor: p.Name, Action: "access.refused", Object: object,
				Detail: r.Method + " " + r.URL.Path + " from " + remoteHost(r)}); err != nil {
				s.Logger.Error("api: auditing a refusal failed", "err", err)
			}
		}
	})
}

// auditOnBehalf records each use of a citizen token that the citizen did not obtain
// themselves (issued by an admin or the command line, or by a manager before activation
// codes), naming who issued it.
func (s *server) auditOnBehalf(r *http.Request, p *api.Principal) error {
	if p.Role != api.RoleCitizen || p.IssuedBy == auth.ActivationIssuer || p.IssuedBy == auth.NationalLoginIssuer || p.TokenID == 0 {
		return nil
	}
	issuer := p.IssuedBy
	if issuer == "" {
		issuer = "unknown (issued before activation codes)"
	}
	err := s.Auth.Audit(r.Context(), api.AuditEntry{At: s.Clock.Now(), Actor: p.Name, Action: "token.use",
		Object: fmt.Sprintf("user/%d", p.UserID), Detail: fmt.Sprintf("%s %s with token/%d issued by %s", r.Method, r.URL.Path, p.TokenID, issuer)})
	if err != nil {
		return fmt.Errorf("%w: audit: %w", api.ErrUnavailable, err)
	}
	return nil
}
