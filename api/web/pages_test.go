package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/httpapi"
)

// TestPagesAndAssets: the pages and their scripts come with a strict Content-Security-
// Policy and their own content types; nothing else of the embedded files (or beyond) is
// served, and the API's own routes are untouched.
func TestPagesAndAssets(t *testing.T) {
	h := httpapi.NewHandler(httpapi.Config{Feed: alerts.NewFeed(nil, alerts.FeedOptions{}), Gatherer: prometheus.NewRegistry()})
	get := func(path string) *http.Response {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Result()
	}
	for path, ctype := range map[string]string{
		"/":                  "text/html; charset=utf-8",
		"/stats":             "text/html; charset=utf-8",
		"/mig":               "text/html; charset=utf-8",
		"/assets/mig.js":     "text/javascript; charset=utf-8",
		"/assets/console.js": "text/javascript; charset=utf-8",
		"/assets/common.js":  "text/javascript; charset=utf-8",
		"/assets/charts.js":  "text/javascript; charset=utf-8",
		"/assets/stats.js":   "text/javascript; charset=utf-8",
		"/assets/vagt.css":   "text/css; charset=utf-8",
		"/assets/i18n.js":    "text/javascript; charset=utf-8",
		"/assets/format.js":  "text/javascript; charset=utf-8",
		// The language catalogues (docs/i18n.md).
		"/assets/lang/da.json": "application/json; charset=utf-8",
		"/assets/lang/en.json": "application/json; charset=utf-8",
	} {
		resp := get(path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ctype || len(body) == 0 {
			t.Errorf("GET %s: %d %q (%d bytes)", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP %q allows unsafe sources", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
		if strings.HasSuffix(ctype, "html; charset=utf-8") && (strings.Contains(string(body), "<script>") || strings.Contains(string(body), " style=")) {
			t.Errorf("GET %s: inline script or style (the CSP would block it)", path)
		}
	}
	for _, path := range []string{"/assets/console.html", "/assets/web.go", "/assets/..%2fweb.go", "/assets/nope.js", "/assets/",
		"/assets/lang/web.go", "/assets/lang/console.js", "/assets/lang/xx.json", "/assets/lang/..%2fweb.go", "/assets/lang/"} {
		if resp := get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp := get("/api/v1/alerts"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/alerts without a token: %d", resp.StatusCode)
	}
}
