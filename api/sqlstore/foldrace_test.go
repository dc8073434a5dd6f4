package sqlstore_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// These races need two transactions interleaved between a raise's lookup of the unresolved
// alert and its write, which only PostgreSQL (READ COMMITTED, several replicas) allows:
// SQLite begins every write transaction IMMEDIATE, so writers run one after the other.

// TestPressWhileStaffResolveOpensANewAlert: staff resolve the alert a press is about to
// fold into (their transaction commits after the press's lookup found the alert, before its
// update). The press must not be folded into the resolved alert, where nobody is told of it:
// it opens a new alert, announced with a "new" event. The fold was unconditional, so the
// press raised the resolved alert's count and was lost.
func TestPressWhileStaffResolveOpensANewAlert(t *testing.T) {
	for _, state := range []alerts.State{alerts.StateOpen, alerts.StateAcknowledged} {
		t.Run(string(state), func(t *testing.T) {
			s, err := sqlstore.Open(t.Context(), stacktest.SharedPostgres(t), sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			w := setup(t, s)
			ctx := t.Context()
			first := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0)
			if first.Change != sqlstore.ChangeRaised {
				t.Fatalf("first press: %+v", first)
			}
			old := first.Alert.ID
			if state == alerts.StateAcknowledged {
				if _, err := s.Ack(ctx, old, "anna", w.northStaff, t0.Add(30*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			evs, err := s.EventsAfter(ctx, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			lastEvent := evs[len(evs)-1].ID

			// Staff resolve the alert from another pooled connection while the second
			// press's transaction stands between its lookup and its fold.
			at := t0.Add(time.Minute)
			var (
				lookups    []int64
				resolveErr error
			)
			defer s.AfterOpenAlertLookupForTest(func(id int64) {
				lookups = append(lookups, id)
				if len(lookups) == 1 {
					_, resolveErr = s.Resolve(ctx, id, "anna", w.northStaff, alerts.OutcomeVisitedAllWell, "", at)
				}
			})()
			second := ingest(t, s, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, at), at)
			if resolveErr != nil {
				t.Fatalf("resolve between the lookup and the fold: %v", resolveErr)
			}
			if len(lookups) == 0 || lookups[0] != old {
				t.Fatalf("the hook saw lookups %v, want the first alert %d first: the race was not staged", lookups, old)
			}

			if second.Change != sqlstore.ChangeRaised || second.Alert.ID == old || second.Alert.State != alerts.StateOpen || second.Alert.Count != 1 {
				t.Errorf("press after the resolve: %s into alert %d (state %s, count %d), want raised as a new open alert with count 1 (resolved alert %d)",
					second.Change, second.Alert.ID, second.Alert.State, second.Alert.Count, old)
			}
			d, err := s.AlertDetail(ctx, old, api.Scope{All: true}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if d.Alert.State != alerts.StateResolved || d.Alert.Count != 1 {
				t.Errorf("resolved alert %d: state %s, count %d; want resolved with count 1 (the press folded into it)", old, d.Alert.State, d.Alert.Count)
			}
			open, err := s.ListAlerts(ctx, w.northStaff, alerts.Filter{State: alerts.StateOpen})
			if err != nil {
				t.Fatal(err)
			}
			var openIDs []int64
			for _, a := range open {
				if a.Device == "bu-17:btn" && a.Type == vagt.AlarmPanic {
					openIDs = append(openIDs, a.ID)
				}
			}
			if len(openIDs) != 1 || openIDs[0] == old {
				t.Errorf("open panic alerts of bu-17:btn after the press: %v, want one new alert", openIDs)
			}

			evs, err = s.EventsAfter(ctx, lastEvent, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var announced bool
			var seen []string
			for _, ev := range evs {
				var data alerts.EventData
				if err := json.Unmarshal(ev.Data, &data); err != nil {
					t.Fatalf("event %d: %v", ev.ID, err)
				}
				seen = append(seen, string(ev.Kind)+"/"+data.Change+"@"+strconv.FormatInt(data.Alert.ID, 10))
				if ev.Kind == alerts.EventNew && data.Alert.ID != old && data.Alert.ID == second.Alert.ID {
					announced = true
				}
			}
			if !announced {
				t.Errorf("no new event for the press after the resolve; events: %v", seen)
			}

			// Its redelivery is a duplicate of the alert it became.
			if r := ingest(t, s, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, at), at.Add(time.Second)); r.Change != sqlstore.ChangeDuplicate || r.Alert.ID != second.Alert.ID {
				t.Errorf("redelivery of the press: %s into alert %d, want duplicate of %d", r.Change, r.Alert.ID, second.Alert.ID)
			}
		})
	}
}

// TestFirstPressesOnTwoReplicasMakeOneAlert: two replicas take two different presses of one
// device and type when it has no unresolved alert; both find none and insert. The second
// insert hits the unique index alerts_one_open; inTx must retry it, and the retry folds into
// the first's alert: one alert, count 2, neither press lost.
func TestFirstPressesOnTwoReplicasMakeOneAlert(t *testing.T) {
	dsn := stacktest.SharedPostgres(t)
	var reps []*sqlstore.Store
	for range 2 {
		s, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		reps = append(reps, s)
	}
	w := setup(t, reps[0])
	ctx := t.Context()

	// Replica 0's press looks and finds no alert; before it inserts, replica 1's press
	// commits a new alert.
	var (
		lookups []int64
		other   sqlstore.IngestResult
		err1    error
	)
	defer reps[0].AfterOpenAlertLookupForTest(func(id int64) {
		lookups = append(lookups, id)
		if len(lookups) == 1 {
			other, err1 = reps[1].IngestAlarm(ctx, alarm("gw-0042", 2, "bu-17:btn", vagt.AlarmPanic, t0.Add(time.Second)), t0.Add(time.Second))
		}
	})()
	r, err := reps[0].IngestAlarm(ctx, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0)
	if err != nil {
		t.Fatalf("press on replica 0 after replica 1 opened the alert: %v", err)
	}
	if err1 != nil || other.Change != sqlstore.ChangeRaised {
		t.Fatalf("press on replica 1: %+v, %v", other, err1)
	}
	if len(lookups) != 2 || lookups[0] != 0 || lookups[1] != other.Alert.ID {
		t.Fatalf("replica 0's lookups %v, want [0 %d]: no alert, then the retry finds replica 1's", lookups, other.Alert.ID)
	}
	if r.Change != sqlstore.ChangeRepeated || r.Alert.ID != other.Alert.ID || r.Alert.Count != 2 {
		t.Errorf("press on replica 0: %s into alert %d (count %d), want repeated into %d with count 2", r.Change, r.Alert.ID, r.Alert.Count, other.Alert.ID)
	}
	all, err := reps[0].ListAlerts(ctx, w.northStaff, alerts.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Count != 2 {
		t.Errorf("alerts after both presses: %+v, want one with count 2", all)
	}
	// Both receipts name the one alert: a redelivery of either is a duplicate of it.
	for seq, at := range map[uint64]time.Time{1: t0, 2: t0.Add(time.Second)} {
		if d := ingest(t, reps[1], alarm("gw-0042", seq, "bu-17:btn", vagt.AlarmPanic, at), t0.Add(time.Minute)); d.Change != sqlstore.ChangeDuplicate || d.Alert.ID != other.Alert.ID {
			t.Errorf("redelivery of seq %d: %s into %d, want duplicate of %d", seq, d.Change, d.Alert.ID, other.Alert.ID)
		}
	}
}
