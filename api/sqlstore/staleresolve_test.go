package sqlstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestResolveOfAStaleViewIsRefused: a member of staff read an alert with one press and
// decides "false alarm"; meanwhile the citizen pressed again (folded: count 2), or pressed
// on the acknowledged alert (re-armed: open again, count 2). Resolving "as seen at count 1"
// must change nothing (a *alerts.StaleError, no resolve in the audit log or the event log,
// no note) and resolving as seen at count 2 must then succeed. Before, Resolve had no
// precondition and closed the press nobody had seen.
func TestResolveOfAStaleViewIsRefused(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		for i, c := range []struct {
			name     string
			ack      bool // acknowledged before the second press: the press re-arms it
			second   sqlstore.Change
			stateNow alerts.State
		}{
			{"folded", false, sqlstore.ChangeRepeated, alerts.StateOpen},
			{"rearmed", true, sqlstore.ChangeReraised, alerts.StateOpen},
		} {
			t.Run(c.name, func(t *testing.T) {
				dev := vagt.DeviceID(fmt.Sprintf("bu-17:btn%d", i))
				at := t0.Add(time.Duration(i) * time.Hour)
				first := ingest(t, s, alarm("gw-0042", uint64(10*i+1), dev, vagt.AlarmPanic, at), at)
				id := first.Alert.ID
				if first.Change != sqlstore.ChangeRaised || first.Alert.Count != 1 {
					t.Fatalf("first press: %+v", first)
				}
				if c.ack {
					if _, err := s.Ack(ctx, id, "anna", w.northStaff, at.Add(10*time.Second)); err != nil {
						t.Fatal(err)
					}
				}
				seen := alerts.Seen{Count: first.Alert.Count} // what anna's screen shows
				second := ingest(t, s, alarm("gw-0042", uint64(10*i+2), dev, vagt.AlarmPanic, at.Add(20*time.Second)), at.Add(20*time.Second))
				if second.Change != c.second || second.Alert.ID != id || second.Alert.Count != 2 {
					t.Fatalf("second press: %s into %d count %d, want %s into %d count 2", second.Change, second.Alert.ID, second.Alert.Count, c.second, id)
				}
				lastEvent := newestEvent(t, s)

				_, err := s.ResolveSeen(ctx, id, "anna", w.northStaff, seen, alerts.OutcomeFalseAlarm, "pressed by mistake", at.Add(30*time.Second))
				var stale *alerts.StaleError
				if !errors.As(err, &stale) || !errors.Is(err, api.ErrConflict) || stale.Seen != 1 || stale.Count != 2 || stale.Alert != id {
					t.Fatalf("resolve as seen at count 1 after a second press: %v, want a StaleError (seen 1, now 2) that is a conflict", err)
				}
				// Nothing changed.
				a := alertNow(t, s, id)
				if a.State != c.stateNow || a.ResolvedAt != nil || a.Outcome != "" || a.Count != 2 {
					t.Errorf("after the refused resolve: state %s, resolved_at %v, outcome %q, count %d; want %s, unresolved, count 2",
						a.State, a.ResolvedAt, a.Outcome, a.Count, c.stateNow)
				}
				if got := eventsAfter(t, s, lastEvent); len(got) != 0 {
					t.Errorf("events written by the refused resolve: %v", got)
				}
				log, err := s.AuditLog(ctx, api.Scope{All: true}, fmt.Sprintf("alert/%d", id), 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range log {
					if e.Action == "alert.resolve" {
						t.Errorf("audited as resolved by the refused resolve: %+v", e)
					}
				}
				if d, err := s.AlertDetail(ctx, id, api.Scope{All: true}, time.Now()); err != nil {
					t.Fatal(err)
				} else if len(d.Notes) != 0 {
					t.Errorf("the refused resolve's note was kept: %+v", d.Notes)
				}

				// Read again, decide again: as seen at count 2 it closes.
				seen = alerts.Seen{Count: a.Count}
				got, err := s.ResolveSeen(ctx, id, "anna", w.northStaff, seen, alerts.OutcomeVisitedHelpGiven, "", at.Add(time.Minute))
				if err != nil || got.State != alerts.StateResolved || got.Outcome != alerts.OutcomeVisitedHelpGiven || got.Count != 2 {
					t.Fatalf("resolve as seen at count 2: %v %+v", err, got)
				}
				// Resolved is resolved: a resolve of another view is the old conflict
				// naming who resolved it, not a stale view.
				var ce *alerts.ConflictError
				if _, err := s.ResolveSeen(ctx, id, "bo", w.northStaff, alerts.Seen{Count: 1}, alerts.OutcomeOther, "", at.Add(2*time.Minute)); !errors.As(err, &ce) || ce.By != "anna" {
					t.Errorf("resolve of a resolved alert: %v, want a ConflictError by anna", err)
				}
			})
		}
	})
}

// TestResolveSeenRefusesAnImpossibleView: a count the alert never had, or none, is a bad
// request (a client defect), not a stale view; nothing changes.
func TestResolveSeenRefusesAnImpossibleView(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		for _, n := range []int{0, -1, 2} {
			if _, err := s.ResolveSeen(t.Context(), id, "anna", w.northStaff, alerts.Seen{Count: n}, alerts.OutcomeFalseAlarm, "", t0.Add(time.Minute)); !errors.Is(err, api.ErrInvalid) {
				t.Errorf("resolve as seen at count %d of an alert with 1 press: %v, want invalid", n, err)
			}
		}
		if a := alertNow(t, s, id); a.State != alerts.StateOpen {
			t.Errorf("after the refused resolves: %s, want open", a.State)
		}
	})
}

// alertNow reads alert id as it is now (through the list, which takes a scope).
func alertNow(t *testing.T, s *sqlstore.Store, id int64) alerts.Alert {
	t.Helper()
	l, err := s.ListAlerts(t.Context(), api.Scope{All: true}, alerts.Filter{Before: id + 1, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 || l[0].ID != id {
		t.Fatalf("alert %d not found: %+v", id, l)
	}
	return l[0]
}

func newestEvent(t *testing.T, s *sqlstore.Store) int64 {
	t.Helper()
	var last int64
	for {
		evs, err := s.EventsAfter(t.Context(), last, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return last
		}
		last = evs[len(evs)-1].ID
	}
}

// eventsAfter lists the changes after the event id as "change alert/id".
func eventsAfter(t *testing.T, s *sqlstore.Store, after int64) []string {
	t.Helper()
	evs, err := s.EventsAfter(t.Context(), after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		var d alerts.EventData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s alert/%d", d.Change, d.Alert.ID))
	}
	return out
}
