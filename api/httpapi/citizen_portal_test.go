package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// The identities the tests sign in with: CPR numbers of nobody real (day 61 does not exist).
const (
	karenCPR = "610150-1234"
	peterCPR = "610175-4321"
	twinCPR  = "610130-1111"
	nobody   = "610199-9999"
)

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type citizenFixture struct {
	hydra   *localstack.Hydra
	who     *identities
	store   *sqlstore.Store
	clock   *api.ManualClock
	url     string
	client  localstack.HydraClient
	citizen *auth.OIDC // the citizen login's verifier
	karen   int64
	alert   int64
	manager string // a manager's vagt token
	logs    *lockedLog
}

func newCitizenFixture(t *testing.T) *citizenFixture {
	t.Helper()
	ctx := t.Context()
	who := &identities{}
	h := stacktest.Hydra(t, localstack.HydraOptions{Login: who.login})
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := api.NewManualClock(time.Now())
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	redirect := srv.URL + "/auth/citizen/callback"
	client, err := h.CreateClient(ctx, localstack.HydraClient{RedirectURIs: []string{redirect, otherRedirect}})
	if err != nil {
		t.Fatal(err)
	}
	key := auth.IdentityKey(bytes.Repeat([]byte("k"), 32))
	flow := func(m auth.ClaimMapper) (*auth.OIDC, *auth.SignIn) {
		o, err := auth.NewOIDC(auth.OIDCConfig{Issuer: h.Issuer(), Audience: client.ID, Client: &http.Client{Timeout: time.Minute}, Mapper: m})
		if err != nil {
			t.Fatal(err)
		}
		s, err := auth.NewSignIn(o, auth.SignInConfig{ClientID: client.ID, RedirectURL: redirect, Scopes: []string{"profile"}, SessionLifetime: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return o, s
	}
	citizenOIDC, citizenFlow := flow(auth.CitizenClaims{Claim: "cpr", Key: key, Registry: store})
	_, relativeFlow := flow(auth.RelativeClaims{Claim: "cpr", Key: key})
	logs := &lockedLog{}
	handler = httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: alerts.NewFeed(store, alerts.FeedOptions{}), Registry: registryOf(store),
		Citizens: httpapi.CitizenPortal{Pages: store, Grants: store, Logins: store}, CitizenSignIn: citizenFlow, RelativeSignIn: relativeFlow, IdentityKey: key,
		Clock: clock, Logger: slog.New(slog.NewTextHandler(logs, nil))})

	f := &citizenFixture{hydra: h, who: who, store: store, clock: clock, url: srv.URL, client: client, citizen: citizenOIDC, logs: logs}
	north, err := store.CreateDistrict(ctx, 766, "Nord")
	if err != nil {
		t.Fatal(err)
	}
	if f.karen, err = store.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen", KeyBoxNote: "nøgleboks 4711", Contacts: []api.Contact{
		{Name: "Peter Jensen", Phone: "+45 11111111", Relation: "søn"}, {Name: "Ole Nabo", Phone: "+45 22222222", Relation: "nabo"}}}); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateHome(ctx, "home-k", north, f.karen); err != nil {
		t.Fatal(err)
	}
	if err := store.RegisterGateway(ctx, "gw-k", "home-k"); err != nil {
		t.Fatal(err)
	}
	if err := store.RegisterDevice(ctx, "pa-k", "gw-k", vagt.TechPersonalAlarm, "halssmykke"); err != nil {
		t.Fatal(err)
	}
	r, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-k", Seq: 1, Municipality: 766, Time: clock.Now(), Device: "pa-k", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.alert = r.Alert.ID
	tok, hash, _ := auth.NewToken()
	if _, err := store.IssueToken(ctx, api.Principal{Name: "mads", Role: api.RoleManager, Municipality: 766}, hash, nil, clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.manager = tok
	f.call(t, tok, "PUT", fmt.Sprintf("/api/v1/citizens/%d/identity", f.karen), `{"identity":"`+karenCPR+`"}`, http.StatusNoContent)
	return f
}

// call does an API request with a bearer token and fails unless it answers want.
func (f *citizenFixture) call(t *testing.T, token, method, path, body string, want int) string {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	return string(b)
}

// signIn walks the national login as a browser does and returns the page it ended on.
func (f *citizenFixture) signIn(t *testing.T, cpr, as string) (*http.Response, string) {
	t.Helper()
	f.who.set(localstack.HydraIdentity{Subject: "mitid-" + cpr, Claims: map[string]any{"cpr": cpr}})
	u := f.url + "/auth/citizen/login"
	if as != "" {
		u += "?as=" + as
	}
	return newBrowser(t).get(t, u)
}

// TestNationalLoginMapsToOneCitizen: the identity claim names exactly one citizen through
// its keyed hash; no match and two matches are refused with a page that shows no data; the
// identity is never stored or logged in clear; a token for another audience is refused.
func TestNationalLoginMapsToOneCitizen(t *testing.T) {
	f := newCitizenFixture(t)
	resp, body := f.signIn(t, "6101501234", "") // the same CPR number without its dash
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("citizen sign-in: %d\n%s", resp.StatusCode, body)
	}
	token, next := handedOff(t, body)
	if next != "/mig" {
		t.Errorf("after sign-in to %q, want /mig", next)
	}
	var page struct {
		Name      string           `json:"name"`
		Alerts    []map[string]any `json:"alerts"`
		AccessLog []api.AuditEntry `json:"access_log"`
	}
	if err := json.Unmarshal([]byte(f.call(t, token, "GET", "/api/v1/me/overview", "", 200)), &page); err != nil {
		t.Fatal(err)
	}
	if page.Name != "Karen Jensen" || len(page.Alerts) != 1 {
		t.Errorf("the citizen's page: %+v", page)
	}
	if acts := actions(page.AccessLog); !strings.Contains(acts, "signin.national") || !strings.Contains(acts, "citizen.view") {
		t.Errorf("access log %s: want the sign-in and the view", acts)
	}

	// No match: a clear page, no token, no data.
	resp, body = f.signIn(t, nobody, "")
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "ikke registreret") ||
		strings.Contains(body, "vagt.token") || strings.Contains(body, "Karen") {
		t.Errorf("no match: %d\n%s", resp.StatusCode, body)
	}
	// Two citizens with one identity: refused.
	twinA, _ := f.store.CreateCitizen(t.Context(), 766, api.Citizen{Name: "Tvilling A"})
	twinB, _ := f.store.CreateCitizen(t.Context(), 766, api.Citizen{Name: "Tvilling B"})
	for _, id := range []int64{twinA, twinB} {
		f.call(t, f.manager, "PUT", fmt.Sprintf("/api/v1/citizens/%d/identity", id), `{"identity":"`+twinCPR+`"}`, http.StatusNoContent)
	}
	resp, body = f.signIn(t, twinCPR, "")
	if resp.StatusCode < 400 || !strings.Contains(body, "mere end én") || strings.Contains(body, "vagt.token") || strings.Contains(body, "Tvilling") {
		t.Errorf("two matches: %d\n%s", resp.StatusCode, body)
	}

	// The identity is held only as a keyed hash, and never logged.
	for _, cpr := range []string{karenCPR, "6101501234", nobody, twinCPR} {
		if strings.Contains(f.logs.String(), cpr) {
			t.Errorf("the log holds %s", cpr)
		}
		m, err := f.store.CitizensByIdentity(t.Context(), cpr)
		if err != nil || len(m) != 0 {
			t.Errorf("the identity %s is stored in clear: %v %v", cpr, m, err)
		}
	}

	// A token the provider issued to another client (audience) is refused.
	other, err := f.hydra.CreateClient(t.Context(), localstack.HydraClient{RedirectURIs: []string{otherRedirect}})
	if err != nil {
		t.Fatal(err)
	}
	f.who.set(localstack.HydraIdentity{Subject: "mitid-k", Claims: map[string]any{"cpr": karenCPR}})
	if _, _, err := f.citizen.VerifyClaims(t.Context(), idToken(t, f.hydra, other.ID), f.client.ID, f.clock.Now()); !errors.Is(err, api.ErrUnauthenticated) {
		t.Errorf("a token for another audience: %v, want unauthenticated (401)", err)
	}
	if _, _, err := f.citizen.VerifyClaims(t.Context(), idToken(t, f.hydra, f.client.ID), f.client.ID, f.clock.Now()); err != nil {
		t.Errorf("a token for the citizen login's own audience: %v", err)
	}
	// An expired session is refused.
	f.clock.Advance(2 * time.Hour)
	f.call(t, token, "GET", "/api/v1/me/overview", "", http.StatusUnauthorized)
}

func actions(log []api.AuditEntry) string {
	var s []string
	for _, e := range log {
		s = append(s, e.Actor+":"+e.Action)
	}
	return strings.Join(s, " ")
}

// TestRelativesByConsent: the citizen grants a named relative on record a part of their
// data; the relative signs in with the national login and sees only that part, never the
// key-box code; a revocation refuses the relative's next request; grant, use and
// revocation are on the citizen's page. A person not a relative on record is refused.
func TestRelativesByConsent(t *testing.T) {
	f := newCitizenFixture(t)
	_, body := f.signIn(t, karenCPR, "")
	karen, _ := handedOff(t, body)
	until := f.clock.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	grant := func(name, parts string) string {
		return fmt.Sprintf(`{"relative_name":%q,"identity":%q,"parts":[%s],"until":%q}`, name, peterCPR, parts, until)
	}
	for name, c := range map[string]struct{ body, phrase string }{
		"a neighbour":      {grant("Ole Nabo", `"alarms"`), "not a relative"},
		"nobody on record": {grant("Fremmed Person", `"alarms"`), "not a relative"},
		"the key-box code": {grant("Peter Jensen", `"alarms","key_box"`), "never the key-box code"},
		"nothing":          {grant("Peter Jensen", ``), "at least one part"},
		"no identity":      {`{"relative_name":"Peter Jensen","parts":["alarms"],"until":"` + until + `"}`, "identity"},
	} {
		if out := f.call(t, karen, "POST", "/api/v1/me/relatives", c.body, http.StatusBadRequest); !strings.Contains(out, c.phrase) {
			t.Errorf("%s: %s, want %q", name, out, c.phrase)
		}
	}
	var g registry.RelativeGrant
	if err := json.Unmarshal([]byte(f.call(t, karen, "POST", "/api/v1/me/relatives", grant("peter jensen", `"alarms"`), http.StatusCreated)), &g); err != nil {
		t.Fatal(err)
	}
	if g.Relation != "søn" || g.Consent != "citizen" || strings.Contains(fmt.Sprint(g), "6101") {
		t.Errorf("grant: %+v", g)
	}

	// Someone without a grant is refused at sign-in.
	if resp, body := f.signIn(t, nobody, "relative"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "vagt.token") {
		t.Errorf("a relative without a grant: %d\n%s", resp.StatusCode, body)
	}
	resp, body := f.signIn(t, peterCPR, "relative")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("relative sign-in: %d\n%s", resp.StatusCode, body)
	}
	peter, _ := handedOff(t, body)
	view := f.call(t, peter, "GET", "/api/v1/relative/view", "", http.StatusOK)
	var vs []httpapi.RelativeView
	if err := json.Unmarshal([]byte(view), &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Citizen != "Karen Jensen" || len(vs[0].Alerts) != 1 || vs[0].Devices != nil {
		t.Errorf("the relative's view (alarms only): %s", view)
	}
	if strings.Contains(view, "4711") || strings.Contains(view, "key_box") || strings.Contains(view, "11111111") {
		t.Errorf("the relative sees more than granted: %s", view)
	}
	// The relative has no business with the citizen's own endpoints.
	f.call(t, peter, "GET", "/api/v1/me/overview", "", http.StatusForbidden)
	f.call(t, peter, "GET", "/api/v1/me/data", "", http.StatusForbidden)

	// Revoked mid-session: the next request is refused.
	f.call(t, karen, "DELETE", fmt.Sprintf("/api/v1/me/relatives/%d", g.ID), "", http.StatusOK)
	if out := f.call(t, peter, "GET", "/api/v1/relative/view", "", http.StatusForbidden); !strings.Contains(out, "revoked") {
		t.Errorf("after revocation: %s", out)
	}
	var page struct {
		AccessLog []api.AuditEntry         `json:"access_log"`
		Relatives []registry.RelativeGrant `json:"relatives"`
	}
	if err := json.Unmarshal([]byte(f.call(t, karen, "GET", "/api/v1/me/overview", "", 200)), &page); err != nil {
		t.Fatal(err)
	}
	acts := actions(page.AccessLog)
	rel := auth.RelativeUser(auth.IdentityKey(bytes.Repeat([]byte("k"), 32)).Hash(peterCPR))
	for _, want := range []string{"citizen-" + fmt.Sprint(f.karen) + ":relative.grant", rel + ":relative.signin", rel + ":citizen.view", "relative.revoke"} {
		if !strings.Contains(acts, want) {
			t.Errorf("the citizen's access log lacks %s: %s", want, acts)
		}
	}
	if len(page.Relatives) != 1 || page.Relatives[0].RevokedAt == nil {
		t.Errorf("grants on the page: %+v", page.Relatives)
	}

	// Staff grant on the citizen's documented consent only.
	staffGrant := fmt.Sprintf(`{"relative_name":"Peter Jensen","identity":%q,"parts":["devices"],"until":%q`, peterCPR, until)
	f.call(t, f.manager, "POST", fmt.Sprintf("/api/v1/citizens/%d/relatives", f.karen), staffGrant+`}`, http.StatusBadRequest)
	f.call(t, f.manager, "POST", fmt.Sprintf("/api/v1/citizens/%d/relatives", f.karen), staffGrant+`,"consent":"samtykke givet mundtligt ved besøg 2/12, journal 88"}`, http.StatusCreated)
	view = f.call(t, peter, "GET", "/api/v1/relative/view", "", http.StatusOK)
	vs = nil
	if err := json.Unmarshal([]byte(view), &vs); err != nil || len(vs) != 1 || vs[0].Alerts != nil || len(vs[0].Devices) != 1 {
		t.Errorf("devices only: %s", view)
	}
}

// TestErasureRequestRefusedWhileAlertOpen: the citizen's request for erasure is refused
// with the reason while an alarm from the home is open, and recorded once it is resolved.
func TestErasureRequestRefusedWhileAlertOpen(t *testing.T) {
	f := newCitizenFixture(t)
	_, body := f.signIn(t, karenCPR, "")
	karen, _ := handedOff(t, body)
	if out := f.call(t, karen, "POST", "/api/v1/me/erasure", "", http.StatusConflict); !strings.Contains(out, "still open") {
		t.Errorf("refusal without the reason: %s", out)
	}
	if _, err := f.store.Resolve(t.Context(), f.alert, "anna", api.Scope{All: true}, alerts.OutcomeVisitedAllWell, "", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.call(t, karen, "POST", "/api/v1/me/erasure", "", http.StatusAccepted)
	log, err := f.store.AuditLog(t.Context(), api.Scope{All: true}, fmt.Sprintf("citizen/%d", f.karen), 0, 50)
	if err != nil || !strings.Contains(actions(log), "erasure.request") {
		t.Errorf("audit: %v %s", err, actions(log))
	}
}
