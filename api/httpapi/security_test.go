package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/httpapi"
)

// metricsToken is what the fixture's scraper sends for /metrics.
const metricsToken = "scrape-secret"

// counter reads a counter of the fixture's registry by its one label's value.
func (f *fixture) counter(t *testing.T, name, label string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func (f *fixture) raw(t *testing.T, token, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// On both SQL stores. // Issue 22 item 2: a token gets its role's default lifetime, no token lives for ever, an
// admin lists a user's tokens without secrets, revokes one or all, re-issues revoking the
// older; revoked and expired tokens get 401; all of it is audited.
func TestTokenLifecycle(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		f := newFixtureDB(t, 8, dsn)
		code, body := f.do(t, "admin", "POST", "/api/v1/tokens", `{"name":"nina","role":"staff","municipality":766,"note":"tablet 3"}`)
		if code != 201 {
			t.Fatalf("create: %d %v", code, body)
		}
		exp, _ := time.Parse(time.RFC3339Nano, body["expires_at"].(string))
		if !exp.Equal(t0.Add(12 * time.Hour)) {
			t.Errorf("staff token without a lifetime expires %v, want the staff default %v", exp, t0.Add(12*time.Hour))
		}
		tablet := body["token"].(string)
		user := int64(body["principal"].(map[string]any)["user_id"].(float64))
		if code, body := f.do(t, "admin", "POST", "/api/v1/tokens", `{"name":"root2","role":"admin","expires_in_hours":48}`); code != 400 {
			t.Errorf("a 48-hour admin token: %d %v, want 400", code, body)
		}
		_, body = f.do(t, "admin", "POST", "/api/v1/tokens", `{"name":"nina","role":"staff","municipality":766,"note":"phone"}`)
		phone := body["token"].(string)
		f.tokens["tablet"], f.tokens["phone"] = tablet, phone

		code, body = f.do(t, "admin", "GET", fmt.Sprintf("/api/v1/users/%d/tokens", user), "")
		list, _ := body["tokens"].([]any)
		if code != 200 || len(list) != 2 {
			t.Fatalf("list: %d %v", code, body)
		}
		b, _ := json.Marshal(body)
		for _, secret := range []string{tablet, phone, auth.HashToken(tablet), auth.HashToken(phone)} {
			if strings.Contains(string(b), secret) {
				t.Fatalf("the listing shows a token or its hash: %s", b)
			}
		}
		tabletID := list[1].(map[string]any)["id"].(float64)
		if list[1].(map[string]any)["note"] != "tablet 3" || list[1].(map[string]any)["issued_by"] != "admin" {
			t.Errorf("listing %v", list[1])
		}
		if code, _ := f.do(t, "anna", "GET", fmt.Sprintf("/api/v1/users/%d/tokens", user), ""); code != 403 {
			t.Errorf("staff listing tokens: %d", code)
		}
		// The tablet is lost: revoke its token; the phone's still works.
		if code, body := f.do(t, "admin", "DELETE", fmt.Sprintf("/api/v1/tokens/%d", int64(tabletID)), ""); code != 200 || body["revoked_at"] == nil {
			t.Fatalf("revoke: %d %v", code, body)
		}
		if code, _ := f.do(t, "tablet", "GET", "/api/v1/me", ""); code != 401 {
			t.Errorf("revoked token: %d, want 401", code)
		}
		if code, _ := f.do(t, "phone", "GET", "/api/v1/me", ""); code != 200 {
			t.Errorf("the other token: %d, want 200", code)
		}
		// Re-issue revoking the older ones.
		_, body = f.do(t, "admin", "POST", "/api/v1/tokens", `{"name":"nina","role":"staff","municipality":766,"revoke_older":true}`)
		f.tokens["fresh"] = body["token"].(string)
		if code, _ := f.do(t, "phone", "GET", "/api/v1/me", ""); code != 401 {
			t.Errorf("older token after a re-issue with revoke_older: %d, want 401", code)
		}
		if code, _ := f.do(t, "fresh", "GET", "/api/v1/me", ""); code != 200 {
			t.Errorf("re-issued token: %d", code)
		}
		// All of a user's.
		if code, body := f.do(t, "admin", "DELETE", fmt.Sprintf("/api/v1/users/%d/tokens", user), ""); code != 200 || body["revoked"] != float64(1) {
			t.Fatalf("revoke all: %d %v", code, body)
		}
		if code, _ := f.do(t, "fresh", "GET", "/api/v1/me", ""); code != 401 {
			t.Errorf("after revoking all: %d, want 401", code)
		}
		_, body = f.do(t, "admin", "GET", fmt.Sprintf("/api/v1/audit?object=user/%d", user), "")
		var actions []string
		for _, e := range body["entries"].([]any) {
			actions = append(actions, e.(map[string]any)["action"].(string))
		}
		if got := strings.Join(actions, " "); got != "token.revoke_all token.create token.revoke_all token.revoke token.list token.create token.create" {
			t.Errorf("audit of user/%d: %s", user, got)
		}
	})
}

// An expired token gets 401.
func TestExpiredToken(t *testing.T) {
	f := newFixture(t)
	tok, hash, _ := auth.NewToken()
	exp := t0.Add(-time.Second)
	if _, err := f.store.IssueToken(t.Context(), api.Principal{Name: "old", Role: api.RoleStaff, Municipality: 766}, hash, &exp, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if code, _ := f.do(t, tok, "GET", "/api/v1/me", ""); code != 401 {
		t.Errorf("expired token: %d, want 401", code)
	}
}

// Issue 22 item 4: a manager gets a one-time activation code, never a citizen's token; the
// citizen exchanges it once for a token of their own; a citizen token someone else
// issued is audited at each use with its issuer.
func TestCitizenActivation(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		f := newFixtureDB(t, 8, dsn)
		cit := int64(1) // Karen Jensen, the fixture's citizen
		code, body := f.do(t, "mads", "POST", fmt.Sprintf("/api/v1/citizens/%d/activation", cit), "")
		if code != 201 {
			t.Fatalf("activation: %d %v", code, body)
		}
		if _, ok := body["token"]; ok {
			t.Fatalf("the manager got a token: %v", body)
		}
		ac, _ := body["activation_code"].(string)
		if len(ac) != 14 {
			t.Fatalf("activation code %q", ac)
		}
		if code, _ := f.do(t, "mads", "POST", fmt.Sprintf("/api/v1/citizens/%d/token", cit), ""); code != 404 {
			t.Errorf("the old citizen token route: %d, want 404", code)
		}
		resp, b := f.raw(t, "", "POST", "/api/v1/activate", `{"code":"`+strings.ToLower(ac)+`"}`)
		var got struct {
			Token     string
			Principal api.Principal
		}
		_ = json.Unmarshal(b, &got)
		if resp.StatusCode != 201 || got.Principal.Role != api.RoleCitizen || got.Token == "" {
			t.Fatalf("activate: %d %s", resp.StatusCode, b)
		}
		if resp, b := f.raw(t, "", "POST", "/api/v1/activate", `{"code":"`+ac+`"}`); resp.StatusCode != 401 {
			t.Errorf("second use of the code: %d %s", resp.StatusCode, b)
		}
		f.tokens["karen"] = got.Token
		if code, body := f.do(t, "karen", "GET", "/api/v1/me", ""); code != 200 || body["name"] != fmt.Sprintf("citizen-%d", cit) {
			t.Errorf("/me with the activated token: %d %v", code, body)
		}
		// The activated token's uses are the citizen's own: no token.use rows. A citizen
		// token an admin issued is audited at every use, naming the admin.
		_, body = f.do(t, "admin", "POST", "/api/v1/tokens", `{"name":"citizen-x","role":"citizen","municipality":766}`)
		f.tokens["onbehalf"] = body["token"].(string)
		f.do(t, "onbehalf", "GET", "/api/v1/me", "")
		f.do(t, "onbehalf", "GET", "/api/v1/me", "")
		_, body = f.do(t, "admin", "GET", "/api/v1/audit", "")
		uses := 0
		for _, e := range body["entries"].([]any) {
			e := e.(map[string]any)
			if e["action"] == "token.use" {
				uses++
				if e["actor"] != "citizen-x" || !strings.Contains(e["detail"].(string), "issued by admin") {
					t.Errorf("token.use entry %v", e)
				}
			}
		}
		if uses != 2 {
			t.Errorf("%d token.use entries, want 2 (the activated token's uses are not on anyone's behalf)", uses)
		}
		// Staff cannot get a code; a manager of another municipality gets the same answer as
		// for a citizen that does not exist.
		if code, _ := f.do(t, "anna", "POST", fmt.Sprintf("/api/v1/citizens/%d/activation", cit), ""); code != 403 {
			t.Errorf("staff activation: %d", code)
		}
	})
}

// Issue 22 item 5: failed authentications are logged once per burst (never the token)
// and throttled per remote address with 429 and Retry-After; a token that worked before
// still works from that address.
func TestFailedAuthenticationThrottled(t *testing.T) {
	f := newFixture(t)
	if code, _ := f.do(t, "anna", "GET", "/api/v1/me", ""); code != 200 {
		t.Fatal(code)
	}
	wrong := "vagt_wrong-token-for-the-test"
	var last *http.Response
	codes := map[int]int{}
	for range 30 {
		last, _ = f.raw(t, wrong, "GET", "/api/v1/alerts", "")
		codes[last.StatusCode]++
	}
	if codes[401] != 20 || codes[429] != 10 {
		t.Errorf("30 wrong tokens: %v, want 20 × 401 and 10 × 429", codes)
	}
	if ra := last.Header.Get("Retry-After"); ra != "60" {
		t.Errorf("Retry-After %q, want 60 (the window, on a clock that does not move)", ra)
	}
	if resp, _ := f.raw(t, "", "POST", "/api/v1/activate", `{"code":"AAAA-BBBB-CCCC"}`); resp.StatusCode != 429 {
		t.Errorf("an activation code from the throttled address: %d, want 429", resp.StatusCode)
	}
	if code, _ := f.do(t, "anna", "GET", "/api/v1/me", ""); code != 200 {
		t.Errorf("a known good token from the throttled address: %d, want 200", code)
	}
	if got := f.counter(t, "vagt_api_security_events_total", "auth_failed"); got != 20 {
		t.Errorf("auth_failed counted %v, want 20", got)
	}
	if got := f.counter(t, "vagt_api_security_events_total", "throttled"); got != 11 {
		t.Errorf("throttled counted %v, want 11", got)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "authentication failed"); n != 1 {
		t.Errorf("%d log lines for one burst of failures, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs, "throttling authentication") || !strings.Contains(logs, "remote=127.0.0.1") {
		t.Errorf("log:\n%s", logs)
	}
	if strings.Contains(logs, wrong) || strings.Contains(logs, auth.HashToken(wrong)) {
		t.Errorf("the token is in the log:\n%s", logs)
	}
}

// Issue 22 item 5: a refused read of personal data is in the audit log and logged once
// per burst (actor, route, object, remote address).
func TestRefusalsLoggedAndAudited(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		f := newFixtureDB(t, 8, dsn)
		path := fmt.Sprintf("/api/v1/alerts/%d", f.alert)
		for range 3 {
			if code, _ := f.do(t, "sara", "GET", path, ""); code != 404 {
				t.Fatalf("sara reading an alert of another district: %d, want 404 (as a missing one)", code)
			}
		}
		_, body := f.do(t, "admin", "GET", "/api/v1/audit?object="+fmt.Sprintf("alert/%d", f.alert), "")
		refused := 0
		for _, e := range body["entries"].([]any) {
			e := e.(map[string]any)
			if e["action"] == "access.refused" && e["actor"] == "sara" {
				refused++
			}
		}
		if refused != 3 {
			t.Errorf("%d access.refused entries, want 3: %v", refused, body)
		}
		logs := f.logs.String()
		if n := strings.Count(logs, "authorisation refused"); n != 1 {
			t.Errorf("%d log lines for a burst of 3 refusals, want 1:\n%s", n, logs)
		}
		for _, want := range []string{"actor=sara", "route=/api/v1/alerts/{id}", fmt.Sprintf("object=alert/%d", f.alert), "remote=127.0.0.1"} {
			if !strings.Contains(logs, want) {
				t.Errorf("refusal log lacks %s:\n%s", want, logs)
			}
		}
	})
}

// Issue 22 item 7: an id outside the caller's scope and one that does not exist answer
// alike, and no answer names another municipality.
func TestRefusalsRevealNothing(t *testing.T) {
	f := newFixture(t)
	other, err := f.store.CreateDistrict(t.Context(), 751, "Aarhus Midt")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ user, method, out, missing, body string }{
		{"sara", "GET", fmt.Sprintf("/api/v1/alerts/%d", f.alert), "/api/v1/alerts/99999", ""},
		{"mads", "PATCH", fmt.Sprintf("/api/v1/districts/%d", other), "/api/v1/districts/99999", `{"name":"x"}`},
		{"anna", "GET", "/api/v1/homes/home-1/config", "/api/v1/homes/home-nope/config", ""},
	} {
		r1, b1 := f.raw(t, f.tokens[c.user], c.method, c.out, c.body)
		r2, b2 := f.raw(t, f.tokens[c.user], c.method, c.missing, c.body)
		if c.user == "anna" { // anna may read home-1: compare a home of 751 instead
			continue
		}
		if r1.StatusCode != r2.StatusCode || string(b1) != string(b2) {
			t.Errorf("%s %s: out of scope %d %s, missing %d %s: want alike", c.user, c.method, r1.StatusCode, b1, r2.StatusCode, b2)
		}
		if strings.Contains(string(b1), "751") {
			t.Errorf("%s %s names municipality 751: %s", c.method, c.out, b1)
		}
	}
}

// Issue 22 item 7: security headers on API answers, /openapi.yaml and 404s; /metrics only
// to the metrics token.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.raw(t, f.tokens["anna"], "GET", "/api/v1/alerts", "")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("API JSON Content-Security-Policy %q", csp)
	}
	for _, p := range []string{"/openapi.yaml", "/no/such/page", "/api/v1/nope"} {
		resp, _ := f.raw(t, "", "GET", p, "")
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d without nosniff", p, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", f.url+"/openapi.yaml", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS on /openapi.yaml served over HTTPS")
	}
	for token, want := range map[string]int{"": 401, f.tokens["admin"]: 401, metricsToken: 200} {
		if resp, _ := f.raw(t, token, "GET", "/metrics", ""); resp.StatusCode != want {
			t.Errorf("/metrics with token %q: %d, want %d", token, resp.StatusCode, want)
		}
	}
}

// A live stream opened before its token was revoked ends (issue 22, item 2).
func TestStreamEndsWhenTokenRevoked(t *testing.T) {
	f := newFixture(t)
	_, body := f.do(t, "admin", "POST", "/api/v1/tokens", `{"name":"tablet","role":"staff","municipality":766}`)
	tok := body["token"].(string)
	id := int64(body["principal"].(map[string]any)["token_id"].(float64))
	req, _ := http.NewRequest("GET", f.url+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, resp)
	}
	defer resp.Body.Close()
	if code, _ := f.do(t, "admin", "DELETE", fmt.Sprintf("/api/v1/tokens/%d", id), ""); code != 200 {
		t.Fatal(code)
	}
	ended := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); ended <- err }()
	select {
	case <-ended:
	case <-time.After(time.Minute):
		t.Fatal("the stream of a revoked token is still open")
	}
}

// A console's stream stays open for hours with no other request; its token is re-checked
// every TokenRecheck. When the stream drops and the console reconnects while a misbehaving
// client behind the same address has the address throttled, the console's token is one that
// works: it must pass, or alarms reach that console only after the throttle's window.
func TestOpenStreamKeepsTokenGoodForThrottle(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest("GET", f.url+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens["anna"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, resp)
	}
	defer resp.Body.Close()
	f.clock.Advance(2 * time.Hour) // the stream open, nothing else asked meanwhile
	for range httpapi.AuthFailLimit {
		f.raw(t, "vagt_wrong-token-for-the-test", "GET", "/api/v1/alerts", "")
	}
	code := 0
	for range 200 { // the re-check runs every 50 ms in the fixture
		if code, _ = f.do(t, "anna", "GET", "/api/v1/me", ""); code == 200 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code != 200 {
		t.Errorf("the token of an open stream from the throttled address: %d, want 200", code)
	}
}
