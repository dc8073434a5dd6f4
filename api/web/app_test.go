package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/httpapi"
)

// TestAppShell: the care app's service worker comes with its scope header and this
// release's version in place of the placeholder, and every file it caches for offline is
// served (one missing file would fail the worker's install, and the app would not open
// offline); the manifest is valid JSON with what an installable app needs.
func TestAppShell(t *testing.T) {
	h := httpapi.NewHandler(httpapi.Config{Feed: alerts.NewFeed(nil, alerts.FeedOptions{}), Gatherer: prometheus.NewRegistry()})
	get := func(path string) (*http.Response, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Result(), string(b)
	}
	resp, sw := get("/app/sw.js")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		resp.Header.Get("Service-Worker-Allowed") != "/app" {
		t.Fatalf("GET /app/sw.js: %d %v", resp.StatusCode, resp.Header)
	}
	m := regexp.MustCompile(`const VERSION = "([0-9a-f]{12})"`).FindStringSubmatch(sw)
	if m == nil || strings.Contains(sw, "__VAGT_VERSION__") {
		t.Fatalf("the service worker has no release version: %q", sw[:min(len(sw), 600)])
	}
	list := regexp.MustCompile(`(?s)const SHELL = \[(.*?)\];`).FindStringSubmatch(sw)
	if list == nil {
		t.Fatal("no SHELL list in the service worker")
	}
	files := regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(list[1], -1)
	if len(files) < 10 {
		t.Fatalf("SHELL lists %d files", len(files))
	}
	for _, f := range files {
		if resp, body := get(f[1]); resp.StatusCode != http.StatusOK || body == "" {
			t.Errorf("the service worker caches %s, which answers %d", f[1], resp.StatusCode)
		}
	}
	// Every script the page loads is cached for offline.
	_, page := get("/app")
	for _, src := range regexp.MustCompile(`(?:src|href)="(/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(list[1], `"`+src[1]+`"`) {
			t.Errorf("/app loads %s, which the service worker does not cache", src[1])
		}
	}
	resp, body := get("/app/manifest.webmanifest")
	var mf struct {
		Name     string `json:"name"`
		StartURL string `json:"start_url"`
		Display  string `json:"display"`
		Scope    string `json:"scope"`
		Icons    []struct{ Src, Sizes string }
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/manifest+json" {
		t.Fatalf("GET manifest: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal([]byte(body), &mf); err != nil {
		t.Fatal(err)
	}
	if mf.Name == "" || mf.StartURL != "/app" || mf.Display != "standalone" || mf.Scope != "/app" || len(mf.Icons) < 2 {
		t.Fatalf("manifest %+v", mf)
	}
	for _, ic := range mf.Icons {
		if resp, _ := get(ic.Src); resp.StatusCode != http.StatusOK {
			t.Errorf("icon %s: %d", ic.Src, resp.StatusCode)
		}
	}
}
