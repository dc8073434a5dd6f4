package sqlstore_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// RecordStatusSeen says when the api last heard the gateway online before this status:
// zero the first time, the previous online status's time after it, kept across an offline
// status (the gateway was connected until about then); a decommissioned gateway's status
// is ignored and says so.
func TestRecordStatusSeen(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		setup(t, s) // gw-0042 is registered in a home
		status := func(gw vagt.GatewayID, online bool, at time.Time) sqlstore.StatusSeen {
			t.Helper()
			seen, err := s.RecordStatusSeen(ctx, &vagt.Status{Gateway: gw, Municipality: 766, Online: online, Time: at}, at)
			if err != nil {
				t.Fatal(err)
			}
			return seen
		}
		for i, c := range []struct {
			online bool
			at     time.Time
			want   time.Time
		}{
			{true, t0, time.Time{}},                                    // first: never heard online
			{true, t0.Add(time.Minute), t0},                            // a heartbeat
			{false, t0.Add(2 * time.Minute), t0.Add(time.Minute)},      // the will
			{true, t0.Add(10 * time.Minute), t0.Add(time.Minute)},      // back: connected until about t0+1m
			{true, t0.Add(11 * time.Minute), t0.Add(10 * time.Minute)}, // the next heartbeat
		} {
			if seen := status("gw-0099", c.online, c.at); !seen.Previous.Equal(c.want) || seen.Ignored {
				t.Errorf("status %d (online %v at %s): %+v, want previous %s", i, c.online, c.at, seen, c.want)
			}
		}
		// A gateway that exists in the registry but never said online has no previous.
		if seen := status("gw-0042", true, t0); !seen.Previous.IsZero() || seen.Ignored {
			t.Errorf("registered gateway's first status: %+v", seen)
		}
		if _, err := s.DecommissionGateway(ctx, api.Scope{All: true}, "gw-0042", t0.Add(time.Minute), "mads", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if seen := status("gw-0042", true, t0.Add(2*time.Minute)); !seen.Ignored {
			t.Errorf("decommissioned gateway's status: %+v, want ignored", seen)
		}
	})
}

// GatewayEventsSince: of a gateway's alerts, those open or resolved since, with an event
// after since, each once as its latest event, newest first, at most limit; nothing of
// another gateway's alerts, nothing of an alert that ended before since.
func TestGatewayEventsSince(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		all := api.Scope{All: true}
		raise := func(gw vagt.GatewayID, seq uint64, device vagt.DeviceID, at time.Time) int64 {
			t.Helper()
			r, err := s.IngestAlarm(ctx, &vagt.Alarm{Gateway: gw, Seq: seq, Municipality: 766, Time: at,
				Device: device, Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, at)
			if err != nil {
				t.Fatal(err)
			}
			return r.Alert.ID
		}
		old := raise("gw-0042", 1, "bu-1:btn", t0.Add(-time.Hour))
		if _, err := s.Resolve(ctx, old, "anna", all, alerts.OutcomeVisitedAllWell, "", t0.Add(-30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		open := raise("gw-0042", 2, "bu-2:btn", t0)
		if _, err := s.Ack(ctx, open, "anna", all, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		ended := raise("gw-0042", 3, "bu-3:btn", t0.Add(2*time.Minute))
		if _, err := s.Resolve(ctx, ended, "anna", all, alerts.OutcomeVisitedAllWell, "", t0.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		raise("gw-0043", 1, "bu-1:btn", t0.Add(2*time.Minute)) // never told to gw-0042

		type told struct {
			alert  int64
			change string
		}
		since := func(at time.Time, limit int) []told {
			t.Helper()
			evs, err := s.GatewayEventsSince(ctx, "gw-0042", at, limit)
			if err != nil {
				t.Fatal(err)
			}
			var out []told
			for _, ev := range evs {
				var d alerts.EventData
				if err := json.Unmarshal(ev.Data, &d); err != nil {
					t.Fatal(err)
				}
				if d.Alert.Gateway != "gw-0042" {
					t.Errorf("another gateway's alert %d told", d.Alert.ID)
				}
				out = append(out, told{d.Alert.ID, d.Change})
			}
			return out
		}
		for _, c := range []struct {
			name  string
			since time.Time
			limit int
			want  []told
		}{
			{"away since before both", t0.Add(-time.Second), 64, []told{{ended, "resolved"}, {open, "acknowledged"}}},
			{"the newest only", t0.Add(-time.Second), 1, []told{{ended, "resolved"}}},
			{"away after the ack", t0.Add(90 * time.Second), 64, []told{{ended, "resolved"}}},
			{"away after everything", t0.Add(4 * time.Minute), 64, nil},
			{"away for two hours", t0.Add(-2 * time.Hour), 64, []told{{ended, "resolved"}, {open, "acknowledged"}, {old, "resolved"}}},
		} {
			if got := since(c.since, c.limit); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
		// Staff move on the open alert later: it is news again, as its latest event.
		if _, err := s.Enroute(ctx, open, alerts.Assignee{Name: "anna"}, all, t0.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, want := since(t0.Add(4*time.Minute), 64), []told{{open, "enroute"}}; !slices.Equal(got, want) {
			t.Errorf("after on the way: %v, want %v", got, want)
		}
	})
}

// GatewayChangesSince: the latest change of each gateway's alerts among the newest events
// back to from, and from when that is complete (from, or the oldest event read when the
// limit ran out).
func TestGatewayChangesSince(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		all := api.Scope{All: true}
		raise := func(gw vagt.GatewayID, seq uint64, at time.Time) int64 {
			t.Helper()
			r, err := s.IngestAlarm(ctx, &vagt.Alarm{Gateway: gw, Seq: seq, Municipality: 766, Time: at,
				Device: "bu-1:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, at)
			if err != nil {
				t.Fatal(err)
			}
			return r.Alert.ID
		}
		raise("gw-0041", 1, t0.Add(-time.Hour)) // before from
		a := raise("gw-0042", 1, t0)
		raise("gw-0043", 1, t0.Add(time.Minute))
		if _, err := s.Ack(ctx, a, "anna", all, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		latest, covered, err := s.GatewayChangesSince(ctx, t0.Add(-time.Minute), 100)
		if err != nil {
			t.Fatal(err)
		}
		want := map[vagt.GatewayID]time.Time{"gw-0042": t0.Add(2 * time.Minute), "gw-0043": t0.Add(time.Minute)}
		if len(latest) != len(want) || !latest["gw-0042"].Equal(want["gw-0042"]) || !latest["gw-0043"].Equal(want["gw-0043"]) || !covered.Equal(t0.Add(-time.Minute)) {
			t.Fatalf("latest %v covered %s, want %v from %s", latest, covered, want, t0.Add(-time.Minute))
		}
		// Two events only: the ack (t0+2m) and gw-0043's raise (t0+1m); complete from t0+1m.
		latest, covered, err = s.GatewayChangesSince(ctx, t0.Add(-time.Minute), 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(latest) != 2 || !covered.Equal(t0.Add(time.Minute)) {
			t.Fatalf("with a limit of 2: latest %v covered %s, want both gateways, covered from %s", latest, covered, t0.Add(time.Minute))
		}
	})
}
