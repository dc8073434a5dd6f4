package security

import (
	"net/http"
	"strings"
	"testing"
)

// /metrics on the api port answers the scraper's token only (issue 22, item 7).
func TestMetricsBehindToken(t *testing.T) {
	w := startWorld(t)
	for token, want := range map[string]int{"": 401, w.tokens["admin"]: 401, "wrong": 401, metricsToken: 200} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, w.base+"/metrics", nil)
		must(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("/metrics with %q: %d, want %d", token, resp.StatusCode, want)
		}
	}
}

// A lost tablet: the admin revokes all of the user's tokens and they stop working at
// once; the revocation is in the audit log (issue 22, item 2).
func TestRevokedTokensRefused(t *testing.T) {
	w := startWorld(t)
	var me struct {
		UserID int64 `json:"user_id"`
	}
	if code := w.call(t, "staff-syd", http.MethodGet, "/api/v1/me", "", &me); code != 200 {
		t.Fatalf("/me: %d", code)
	}
	var out map[string]any
	if code := w.call(t, "admin", http.MethodDelete, "/api/v1/users/"+itoa(me.UserID)+"/tokens", "", &out); code != 200 || out["revoked"] != float64(1) {
		t.Fatalf("revoke all: %d %v", code, out)
	}
	if code := w.call(t, "staff-syd", http.MethodGet, "/api/v1/alerts", "", nil); code != 401 {
		t.Errorf("a revoked token: %d, want 401", code)
	}
	var log struct {
		Entries []struct{ Actor, Action string }
	}
	w.call(t, "admin", http.MethodGet, "/api/v1/audit?object=user/"+itoa(me.UserID), "", &log)
	if len(log.Entries) == 0 || log.Entries[0].Action != "token.revoke_all" || log.Entries[0].Actor != "admin" {
		t.Errorf("audit: %+v", log.Entries)
	}
}

// Security headers beyond the pages: API answers forbid loading anything, /openapi.yaml
// and non-API 404s are not sniffed (issue 22, item 7).
func TestHeadersOnEveryAnswer(t *testing.T) {
	w := startWorld(t)
	_, h, _ := w.do(t, "staff-nord", http.MethodGet, "/api/v1/alerts", "")
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("API answer Content-Security-Policy %q", h.Get("Content-Security-Policy"))
	}
	for _, p := range []string{"/openapi.yaml", "/nope", "/assets/nope.js"} {
		if _, h, _ := w.do(t, "", http.MethodGet, p, ""); h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s without nosniff", p)
		}
	}
}
