package sqlstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// BenchmarkRecordPositionSQLite: one tracker fix stored in SQLite with its zone check
// (inside the zone: no alert) — the transaction the OwnTracks consumer commits per message.
func BenchmarkRecordPositionSQLite(b *testing.B) {
	ctx := b.Context()
	s, err := sqlstore.Open(ctx, filepath.Join(b.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d, err := s.CreateDistrict(ctx, 766, "Nord")
	if err != nil {
		b.Fatal(err)
	}
	cit, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: "K"})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateHome(ctx, "home-1", d, cit); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateTracker(ctx, api.Scope{All: true}, "gps.karen-01", "home-1", "k", "b", t0); err != nil {
		b.Fatal(err)
	}
	if err := s.SetSafeZones(ctx, api.Scope{All: true}, "home-1", []gps.Zone{gpsHome}, "b", t0); err != nil {
		b.Fatal(err)
	}
	l := gps.Limits{}.WithDefaults()
	at := t0
	for b.Loop() {
		at = at.Add(time.Second)
		p := fixAt(at, -100)
		if _, err := s.RecordPosition(ctx, p, at, func(st *gps.TrackerState) []gps.Alarm { return gps.Decide(st, p, l) }); err != nil {
			b.Fatal(err)
		}
	}
}
