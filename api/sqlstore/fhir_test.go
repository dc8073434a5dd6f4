package sqlstore_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/fhir"
	"github.com/vagt-dk/vagt/api/fhir/fhirtest"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// visitWorld resolves alerts of gw-0042 (citizen of home-0042, Hedensted): a fall that
// anna acknowledged and resolved, a panic resolved at once by bo, plus what must not
// become a visit: an open alert, one the platform resolved, a test alarm, another
// municipality's. It returns the two visits' alert ids.
func visitWorld(t *testing.T, s *sqlstore.Store) (w world, fall, panicID int64) {
	t.Helper()
	ctx := t.Context()
	w = setup(t, s)
	staff := api.Scope{Municipality: 766}
	fall = ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmFall, t0), t0).Alert.ID
	if _, err := s.Ack(ctx, fall, "anna", staff, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, fall, "anna", staff, alerts.OutcomeVisitedHelpGiven, "helped up", t0.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A note after the resolve writes an event too: it must not repeat the visit.
	if _, err := s.AddNote(ctx, fall, "anna", staff, "called the son", t0.Add(21*time.Minute)); err != nil {
		t.Fatal(err)
	}
	ingest(t, s, alarm("gw-0042", 2, "bu-17:door", vagt.AlarmDoorAtNight, t0.Add(30*time.Minute)), t0.Add(30*time.Minute)) // stays open
	sys := ingest(t, s, alarm("gw-0042", 3, "bu-17:bed", vagt.AlarmBedExit, t0.Add(31*time.Minute)), t0.Add(31*time.Minute)).Alert.ID
	if _, err := s.Resolve(ctx, sys, api.System, staff, alerts.OutcomeTechnicalFault, "", t0.Add(32*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterDevice(ctx, "bu-17:smoke", "gw-0042", vagt.TechSmokeAlarm, "smoke alarm"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTestMode(ctx, api.Scope{All: true}, "bu-17:smoke", t0.Add(time.Hour), "anna", t0.Add(33*time.Minute)); err != nil {
		t.Fatal(err)
	}
	test := ingest(t, s, alarm("gw-0042", 4, "bu-17:smoke", vagt.AlarmSmoke, t0.Add(34*time.Minute)), t0.Add(34*time.Minute)).Alert.ID
	if _, err := s.Resolve(ctx, test, "anna", staff, alerts.OutcomeFalseAlarm, "", t0.Add(35*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Horsens (615): a citizen and a resolved visit of its own.
	d, err := s.CreateDistrict(ctx, 615, "Centrum")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateCitizen(ctx, 615, api.Citizen{Name: "Ole Hansen"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateHome(ctx, "home-615", d, c); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterGateway(ctx, "gw-615", "home-615"); err != nil {
		t.Fatal(err)
	}
	a := alarm("gw-615", 1, "btn", vagt.AlarmPanic, t0.Add(36*time.Minute))
	a.Municipality = 615
	other := ingest(t, s, a, t0.Add(36*time.Minute)).Alert.ID
	if _, err := s.Resolve(ctx, other, "ole", api.Scope{Municipality: 615}, alerts.OutcomeVisitedAllWell, "", t0.Add(40*time.Minute)); err != nil {
		t.Fatal(err)
	}
	panicID = ingest(t, s, alarm("gw-0042", 5, "bu-17:btn", vagt.AlarmPanic, t0.Add(50*time.Minute)), t0.Add(50*time.Minute)).Alert.ID
	if _, err := s.Resolve(ctx, panicID, "oidc:bo@hedensted.dk", staff, alerts.OutcomeVisitedAllWell, "", t0.Add(70*time.Minute)); err != nil {
		t.Fatal(err)
	}
	return w, fall, panicID
}

func TestVisitsOnePerResolve(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		_, fall, panicID := visitWorld(t, s)
		vs, err := s.Visits(t.Context(), 766, 0, time.Time{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || vs[0].Alert != fall || vs[1].Alert != panicID {
			t.Fatalf("want the fall and the panic, got %+v", vs)
		}
		v := vs[0]
		if v.Citizen == 0 || v.Municipality != 766 || v.Type != vagt.AlarmFall || v.AckedBy != "anna" || v.ResolvedBy != "anna" ||
			v.Outcome != alerts.OutcomeVisitedHelpGiven || !v.AckedAt.Equal(t0.Add(time.Minute)) || !v.ResolvedAt.Equal(t0.Add(20*time.Minute)) {
			t.Fatalf("fall visit: %+v", v)
		}
		// A resolve without an acknowledgement counts as acknowledged by the resolver.
		if p := vs[1]; p.AckedBy != "oidc:bo@hedensted.dk" || !p.AckedAt.Equal(t0.Add(70*time.Minute)) {
			t.Fatalf("panic visit: %+v", p)
		}
		// Paging by the event: after the fall's event only the panic is left.
		rest, err := s.Visits(t.Context(), 766, v.Event, time.Time{}, 100)
		if err != nil || len(rest) != 1 || rest[0].Alert != panicID {
			t.Fatalf("after %d: %+v, %v", v.Event, rest, err)
		}
		// _since: resolved at or after 00:30 past t0.
		since, err := s.Visits(t.Context(), 766, 0, t0.Add(30*time.Minute), 100)
		if err != nil || len(since) != 1 || since[0].Alert != panicID {
			t.Fatalf("since: %+v, %v", since, err)
		}
		if other, err := s.Visits(t.Context(), 615, 0, time.Time{}, 100); err != nil || len(other) != 1 || other[0].ResolvedBy != "ole" {
			t.Fatalf("Horsens: %+v, %v", other, err)
		}
	})
}

// The pull API's pages on the real stores: valid FHIR, the same page twice is the same,
// the pages do not overlap, the citizen's audit log says who pulled, and the faults
// (another municipality's cursor, a cursor from the future) are refused.
func TestPullOnStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		_, fall, _ := visitWorld(t, s)
		svc := fhir.NewService(fhir.Config{Store: s, Now: func() time.Time { return t0.Add(2 * time.Hour) }})
		caller := fhir.Caller{Actor: "care-record", Municipality: 766}
		page := func(q fhir.Query) ([]byte, *fhir.Bundle) {
			t.Helper()
			q.Base = "https://vagt.example/api/v1/fhir/Encounter"
			b, err := svc.Pull(ctx, caller, q)
			if err != nil {
				t.Fatal(err)
			}
			doc, _ := json.Marshal(b)
			if p := fhirtest.Problems(doc); len(p) > 0 {
				t.Fatalf("invalid page:\n%s\n%s", strings.Join(p, "\n"), doc)
			}
			return doc, b
		}
		one, b := page(fhir.Query{Count: "1"})
		again, _ := page(fhir.Query{Count: "1"})
		if !bytes.Equal(one, again) {
			t.Fatalf("same page twice differs:\n%s\n%s", one, again)
		}
		if !strings.Contains(string(one), `"id":"vagt-alert-`+itoa(fall)+`"`) {
			t.Fatalf("first page is not the fall: %s", one)
		}
		next := b.Link[1].URL
		cur, _, _ := strings.Cut(next[strings.Index(next, "cursor=")+7:], "&")
		two, _ := page(fhir.Query{Cursor: cur, Count: "1"})
		if bytes.Contains(two, []byte(`"id":"vagt-alert-`+itoa(fall)+`"`)) || !bytes.Contains(two, []byte(`"resourceType":"Encounter"`)) {
			t.Fatalf("second page: %s", two)
		}
		// New activity after the pages does not change them.
		more := ingest(t, s, alarm("gw-0042", 6, "bu-17:btn", vagt.AlarmPanic, t0.Add(80*time.Minute)), t0.Add(80*time.Minute)).Alert.ID
		if _, err := s.Resolve(ctx, more, "anna", api.Scope{Municipality: 766}, alerts.OutcomeOther, "", t0.Add(90*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if third, _ := page(fhir.Query{Count: "1"}); !bytes.Equal(third, one) {
			t.Fatalf("a later visit changed the first page:\n%s", third)
		}
		vs, _ := s.Visits(ctx, 766, 0, time.Time{}, 1)
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "citizen/"+itoa(vs[0].Citizen), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		pulls := 0
		for _, e := range log {
			if e.Action == "fhir.pull" && e.Actor == "care-record" && strings.Contains(e.Detail, "alert/") {
				pulls++
			}
		}
		if pulls != 4 {
			t.Fatalf("want 4 audited pulls of citizen 1, got %d: %+v", pulls, log)
		}
		last, _ := s.LastEventID(ctx)
		for _, c := range []struct {
			name string
			q    fhir.Query
			want error
		}{
			{"another municipality's cursor", fhir.Query{Cursor: fhir.Cursor{Municipality: 615, Event: 1}.String()}, api.ErrForbidden},
			{"a cursor from the future", fhir.Query{Cursor: fhir.Cursor{Municipality: 766, Event: last + 1}.String()}, api.ErrInvalid},
		} {
			if _, err := svc.Pull(ctx, caller, c.q); !errors.Is(err, c.want) {
				t.Fatalf("%s: want %v, got %v", c.name, c.want, err)
			}
		}
	})
}

// An erased citizen's visits are no longer handed out.
func TestVisitsOfErasedCitizenGone(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		visitWorld(t, s)
		vs, _ := s.Visits(t.Context(), 766, 0, time.Time{}, 100)
		if _, err := s.EraseCitizen(t.Context(), api.Scope{All: true}, vs[0].Citizen, "admin", t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if vs, err := s.Visits(t.Context(), 766, 0, time.Time{}, 100); err != nil || len(vs) != 0 {
			t.Fatalf("after erasure: %+v, %v", vs, err)
		}
	})
}

// Presence: an alert that bo took and arrived at and anna resolved is a visit from bo's
// arrival, with bo as the assignee.
func TestVisitArrival(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		setup(t, s)
		staff := api.Scope{Municipality: 766}
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmFall, t0), t0).Alert.ID
		bo := alerts.Assignee{Name: "bo"}
		if _, err := s.Take(ctx, id, bo, staff, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Arrive(ctx, id, bo, staff, t0.Add(9*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resolve(ctx, id, "anna", staff, alerts.OutcomeVisitedHelpGiven, "", t0.Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		vs, err := s.Visits(ctx, 766, 0, time.Time{}, 10)
		if err != nil || len(vs) != 1 {
			t.Fatalf("%+v, %v", vs, err)
		}
		if v := vs[0]; v.Assignee != "bo" || v.ArrivedAt == nil || !v.ArrivedAt.Equal(t0.Add(9*time.Minute)) ||
			v.Performer() != "bo" || !v.Start().Equal(t0.Add(9*time.Minute)) {
			t.Fatalf("visit: %+v", v)
		}
	})
}
