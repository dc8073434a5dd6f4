package web_test

import (
	"bytes"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/httpapi"
)

// TestFavicon: /favicon.ico, which browsers ask for on every page, is an icon from the
// binary (an ICO holding a PNG), not a 404.
func TestFavicon(t *testing.T) {
	h := httpapi.NewHandler(httpapi.Config{Feed: alerts.NewFeed(nil, alerts.FeedOptions{}), Gatherer: prometheus.NewRegistry()})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/favicon.ico", nil))
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/x-icon" {
		t.Fatalf("GET /favicon.ico: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// ICONDIR (reserved 0, type 1 = icon, count), one ICONDIRENTRY, then the image.
	if len(body) < 22 || !bytes.Equal(body[:4], []byte{0, 0, 1, 0}) || body[4] == 0 {
		t.Fatalf("not an ICO file: % x", body[:min(len(body), 22)])
	}
	offset := int(body[18]) | int(body[19])<<8 | int(body[20])<<16 | int(body[21])<<24
	if offset >= len(body) {
		t.Fatalf("image offset %d past the %d bytes", offset, len(body))
	}
	img, err := png.Decode(bytes.NewReader(body[offset:]))
	if err != nil {
		t.Fatalf("the icon's image: %v", err)
	}
	if b := img.Bounds(); b.Dx() != int(body[6]) || b.Dy() != int(body[7]) {
		t.Errorf("image %v, the directory says %dx%d", b, body[6], body[7])
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff")
	}
}
