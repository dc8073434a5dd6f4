package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func testTokens(t *testing.T) *Tokens {
	t.Helper()
	tok, err := ParseTokens(strings.NewReader("# gateways\ngw-good " + HashToken("s3cret") + "\n\ngw-other " + HashToken("other") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func post(t *testing.T, h http.Handler, gw, token, contentType string, body []byte) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/telemetry", bytes.NewReader(body))
	req.SetBasicAuth(gw, token)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if rec.Code != http.StatusNoContent {
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("status %d with a body that is not JSON: %q", rec.Code, rec.Body.String())
		}
	}
	return rec.Code, e.Error.Code
}

func TestTelemetryEndpoint(t *testing.T) {
	w := &fakeWriter{}
	h := newHarness(t, PipelineConfig{}, w)
	ready := func(context.Context) error { return nil }
	srv := routes(h.p, testTokens(t), 256<<10, time.Minute, ready, prometheus.NewRegistry())
	good := batchBytes(t, "gw-good", 1, 3)
	cases := []struct {
		name, gw, token, ctype string
		body                   []byte
		status                 int
		code                   string
	}{
		{"written", "gw-good", "s3cret", "application/cbor", good, http.StatusNoContent, ""},
		{"wrong token", "gw-good", "guess", "application/cbor", good, http.StatusUnauthorized, "unauthorized"},
		{"unknown gateway", "gw-none", "s3cret", "application/cbor", good, http.StatusUnauthorized, "unauthorized"},
		{"not cbor", "gw-good", "s3cret", "application/json", good, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"bad cbor", "gw-good", "s3cret", "application/cbor", []byte{0xa1, 0x00}, http.StatusBadRequest, "malformed"},
		{"spoofed", "gw-other", "other", "application/cbor", good, http.StatusBadRequest, "gateway_mismatch"},
		{"oversized", "gw-good", "s3cret", "application/cbor", make([]byte, 256<<10+1), http.StatusRequestEntityTooLarge, "too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, code := post(t, srv, c.gw, c.token, c.ctype, c.body)
			if status != c.status || code != c.code {
				t.Errorf("got %d %q, want %d %q", status, code, c.status, c.code)
			}
		})
	}
	if got := len(w.stored()); got != 3 {
		t.Errorf("stored %d points, want the 3 of the accepted batch", got)
	}
}

// TestTelemetryEndpointBackpressure: with InfluxDB down and the queue full, a gateway gets
// 503 with Retry-After at once instead of waiting.
func TestTelemetryEndpointBackpressure(t *testing.T) {
	w := &fakeWriter{fail: errors.New("connection refused")}
	h := newHarness(t, PipelineConfig{QueueSize: 1, BatchPoints: 1, Writers: 1, DrainTimeout: time.Millisecond}, w)
	srv := routes(h.p, testTokens(t), 256<<10, time.Minute, func(context.Context) error { return nil }, prometheus.NewRegistry())
	// Fill the pipeline behind the failing writer (queue, one waiting, one writing, one
	// filling). A refusal counts only once it holds after a pause: until the stages behind
	// the queue have taken what they can, the queue frees up again.
	for i, refusedInARow := 0, 0; refusedInARow < 3; i++ {
		if err := h.p.TrySubmit(h.msg(i, "vagt/v1/gw/gw-good/telemetry", batchBytes(t, "gw-good", uint64(i+1), 1))); err != nil {
			refusedInARow++
			time.Sleep(50 * time.Millisecond)
			continue
		}
		refusedInARow = 0
		if i > 100 {
			t.Fatal("the queue never filled")
		}
	}
	// Should the request be taken in after all, it would wait for a write that never comes:
	// a deadline turns that into a failure instead of a hung test.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/telemetry", bytes.NewReader(batchBytes(t, "gw-good", 500, 1)))
	req.SetBasicAuth("gw-good", "s3cret")
	req.Header.Set("Content-Type", "application/cbor")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("got %d (Retry-After %q), want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestTelemetryEndpointWaitBound: while InfluxDB fails, a request that got into the
// pipeline is answered 503 with Retry-After and a JSON error once the wait bound passes,
// instead of waiting for the client to give up. The batch stays in the pipeline and is
// written when InfluxDB is back; the client's resend writes the very same lines again
// (same series, same timestamps), so InfluxDB holds one copy.
func TestTelemetryEndpointWaitBound(t *testing.T) {
	w := &fakeWriter{fail: errors.New("connection refused")}
	h := newHarness(t, PipelineConfig{}, w)
	srv := routes(h.p, testTokens(t), 256<<10, 20*time.Millisecond, func(context.Context) error { return nil }, prometheus.NewRegistry())
	batch := batchBytes(t, "gw-good", 7, 3)
	req := httptest.NewRequest(http.MethodPost, "/v1/telemetry", bytes.NewReader(batch))
	req.SetBasicAuth("gw-good", "s3cret")
	req.Header.Set("Content-Type", "application/cbor")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusServiceUnavailable ||
		rec.Header().Get("Retry-After") != "1" || e.Error.Code != "not_written" {
		t.Fatalf("got %d (Retry-After %q) %s, want 503 not_written with Retry-After 1", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if got := len(w.stored()); got != 0 {
		t.Fatalf("%d points stored while InfluxDB failed", got)
	}
	w.setFail(nil)
	deadline := time.Now().Add(time.Minute)
	for len(w.stored()) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the batch answered 503 was never written after InfluxDB came back")
		}
		time.Sleep(5 * time.Millisecond)
	}
	first := w.stored()
	// The resend goes through a handler with a long bound on the same pipeline: on a loaded
	// machine even a working write can take longer than 20ms, and this is not what is tested.
	patient := routes(h.p, testTokens(t), 256<<10, time.Minute, func(context.Context) error { return nil }, prometheus.NewRegistry())
	if status, code := post(t, patient, "gw-good", "s3cret", "application/cbor", batch); status != http.StatusNoContent {
		t.Fatalf("resend: %d %q, want 204", status, code)
	}
	all := w.stored()
	if len(first) != 3 || len(all) != 6 || strings.Join(all[:3], "\n") != strings.Join(all[3:], "\n") {
		t.Errorf("lines written: %q, want the same 3 twice (one point each in InfluxDB)", all)
	}
}

func TestReadyz(t *testing.T) {
	h := newHarness(t, PipelineConfig{}, &fakeWriter{})
	for _, c := range []struct {
		err  error
		want int
	}{{nil, http.StatusOK}, {errors.New("broker not connected"), http.StatusServiceUnavailable}} {
		srv := routes(h.p, nil, 1, time.Minute, func(context.Context) error { return c.err }, prometheus.NewRegistry())
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != c.want {
			t.Errorf("readyz with %v: %d, want %d", c.err, rec.Code, c.want)
		}
	}
}
