package gps

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// fakeStore refuses nothing; the SQL store's refusals are tested against it in
// api/sqlstore.
type fakeStore struct{ n int }

func (f *fakeStore) RecordPosition(_ context.Context, p Position, _ time.Time, decide func(*TrackerState) []Alarm) (int, error) {
	f.n++
	return len(decide(&TrackerState{Tracker: p.Tracker})), nil
}
func (f *fakeStore) DetectSilentTrackers(context.Context, time.Time, time.Time) (int, error) {
	return 0, nil
}
func (f *fakeStore) PrunePositions(context.Context, time.Time) (int64, error) { return 0, nil }

// TestRefusalsLoggedOncePerBurst: a burst of refusals of one kind is counted in full and
// logged once; another kind gets its own line; after a quiet minute the next refusal is
// logged again and says how many were not.
func TestRefusalsLoggedOncePerBurst(t *testing.T) {
	var buf bytes.Buffer
	clock := &fixedClock{now}
	store := &fakeStore{}
	svc := NewService(store, Options{Clock: clock, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	bad := Position{Tracker: "gps.karen-01", At: now, Lat: 95, Lon: 12, Battery: -1, Source: "osmand"}
	for range 10 {
		clock.t = clock.t.Add(time.Second)
		if err := svc.Accept(t.Context(), bad); !errors.Is(err, ErrRejected) {
			t.Fatal(err)
		}
	}
	far := Position{Tracker: "gps.karen-01", At: clock.t.Add(time.Hour), Lat: 55, Lon: 12, Battery: -1, Source: "osmand"}
	svc.Accept(t.Context(), far)
	if got := strings.Count(buf.String(), "position refused"); got != 2 {
		t.Fatalf("%d log lines for 10 out-of-range and 1 future refusal:\n%s", got, buf.String())
	}
	if svc.Rejected("osmand", ReasonRange) != 10 || svc.Rejected("osmand", ReasonFuture) != 1 || store.n != 0 {
		t.Errorf("counted %v, %v; stored %d", svc.Rejected("osmand", ReasonRange), svc.Rejected("osmand", ReasonFuture), store.n)
	}
	clock.t = clock.t.Add(2 * time.Minute)
	svc.Accept(t.Context(), bad)
	if got := strings.Count(buf.String(), "position refused"); got != 3 || !strings.Contains(buf.String(), "not_logged_before=9") {
		t.Errorf("after a quiet minute:\n%s", buf.String())
	}
	ok := Position{Tracker: "gps.karen-01", At: clock.t, Lat: 55, Lon: 12, Battery: -1, Source: "osmand"}
	if err := svc.Accept(t.Context(), ok); err != nil || store.n != 1 || svc.Accepted() != 1 {
		t.Errorf("a good fix: %v, stored %d", err, store.n)
	}
}
