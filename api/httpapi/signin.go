package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
)

// SignInFlow is the OIDC authorization code flow (auth.SignIn).
type SignInFlow interface {
	Start(ctx context.Context, next string) (string, auth.LoginState, error)
	Finish(ctx context.Context, st auth.LoginState, state, code string, now time.Time) (*api.Principal, error)
	SessionExpiry(role api.Role, now time.Time) (time.Time, error)
}

// signInCookie carries the login state from /auth/login to /auth/callback. It holds no
// secret of anyone else's: the PKCE verifier only helps the browser that holds it, and
// the callback matches the state against it (login CSRF).
const (
	signInCookie    = "vagt_signin"
	signInCookieAge = 10 * time.Minute
)

// signInConfig is GET /auth/config: whether the pages offer sign-in with the provider.
func (s *server) signInConfig() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"oidc": s.SignIn != nil})
	})
}

// signInStart is GET /auth/login?next=/path: off to the identity provider with a fresh
// state, nonce and PKCE challenge. next must be a path on this site.
func (s *server) signInStart() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.SignIn == nil {
			s.signInFailed(w, r, "/", fmt.Errorf("%w: sign-in with an identity provider is not configured", api.ErrNotFound))
			return
		}
		to, st, err := s.SignIn.Start(r.Context(), r.URL.Query().Get("next"))
		if err != nil {
			s.signInFailed(w, r, "/", providerErr(err))
			return
		}
		b, err := json.Marshal(st)
		if err != nil {
			s.signInFailed(w, r, "/", err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/auth/",
			MaxAge: int(signInCookieAge / time.Second), HttpOnly: true, Secure: isHTTPS(r),
			// Lax: the provider sends the browser back with a top-level GET from its site.
			SameSite: http.SameSiteLaxMode})
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, to, http.StatusFound)
	})
}

// signInCallback is GET /auth/callback: the provider's answer. The code is exchanged, the
// ID token checked, its claims mapped to a principal, and the platform's own session token
// issued and handed to the page without ever being in a URL.
func (s *server) signInCallback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.SignIn == nil {
			s.signInFailed(w, r, "/", fmt.Errorf("%w: sign-in with an identity provider is not configured", api.ErrNotFound))
			return
		}
		var st auth.LoginState
		c, err := r.Cookie(signInCookie)
		if err == nil {
			var b []byte
			if b, err = base64.RawURLEncoding.DecodeString(c.Value); err == nil {
				err = json.Unmarshal(b, &st)
			}
		}
		// The state is used once, whatever happens next.
		http.SetCookie(w, &http.Cookie{Name: signInCookie, Path: "/auth/", MaxAge: -1, HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode})
		if err != nil {
			s.signInFailed(w, r, "/", fmt.Errorf("%w: no sign-in in progress in this browser (or it took over %s); start again", api.ErrInvalid, signInCookieAge))
			return
		}
		next, err := auth.LocalPath(st.Next)
		if err != nil {
			next = "/"
		}
		q := r.URL.Query()
		if e := q.Get("error"); e != "" {
			// The user cancelled, or the provider refused: say so, in its words.
			s.signInFailed(w, r, next, fmt.Errorf("%w: the identity provider said %q: %s", api.ErrUnauthenticated, e, q.Get("error_description")))
			return
		}
		now := s.Clock.Now()
		p, err := s.SignIn.Finish(r.Context(), st, q.Get("state"), q.Get("code"), now)
		if err != nil {
			s.signInFailed(w, r, next, providerErr(err))
			return
		}
		exp, err := s.SignIn.SessionExpiry(p.Role, now)
		if err != nil {
			s.signInFailed(w, r, next, err)
			return
		}
		token, hash, err := auth.NewToken()
		if err != nil {
			s.signInFailed(w, r, next, err)
			return
		}
		issued, err := s.Auth.IssueTokenWith(r.Context(), *p, hash, &exp, now, auth.IssueOptions{IssuedBy: auth.OIDCIssuer, Note: "sign-in"})
		if err != nil {
			s.signInFailed(w, r, next, err)
			return
		}
		if err := s.Auth.Audit(r.Context(), api.AuditEntry{At: now, Actor: issued.Name, Action: "signin.oidc",
			Object: fmt.Sprintf("user/%d", issued.UserID), Detail: fmt.Sprintf("%s token/%d until %s", issued.Role, issued.TokenID, exp.UTC().Format(time.RFC3339))}); err != nil {
			s.signInFailed(w, r, next, fmt.Errorf("%w: audit: %w", api.ErrUnavailable, err))
			return
		}
		s.handOff(w, token, next)
	})
}

// providerErr makes an unreachable identity provider a 503, not the user's fault.
func providerErr(err error) error {
	if errors.Is(err, auth.ErrIdentityProvider) {
		return fmt.Errorf("%w: %w", api.ErrUnavailable, err)
	}
	return err
}

// handOffPage writes the session token where the pages look for it (common.js: this tab's
// sessionStorage, "vagt.token"), marks the session as signed in with the provider (so a
// stale one signs in again by itself) and goes on to next. The token never appears in a
// URL, so no access log, history or Referer holds it.
var handOffPage = template.Must(template.New("handoff").Parse(`<!doctype html>
<html lang="da"><head><meta charset="utf-8"><title>vagt</title></head>
<body><p>Logger ind … / Signing in …</p>
<script nonce="{{.Nonce}}">
sessionStorage.setItem("vagt.token", {{.Token}});
sessionStorage.setItem("vagt.signin", "oidc");
location.replace({{.Next}});
</script>
<noscript>JavaScript is needed to finish signing in.</noscript>
</body></html>
`))

func (s *server) handOff(w http.ResponseWriter, token, next string) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	n := base64.RawStdEncoding.EncodeToString(nonce)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+n+"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.WriteHeader(http.StatusOK)
	if err := handOffPage.Execute(w, map[string]string{"Nonce": n, "Token": token, "Next": next}); err != nil {
		s.Logger.Warn("sign-in hand-off page", "err", err)
	}
}

var signInFailedPage = template.Must(template.New("failed").Parse(`<!doctype html>
<html lang="da"><head><meta charset="utf-8"><title>vagt: login mislykkedes</title></head>
<body><h1>Login mislykkedes / Sign-in failed</h1>
<p>{{.Message}}</p>
<p><a href="{{.Again}}">Prøv igen / Try again</a></p>
</body></html>
`))

// signInFailed answers a failed sign-in with a page a person can read (the browser is
// mid-redirect, not a script), with the status the error maps to and a way to try again.
func (s *server) signInFailed(w http.ResponseWriter, r *http.Request, next string, err error) {
	code, _ := status(err)
	msg := err.Error()
	if code >= 500 {
		s.Logger.Error("sign-in", "err", err)
		msg = "The sign-in service is not available right now."
		if !errors.Is(err, api.ErrUnavailable) {
			msg = "Something went wrong on our side."
		}
	} else {
		s.Logger.Info("sign-in refused", "err", err, "remote", r.RemoteAddr)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	again := "/auth/login?next=" + template.URLQueryEscaper(next)
	if s.SignIn == nil {
		again = "/"
	}
	_ = signInFailedPage.Execute(w, map[string]string{"Message": msg, "Again": again})
}

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}
