package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
)

// The national login (docs/citizen.md): citizens and their relatives sign in with the
// municipality's MitID broker through an OIDC client of their own, separate from the
// staff's, and land on the citizen page /mig. Whether the browser signs in as the citizen
// or as a relative is kept in a cookie beside the login state.
const (
	citizenSignInCookie = "vagt_citizen_signin"
	citizenAsCookie     = "vagt_citizen_as"
	citizenPagePath     = "/mig"
)

// citizenSignInStart is GET /auth/citizen/login[?as=relative].
func (s *server) citizenSignInStart() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		flow, as := s.CitizenSignIn, "citizen"
		if r.URL.Query().Get("as") == "relative" {
			flow, as = s.RelativeSignIn, "relative"
		}
		if flow == nil {
			s.citizenSignInFailed(w, r, fmt.Errorf("%w: the national login is not configured", api.ErrNotFound))
			return
		}
		to, st, err := flow.Start(r.Context(), citizenPagePath)
		if err != nil {
			s.citizenSignInFailed(w, r, providerErr(err))
			return
		}
		setStateCookie(w, r, citizenSignInCookie, st)
		http.SetCookie(w, &http.Cookie{Name: citizenAsCookie, Value: as, Path: "/auth/citizen/", MaxAge: int(signInCookieAge / time.Second),
			HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode})
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, to, http.StatusFound)
	})
}

// citizenSignInCallback is GET /auth/citizen/callback: the broker's answer. A citizen's
// identity must name exactly one citizen; a relative's must hold an active grant. The
// session token goes to the page as staff's does (handOff), never in a URL.
func (s *server) citizenSignInCallback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := readStateCookie(w, r, citizenSignInCookie, "/auth/citizen/")
		as := "citizen"
		if c, e := r.Cookie(citizenAsCookie); e == nil && c.Value == "relative" {
			as = "relative"
		}
		http.SetCookie(w, &http.Cookie{Name: citizenAsCookie, Path: "/auth/citizen/", MaxAge: -1, HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode})
		flow := s.CitizenSignIn
		if as == "relative" {
			flow = s.RelativeSignIn
		}
		if flow == nil || !s.Citizens.configured() {
			s.citizenSignInFailed(w, r, fmt.Errorf("%w: the national login is not configured", api.ErrNotFound))
			return
		}
		if err != nil {
			s.citizenSignInFailed(w, r, err)
			return
		}
		q := r.URL.Query()
		if e := q.Get("error"); e != "" {
			s.citizenSignInFailed(w, r, fmt.Errorf("%w: the identity provider said %q: %s", api.ErrUnauthenticated, e, q.Get("error_description")))
			return
		}
		now := s.Clock.Now()
		p, err := flow.Finish(r.Context(), st, q.Get("state"), q.Get("code"), now)
		if err != nil {
			s.citizenSignInFailed(w, r, providerErr(err))
			return
		}
		exp, err := flow.SessionExpiry(p.Role, now)
		if err != nil {
			s.citizenSignInFailed(w, r, err)
			return
		}
		token, hash, err := auth.NewToken()
		if err != nil {
			s.citizenSignInFailed(w, r, err)
			return
		}
		switch as {
		case "relative":
			_, err = s.Citizens.Logins.IssueRelativeSession(r.Context(), p.Name, hash, exp, now)
		default:
			id, ok := auth.CitizenOf(p)
			if !ok {
				err = fmt.Errorf("%w: the login mapped to no citizen", api.ErrUnauthenticated)
				break
			}
			_, err = s.Citizens.Logins.IssueCitizenSession(r.Context(), id, hash, exp, now)
		}
		if err != nil {
			s.citizenSignInFailed(w, r, err)
			return
		}
		s.handOff(w, token, citizenPagePath)
	})
}

var citizenSignInFailedPage = template.Must(template.New("failed").Parse(`<!doctype html>
<html lang="da"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vagt: login mislykkedes</title></head>
<body><main><h1>Vi kunne ikke logge dig ind</h1>
<p id="reason">{{.Danish}}</p>
<p lang="en">{{.English}}</p>
<p>Ring til kommunens hjemmepleje, hvis du mener, det er en fejl. Der vises ingen oplysninger om nogen.</p>
<p><a href="/mig">Tilbage / Back</a></p></main>
</body></html>
`))

// citizenSignInFailed answers a refused national login with a plain page that names the
// reason and shows nobody's data.
func (s *server) citizenSignInFailed(w http.ResponseWriter, r *http.Request, err error) {
	code, _ := status(err)
	msg := err.Error()
	danish := "Login mislykkedes. Prøv igen."
	switch {
	case strings.Contains(msg, auth.ErrNoCitizen.Error()):
		danish = "Dit login er ikke registreret hos kommunens nødkalds- og velfærdsteknologi. Der er ingen oplysninger at vise."
	case strings.Contains(msg, auth.ErrAmbiguousCitizen.Error()):
		danish = "Dit login passer på mere end én borger i registret. Af hensyn til dit privatliv afviser vi login, indtil kommunen har rettet registret."
	case signInAs(r) == "relative" && errors.Is(err, api.ErrUnauthenticated):
		danish = "Ingen borger har givet dig adgang, eller adgangen er udløbet eller trukket tilbage."
	case code >= 500:
		danish = "Login er ikke tilgængeligt lige nu. Prøv igen senere."
	}
	if code >= 500 {
		s.Logger.Error("national sign-in", "err", err)
		msg = "The sign-in service is not available right now."
	} else {
		// The error never holds the identity claim: only its keyed hash is ever computed.
		s.Logger.Info("national sign-in refused", "err", err, "remote", r.RemoteAddr)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	_ = citizenSignInFailedPage.Execute(w, map[string]string{"Danish": danish, "English": msg})
}

// signInAs says whether this browser is signing in as a citizen or a relative.
func signInAs(r *http.Request) string {
	if c, err := r.Cookie(citizenAsCookie); err == nil {
		return c.Value
	}
	return ""
}

// setStateCookie keeps the login state until the provider sends the browser back.
func setStateCookie(w http.ResponseWriter, r *http.Request, name string, st auth.LoginState) {
	b, _ := json.Marshal(st) // strings only: never fails
	http.SetCookie(w, &http.Cookie{Name: name, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/auth/citizen/",
		MaxAge: int(signInCookieAge / time.Second), HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode})
}

// readStateCookie reads the login state and deletes it: it is used once, whatever happens.
func readStateCookie(w http.ResponseWriter, r *http.Request, name, path string) (auth.LoginState, error) {
	var st auth.LoginState
	c, err := r.Cookie(name)
	if err == nil {
		var b []byte
		if b, err = base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			err = json.Unmarshal(b, &st)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: name, Path: path, MaxAge: -1, HttpOnly: true, Secure: isHTTPS(r), SameSite: http.SameSiteLaxMode})
	if err != nil {
		return st, fmt.Errorf("%w: no sign-in in progress in this browser (or it took over %s); start again", api.ErrInvalid, signInCookieAge)
	}
	return st, nil
}
