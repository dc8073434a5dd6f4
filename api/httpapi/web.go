package httpapi

import (
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/vagt-dk/vagt/api/web"
)

// pageCSP is the Content-Security-Policy of the web pages: everything comes from this
// origin, no inline script or style, no plugins, no framing, and the pages talk only to
// the API they came from.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// assetTypes are the content types of the files the pages are made of; nothing else is
// served.
var assetTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json; charset=utf-8",
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
