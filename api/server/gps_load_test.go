package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestGPSLoadTrackersCrossingTheEdge is the chaos case, focused: the load
// generator plays 6 OwnTracks trackers through a real Mosquitto, each walking 500 m out
// of its home's 200 m safe zone and back, twice, 40 fixes each, as fast as the broker
// takes them. Every fix is stored, none refused, and each citizen gets exactly one
// left_safe_zone alert, raised once and never updated — no alarm flood.
func TestGPSLoadTrackersCrossingTheEdge(t *testing.T) {
	const trackers, rounds = 6, 40
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	clock := api.NewManualClock(t0)
	st := startAPI(t, broker, t.TempDir()+"/vagt.db", "vagt-api-gps-load", clock)
	waitFor(t, "the trackers' topics subscribed", st.srv.OwnTracksSubscribed)
	ctx, s := t.Context(), st.srv.Store
	north, err := s.CreateDistrict(ctx, 766, "Nord")
	if err != nil {
		t.Fatal(err)
	}
	for i := range trackers {
		cit, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: fmt.Sprintf("Borger %d", i+1)})
		if err != nil {
			t.Fatal(err)
		}
		home := vagt.HomeID(fmt.Sprintf("home-gps-%d", i+1))
		if err := s.CreateHome(ctx, home, north, cit); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTracker(ctx, api.Scope{All: true}, load.TrackerID("load", i), home, fmt.Sprint("key-", i), "test", t0); err != nil {
			t.Fatal(err)
		}
		lat, lon := load.TrackerHome(i)
		if err := s.SetSafeZones(ctx, api.Scope{All: true}, home, []gps.Zone{{Name: "Hjem", Center: &[2]float64{lat, lon}, Radius: 200}}, "test", t0); err != nil {
			t.Fatal(err)
		}
	}
	lastEvent, _ := s.LastEventID(ctx)
	r, err := load.Run(ctx, load.Config{Broker: broker.URL(), Trackers: trackers, Batches: rounds, Step: 10 * time.Second,
		Start: t0.Add(-10 * time.Minute), TrackerWalk: 500})
	if err != nil || r.Positions != trackers*rounds {
		t.Fatalf("load: %+v %v", r, err)
	}
	waitFor(t, "every fix stored", func() bool {
		return st.srv.GPS().Accepted()+int64(st.srv.GPS().Rejected("owntracks", gps.ReasonOutOfOrder)) == trackers*rounds
	})
	for _, reason := range []string{gps.ReasonTooOld, gps.ReasonUnsupported, gps.ReasonImpersonated, gps.ReasonMalformed, gps.ReasonRange, gps.ReasonFuture, gps.ReasonInaccurate, gps.ReasonOutOfOrder, gps.ReasonDuplicate, gps.ReasonUnknown} {
		if n := st.srv.GPS().Rejected("owntracks", reason); n != 0 {
			t.Errorf("%v refused as %s", n, reason)
		}
	}
	list, err := s.ListAlerts(ctx, api.Scope{All: true}, alerts.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	per := map[vagt.GatewayID]int{}
	for _, a := range list {
		if a.Type != vagt.AlarmLeftSafeZone || a.Count != 1 {
			t.Errorf("alert %+v", a)
		}
		per[a.Gateway]++
	}
	if len(per) != trackers {
		t.Errorf("trackers with an alert: %d of %d (%v)", len(per), trackers, per)
	}
	// Nobody listens and no roster names anyone, so each alert also goes on at once to
	// the backup and to central (docs/alerts.md, "Rosters and escalation"): two escalation
	// steps each, and besides them one event per tracker — raised, never updated.
	events, err := s.EventsAfter(ctx, lastEvent, 1000)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[alerts.EventKind]int{}
	for _, ev := range events {
		kinds[ev.Kind]++
	}
	if kinds[alerts.EventNew] != trackers || kinds[alerts.EventUpdated] != 0 || kinds[alerts.EventEscalated] > 2*trackers || len(events) != kinds[alerts.EventNew]+kinds[alerts.EventEscalated] {
		t.Errorf("events %v, want one new per tracker, no update, at most two escalations each", kinds)
	}
}
