package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vagt-dk/vagt"
)

// routes returns ingest's HTTP handler: the telemetry endpoint (when tokens is not nil),
// health, readiness and metrics.
func routes(p *Pipeline, tokens *Tokens, maxBody int64, wait time.Duration, ready func(context.Context) error, gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	if tokens != nil {
		mux.Handle("POST /v1/telemetry", handleTelemetry(p, tokens, maxBody, wait))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, err.Error()+"\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	return mux
}

// handleTelemetry takes a CBOR batch from an authenticated gateway and answers only after
// its points were written: 204, or 400 with the reason, 401, 413, 415, 503 with Retry-After
// (backpressure, shutting down, or not written within wait), 502 when InfluxDB refused the
// points.
//
// A 503 after wait acknowledges nothing: the batch stays in the pipeline and may still be
// written, and the client sends it again. That second write cannot add a copy, because a
// point is its series (measurement and tags, all from the batch) and its timestamp (the
// reading's), so writing it again overwrites it with the same value.
func handleTelemetry(p *Pipeline, tokens *Tokens, maxBody int64, wait time.Duration) http.Handler {
	retryAfter := strconv.Itoa(int(max(time.Second, wait).Round(time.Second) / time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, token, ok := r.BasicAuth()
		gw := vagt.GatewayID(user)
		if !ok || !tokens.Check(gw, token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="vagt-ingest"`)
			p.refuseHTTP(w, r, http.StatusUnauthorized, "unauthorized", "gateway id and token do not match")
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/cbor" {
			p.refuseHTTP(w, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "want Content-Type: application/cbor")
			return
		}
		if r.ContentLength > maxBody {
			p.refuseHTTP(w, r, http.StatusRequestEntityTooLarge, "too_large", "the body is larger than a batch may be")
			return
		}
		// Take the body's bytes from the pipeline's budget before reading it: many large
		// bodies at once are refused here, not read into memory first.
		reserve := maxBody
		if r.ContentLength >= 0 {
			reserve = r.ContentLength
		}
		if !p.reserve(reserve) {
			w.Header().Set("Retry-After", "1")
			p.refuseHTTP(w, r, http.StatusServiceUnavailable, "over_memory", "ingest holds as many bytes as it may; send the batch again")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, reserve))
		if err != nil {
			p.release(reserve)
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				p.refuseHTTP(w, r, http.StatusRequestEntityTooLarge, "too_large", "the body is larger than a batch may be")
				return
			}
			p.refuseHTTP(w, r, http.StatusBadRequest, "bad_body", err.Error())
			return
		}
		result := make(chan error, 1) // Done may come after we answered: it must not block
		err = p.TrySubmit(Message{Gateway: gw, Lane: vagt.LaneTelemetry, Payload: body, Done: func(err error) { result <- err }, reserved: reserve})
		if err != nil {
			w.Header().Set("Retry-After", "1")
			p.refuseHTTP(w, r, http.StatusServiceUnavailable, "unavailable", err.Error())
			return
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case err := <-result:
			switch reason := vagt.Reason(err); {
			case err == nil:
				w.WriteHeader(http.StatusNoContent)
			case reason != "other":
				httpError(w, http.StatusBadRequest, reason, err.Error())
			default:
				httpError(w, http.StatusBadGateway, "store_refused", err.Error())
			}
		case <-timer.C:
			p.m.HTTPWaitExceeded.Inc()
			w.Header().Set("Retry-After", retryAfter)
			httpError(w, http.StatusServiceUnavailable, "not_written", fmt.Sprintf("not written within %s (InfluxDB slow or down); nothing was acknowledged: send the batch again", wait))
		case <-p.Finished():
			// Not written before shutdown: the gateway keeps it and sends it again.
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusServiceUnavailable, "unavailable", "shutting down")
		case <-r.Context().Done():
		}
	})
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
