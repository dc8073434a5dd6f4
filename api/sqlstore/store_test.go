package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

var t0 = time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)

// forEachStore runs test against SQLite and PostgreSQL: one suite for both.
func forEachStore(t *testing.T, test func(t *testing.T, s *sqlstore.Store)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, openStore(t, name))
		})
	}
}

func openStore(t *testing.T, name string) *sqlstore.Store {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "vagt.db")
	if name == "postgres" {
		dsn = stacktest.SharedPostgres(t)
	}
	s, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// world is a municipality (Hedensted) with two districts, a citizen in district north
// behind gateway gw-0042, and staff of each district.
type world struct {
	north, south int64
	home         vagt.HomeID
	northStaff   api.Scope
	southStaff   api.Scope
}

func setup(t *testing.T, s *sqlstore.Store) world {
	t.Helper()
	ctx := t.Context()
	var w world
	var err error
	if w.north, err = s.CreateDistrict(ctx, 766, "Nord"); err != nil {
		t.Fatal(err)
	}
	if w.south, err = s.CreateDistrict(ctx, 766, "Syd"); err != nil {
		t.Fatal(err)
	}
	cit, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen", Address: "Søndergade 4, 8722 Hedensted",
		KeyBoxNote: "key box left of the door, code with the team",
		Contacts:   []api.Contact{{Name: "Peter Jensen", Phone: "+45 20 30 40 50", Relation: "son"}}})
	if err != nil {
		t.Fatal(err)
	}
	w.home = "home-0042"
	if err := s.CreateHome(ctx, w.home, w.north, cit); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterGateway(ctx, "gw-0042", w.home); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterDevice(ctx, "bu-17:btn", "gw-0042", vagt.TechPersonalAlarm, "alarm pendant"); err != nil {
		t.Fatal(err)
	}
	w.northStaff = api.Scope{Municipality: 766, Districts: []int64{w.north}}
	w.southStaff = api.Scope{Municipality: 766, Districts: []int64{w.south}}
	return w
}

func alarm(gw vagt.GatewayID, seq uint64, dev vagt.DeviceID, typ vagt.AlarmType, at time.Time) *vagt.Alarm {
	return &vagt.Alarm{Gateway: gw, Seq: seq, Municipality: 766, Time: at, Device: dev, Type: typ, Priority: typ.Priority()}
}

func ingest(t *testing.T, s *sqlstore.Store, a *vagt.Alarm, now time.Time) sqlstore.IngestResult {
	t.Helper()
	r, err := s.IngestAlarm(t.Context(), a, now)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIngestIdempotentFoldClear(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		r := ingest(t, s, alarm("gw-0042", 1001, "bu-17:btn", vagt.AlarmPanic, t0), t0)
		if r.Change != sqlstore.ChangeRaised || r.Alert.State != alerts.StateOpen || !r.Alert.Registered ||
			r.Alert.District != w.north || r.Alert.Home != w.home || r.Alert.Priority != vagt.PriorityCritical {
			t.Fatalf("first raise: %+v", r)
		}
		id := r.Alert.ID
		if r := ingest(t, s, alarm("gw-0042", 1001, "bu-17:btn", vagt.AlarmPanic, t0), t0.Add(time.Second)); r.Change != sqlstore.ChangeDuplicate || r.Alert.ID != id || r.Alert.Count != 1 {
			t.Fatalf("redelivery: %+v", r)
		}
		r = ingest(t, s, alarm("gw-0042", 1002, "bu-17:btn", vagt.AlarmPanic, t0.Add(5*time.Second)), t0.Add(5*time.Second))
		if r.Change != sqlstore.ChangeRepeated || r.Alert.ID != id || r.Alert.Count != 2 || !r.Alert.LastAt.Equal(t0.Add(5*time.Second)) {
			t.Fatalf("repeat: %+v", r)
		}
		// Another type on the same device is another alert.
		if r := ingest(t, s, alarm("gw-0042", 1003, "bu-17:btn", vagt.AlarmFall, t0), t0); r.Change != sqlstore.ChangeRaised || r.Alert.ID == id {
			t.Fatalf("fall: %+v", r)
		}
		// A clear marks it cleared; it stays open.
		clr := alarm("gw-0042", 1004, "bu-17:btn", vagt.AlarmPanic, t0.Add(time.Minute))
		clr.Clears = 1001
		r = ingest(t, s, clr, t0.Add(time.Minute))
		if r.Change != sqlstore.ChangeCleared || r.Alert.ID != id || r.Alert.ClearedAt == nil || r.Alert.State != alerts.StateOpen {
			t.Fatalf("clear: %+v", r)
		}
		if _, err := s.Resolve(t.Context(), id, "anna", w.northStaff, alerts.OutcomeVisitedAllWell, "", t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		// A new press after the resolve is a new alert.
		r = ingest(t, s, alarm("gw-0042", 1005, "bu-17:btn", vagt.AlarmPanic, t0.Add(3*time.Minute)), t0.Add(3*time.Minute))
		if r.Change != sqlstore.ChangeRaised || r.Alert.ID == id || r.Alert.Count != 1 {
			t.Fatalf("after resolve: %+v", r)
		}
	})
}

func TestUnknownGatewayStillAlerts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		setup(t, s)
		r := ingest(t, s, alarm("gw-unknown", 7, "x1", vagt.AlarmFall, t0), t0)
		if r.Change != sqlstore.ChangeRaised || r.Alert.Registered || r.Alert.District != 0 || r.Alert.Municipality != 766 {
			t.Fatalf("%+v", r)
		}
		// Everybody of the municipality sees it, whatever their district.
		got, err := s.ListAlerts(t.Context(), api.Scope{Municipality: 766, Districts: []int64{999}}, alerts.Filter{})
		if err != nil || len(got) != 1 || got[0].ID != r.Alert.ID {
			t.Fatalf("list: %v %+v", err, got)
		}
		if got, _ := s.ListAlerts(t.Context(), api.Scope{Municipality: 101}, alerts.Filter{}); len(got) != 0 {
			t.Fatalf("another municipality sees it: %+v", got)
		}
	})
}

func TestAckRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		for round := range 5 {
			id := ingest(t, s, alarm("gw-0042", uint64(100+round), "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
			var wg sync.WaitGroup
			errs := make([]error, 2)
			names := []string{"anna", "bo"}
			for i := range 2 {
				wg.Go(func() { _, errs[i] = s.Ack(context.Background(), id, names[i], w.northStaff, t0.Add(time.Second)) })
			}
			wg.Wait()
			var ok, lost int
			for i, err := range errs {
				var ce *alerts.ConflictError
				switch {
				case err == nil:
					ok++
				case errors.As(err, &ce) && errors.Is(err, api.ErrConflict) && ce.By == names[1-i]:
					lost++
				default:
					t.Fatalf("ack %s: %v", names[i], err)
				}
			}
			if ok != 1 || lost != 1 {
				t.Fatalf("round %d: %d won, %d lost: %v", round, ok, lost, errs)
			}
			if _, err := s.Resolve(t.Context(), id, "anna", w.northStaff, alerts.OutcomeFalseAlarm, "pressed by mistake", t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		id := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert.ID
		if _, err := s.Ack(ctx, id, "sara", w.southStaff, t0); !errors.Is(err, api.ErrForbidden) {
			t.Fatalf("other district acks: %v", err)
		}
		if _, err := s.Ack(ctx, 999999, "anna", w.northStaff, t0); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
		a, err := s.Ack(ctx, id, "anna", w.northStaff, t0.Add(20*time.Second))
		if err != nil || a.State != alerts.StateAcknowledged || a.AckedBy != "anna" || a.EscalateAt != nil {
			t.Fatalf("ack: %v %+v", err, a)
		}
		if _, err := s.Ack(ctx, id, "anna", w.northStaff, t0.Add(21*time.Second)); err != nil {
			t.Fatalf("ack again by the same: %v", err)
		}
		if _, err := s.AddNote(ctx, id, "anna", w.northStaff, "on my way", t0.Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resolve(ctx, id, "anna", w.northStaff, "went_home", "", t0); !errors.Is(err, api.ErrInvalid) {
			t.Fatalf("bad outcome: %v", err)
		}
		a, err = s.Resolve(ctx, id, "anna", w.northStaff, alerts.OutcomeVisitedHelpGiven, "helped her up", t0.Add(10*time.Minute))
		if err != nil || a.State != alerts.StateResolved || a.ResolvedBy != "anna" || a.Outcome != alerts.OutcomeVisitedHelpGiven {
			t.Fatalf("resolve: %v %+v", err, a)
		}
		var ce *alerts.ConflictError
		if _, err := s.Resolve(ctx, id, "bo", w.northStaff, alerts.OutcomeOther, "", t0.Add(11*time.Minute)); !errors.As(err, &ce) || ce.By != "anna" {
			t.Fatalf("resolve twice: %v", err)
		}
		d, err := s.AlertDetail(ctx, id, api.Scope{All: true}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if d.Citizen == nil || d.Citizen.Name != "Karen Jensen" || len(d.Citizen.Contacts) != 1 || len(d.Devices) != 1 ||
			d.Devices[0].Label != "alarm pendant" || len(d.Notes) != 2 || d.Notes[1].Text != "helped her up" {
			t.Fatalf("detail: %+v", d)
		}
		// The stream's log has every step in order.
		evs, err := s.EventsAfter(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range evs {
			kinds = append(kinds, string(e.Kind))
		}
		if want := "[new updated updated updated]"; fmtSlice(kinds) != want {
			t.Fatalf("events %v, want %s", kinds, want)
		}
		if last, err := s.LastEventID(ctx); err != nil || last != evs[len(evs)-1].ID {
			t.Fatalf("last event %d %v", last, err)
		}
	})
}

func fmtSlice(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}

func TestListFiltersAndPaging(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		for i := range 7 {
			ingest(t, s, alarm("gw-0042", uint64(i+1), vagt.DeviceID("dev-"+string(rune('a'+i))), vagt.AlarmPanic, t0), t0)
		}
		ingest(t, s, alarm("gw-0042", 100, "door", vagt.AlarmDoorAtNight, t0), t0)
		page1, err := s.ListAlerts(ctx, w.northStaff, alerts.Filter{Priority: vagt.PriorityCritical, Limit: 4})
		if err != nil || len(page1) != 4 {
			t.Fatalf("page 1: %v %d", err, len(page1))
		}
		page2, err := s.ListAlerts(ctx, w.northStaff, alerts.Filter{Priority: vagt.PriorityCritical, Limit: 4, Before: page1[3].ID})
		if err != nil || len(page2) != 3 || page2[0].ID >= page1[3].ID {
			t.Fatalf("page 2: %v %+v", err, page2)
		}
		if got, _ := s.ListAlerts(ctx, w.northStaff, alerts.Filter{State: alerts.StateResolved}); len(got) != 0 {
			t.Fatalf("resolved: %d", len(got))
		}
		if got, _ := s.ListAlerts(ctx, w.southStaff, alerts.Filter{}); len(got) != 0 {
			t.Fatalf("south sees north: %d", len(got))
		}
		if got, _ := s.ListAlerts(ctx, api.Scope{All: true}, alerts.Filter{District: w.north}); len(got) != 8 {
			t.Fatalf("district filter: %d", len(got))
		}
		if _, err := s.ListAlerts(ctx, w.northStaff, alerts.Filter{State: "bogus"}); !errors.Is(err, api.ErrInvalid) {
			t.Fatalf("bad state: %v", err)
		}
	})
}

func TestTokensAndAudit(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		exp := t0.Add(time.Hour)
		p, err := s.IssueToken(ctx, api.Principal{Name: "anna", Role: api.RoleStaff, Municipality: 766, Districts: []int64{w.north}}, hash, &exp, t0)
		if err != nil || p.UserID == 0 {
			t.Fatal(err)
		}
		got, err := s.Principal(ctx, auth.HashToken(tok), t0)
		if err != nil || got.Name != "anna" || got.Role != api.RoleStaff || len(got.Districts) != 1 || got.Districts[0] != w.north {
			t.Fatalf("principal: %v %+v", err, got)
		}
		if _, err := s.Principal(ctx, auth.HashToken(tok), exp); !errors.Is(err, api.ErrUnauthenticated) {
			t.Fatalf("expired: %v", err)
		}
		if _, err := s.Principal(ctx, auth.HashToken("vagt_nope"), t0); !errors.Is(err, api.ErrUnauthenticated) {
			t.Fatalf("unknown: %v", err)
		}
		if _, err := s.IssueToken(ctx, api.Principal{Name: "x", Role: api.RoleStaff, Municipality: 101, Districts: []int64{w.north}}, "h2", nil, t0); !errors.Is(err, api.ErrInvalid) {
			t.Fatalf("district of another municipality: %v", err)
		}
		if err := s.Audit(ctx, api.AuditEntry{At: t0, Actor: "anna", Action: "alert.read", Object: "alert/1"}); err != nil {
			t.Fatal(err)
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "alert/1", 0, 10)
		if err != nil || len(log) != 1 || log[0].Actor != "anna" {
			t.Fatalf("audit: %v %+v", err, log)
		}
		if err := s.TamperWithAuditForTest(ctx); err == nil {
			t.Fatal("the audit log accepted an update")
		}
	})
}

func TestMigrationsRunOnce(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "vagt.db")
	for range 2 {
		s, err := sqlstore.Open(t.Context(), dsn, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

// TestCreateDistrictTwice: a second district of the same name in a municipality is a
// conflict (409), not the store failing (503); the fuzzer found it (FuzzAPIJSONBodies).
func TestCreateDistrictTwice(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		if _, err := s.CreateDistrict(t.Context(), 766, "Vest"); err != nil {
			t.Fatal(err)
		}
		_, err := s.CreateDistrict(t.Context(), 766, "Vest")
		if !errors.Is(err, api.ErrConflict) || errors.Is(err, sqlstore.ErrUnavailable) {
			t.Fatalf("the same name again: %v, want a conflict", err)
		}
		if _, err := s.CreateDistrict(t.Context(), 751, "Vest"); err != nil {
			t.Fatalf("the name in another municipality: %v", err)
		}
	})
}
