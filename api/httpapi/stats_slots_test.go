package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/api/stats"
)

// heldStats is a statistics service whose adoption computation holds until released: it
// stands in for a national view that takes its time, so that a second request arrives
// while the first computes.
type heldStats struct {
	started chan struct{}
	release chan struct{}
}

func (h *heldStats) Adoption(ctx context.Context, q stats.Query) (stats.Adoption, error) {
	h.started <- struct{}{}
	select {
	case <-h.release:
	case <-ctx.Done():
		return stats.Adoption{}, ctx.Err()
	}
	return stats.Adoption{}, nil
}

func (h *heldStats) Alerts(context.Context, stats.Query) (stats.AlertStats, error) {
	return stats.AlertStats{}, nil
}

func (h *heldStats) Benefits(context.Context, stats.Query) (stats.Benefits, error) {
	return stats.Benefits{}, nil
}

// TestStatisticsComputeOneAtATime: statistics computations run one at a time (the api
// that computes them also commits alarms); a request that cannot get its turn within
// StatsWait is refused with 503 and Retry-After, and computes nothing; once the running
// one ends, the next gets its turn.
func TestStatisticsComputeOneAtATime(t *testing.T) {
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := api.NewManualClock(day("2025-12-01"))
	held := &heldStats{started: make(chan struct{}, 4), release: make(chan struct{})}
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: alerts.NewFeed(store, alerts.FeedOptions{}),
		Clock: clock, Stats: held, StatsWait: 300 * time.Millisecond}))
	t.Cleanup(srv.Close)
	tok, hash, _ := auth.NewToken()
	if _, err := store.IssueToken(ctx, api.Principal{Name: "kl", Role: api.RoleNational}, hash, nil, clock.Now()); err != nil {
		t.Fatal(err)
	}
	get := func(path string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		// Bounded: without the limit a second adoption would hold like the first.
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	const adoption = "/api/v1/stats/adoption?from=2025-01-01&to=2025-07-01&interval=quarter"

	first := make(chan *http.Response, 1)
	go func() { first <- get(adoption) }()
	select {
	case <-held.started:
	case <-time.After(time.Minute):
		t.Fatal("the first request never started computing")
	}

	for _, path := range []string{adoption, "/api/v1/stats/alerts?from=2025-01-01&to=2025-07-01&interval=quarter"} {
		resp := get(path)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s while another computes: %d, Retry-After %q; want 503 with Retry-After", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	select {
	case <-held.started:
		t.Fatal("a refused request computed")
	default:
	}

	close(held.release)
	if resp := <-first; resp.StatusCode != http.StatusOK {
		t.Fatalf("the first request: %d", resp.StatusCode)
	}
	if resp := get("/api/v1/stats/alerts?from=2025-01-01&to=2025-07-01&interval=quarter"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the next request after the first ended: %d", resp.StatusCode)
	}
}

// panicStats panics in its adoption computation, as a defect would.
type panicStats struct{ *heldStats }

func (panicStats) Adoption(context.Context, stats.Query) (stats.Adoption, error) {
	panic("a defect in the computation")
}

// TestStatisticsTurnSurvivesAPanic: a computation that panics answers 500 and gives its
// turn back; the next request computes instead of waiting for a turn nobody returns.
func TestStatisticsTurnSurvivesAPanic(t *testing.T) {
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := api.NewManualClock(day("2025-12-01"))
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Config{Alerts: store, Auth: store, Feed: alerts.NewFeed(store, alerts.FeedOptions{}),
		Clock: clock, Stats: panicStats{&heldStats{}}, StatsWait: 300 * time.Millisecond}))
	t.Cleanup(srv.Close)
	tok, hash, _ := auth.NewToken()
	if _, err := store.IssueToken(ctx, api.Principal{Name: "kl", Role: api.RoleNational}, hash, nil, clock.Now()); err != nil {
		t.Fatal(err)
	}
	get := func(path string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/api/v1/stats/adoption?from=2025-01-01&to=2025-07-01&interval=quarter"); code != http.StatusInternalServerError {
		t.Fatalf("the panicking computation: %d, want 500", code)
	}
	if code := get("/api/v1/stats/alerts?from=2025-01-01&to=2025-07-01&interval=quarter"); code != http.StatusOK {
		t.Fatalf("the next request after a panic: %d, want 200 (its turn was given back)", code)
	}
}
