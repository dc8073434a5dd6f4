package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt/api/web"
)

// pageCSP is the Content-Security-Policy of the web pages: everything comes from this
// origin, no inline script or style, no plugins, no framing, and the pages talk only to
// the API they came from.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// assetTypes are the content types of the files the pages are made of; nothing else is
// served.
var assetTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json; charset=utf-8",
	".png":  "image/png",
}

// pageHeaders are set on every page and asset.
func pageHeaders(h http.Header, contentType string) {
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	// The pages change with each release and are small: revalidate every time.
	h.Set("Cache-Control", "no-cache")
}

// webPage serves one embedded HTML page (the console at /, the dashboard at /stats).
// The page holds no data: everything personal comes from the API with the user's token.
func (s *server) webPage(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(web.Files, name)
		if err != nil {
			writeError(w, r, s.Logger, fmt.Errorf("web page %s: %w", name, err))
			return
		}
		pageHeaders(w.Header(), assetTypes[".html"])
		_, _ = w.Write(b)
	})
}

// webAsset serves the pages' scripts and style sheets under /assets/{file}, and the
// language catalogues (dir "lang") under /assets/lang/{file}.
func (s *server) webAsset(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "file")
		ctype, ok := assetTypes[path.Ext(name)]
		if !ok || ctype == assetTypes[".html"] || strings.ContainsAny(name, "/\\") {
			writeError(w, r, s.Logger, fmt.Errorf("%w: asset %q", errNotFound, name))
			return
		}
		b, err := fs.ReadFile(web.Files, path.Join(dir, name))
		if err != nil {
			writeError(w, r, s.Logger, fmt.Errorf("%w: asset %q", errNotFound, name))
			return
		}
		pageHeaders(w.Header(), ctype)
		_, _ = w.Write(b)
	})
}

// webIcon serves the embedded icon at /favicon.ico, where browsers ask for it on every
// page (a 404 there is noise in every log and console).
func (s *server) webIcon() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(web.Files, "favicon.ico")
		if err != nil {
			writeError(w, r, s.Logger, fmt.Errorf("web icon: %w", err))
			return
		}
		pageHeaders(w.Header(), "image/x-icon")
		_, _ = w.Write(b)
	})
}

// appVersion names this release's web files: a hash over every embedded file. The care
// app's service worker carries it in its cache name, so a deploy that changes any page,
// script or catalogue changes the worker's bytes, the browser installs the new worker, and
// the old cache is dropped.
var appVersion = sync.OnceValue(func() string {
	h := sha256.New()
	_ = fs.WalkDir(web.Files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web.Files, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
})

// appServiceWorker serves the care app's service worker at /app/sw.js with this release's
// version filled in. Scope /app (the page itself, not only /app/...) needs the
// Service-Worker-Allowed header, as the script lives one level below.
func (s *server) appServiceWorker() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(web.Files, "app-sw.js")
		if err != nil {
			writeError(w, r, s.Logger, fmt.Errorf("service worker: %w", err))
			return
		}
		b = bytes.ReplaceAll(b, []byte("__VAGT_VERSION__"), []byte(appVersion()))
		pageHeaders(w.Header(), assetTypes[".js"])
		w.Header().Set("Service-Worker-Allowed", "/app")
		_, _ = w.Write(b)
	})
}

// appManifest serves the care app's web app manifest.
func (s *server) appManifest() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(web.Files, "app.webmanifest")
		if err != nil {
			writeError(w, r, s.Logger, fmt.Errorf("manifest: %w", err))
			return
		}
		pageHeaders(w.Header(), "application/manifest+json")
		_, _ = w.Write(b)
	})
}
