package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestCitizenViewScope: the registry service decides who reads a citizen's page from the
// caller's scope, in the transaction that audits the read. A relative's scope lets in
// only a citizen a grant of that relative names that is live at the read (not ended, not
// yet started, not revoked meanwhile, not of an erased citizen), shows only the granted
// parts, and nothing else of the citizen's data; a citizen's own scope lets in that
// citizen only. A refused read is audited nowhere.
func TestCitizenViewScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx, now := t.Context(), t0
		all := api.Scope{All: true}
		d, err := s.CreateDistrict(ctx, 766, "Nord")
		must(t, err)
		karen, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: "Karen Jensen", KeyBoxNote: "4711", Contacts: []api.Contact{
			{Name: "Peter Jensen", Relation: "søn"}, {Name: "Lise Jensen", Relation: "datter"}}})
		must(t, err)
		ole, err := s.CreateCitizen(ctx, 766, api.Citizen{Name: "Ole Berg", Contacts: []api.Contact{{Name: "Mette Berg", Relation: "datter"}}})
		must(t, err)
		must(t, s.CreateHome(ctx, "home-k", d, karen))
		must(t, s.RegisterGateway(ctx, "gw-k", "home-k"))
		must(t, s.RegisterDevice(ctx, "pa-k", "gw-k", vagt.TechPersonalAlarm, "pendant"))
		_, err = s.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-k", Seq: 1, Municipality: 766, Time: now, Device: "pa-k", Type: vagt.AlarmPanic}, now)
		must(t, err)

		grant := func(citizen int64, name, user string, from time.Time, parts ...string) registry.RelativeGrant {
			t.Helper()
			g, err := s.GrantRelative(ctx, all, registry.NewGrant{Citizen: citizen, RelativeName: name, IDHash: "hash-" + user, RelativeUser: user,
				Parts: parts, From: from, Until: now.Add(24 * time.Hour), GrantedBy: "citizen", Consent: "citizen"}, now)
			must(t, err)
			return g
		}
		peter := grant(karen, "Peter Jensen", "relative-peter", now, registry.PartAlarms)
		grant(karen, "Lise Jensen", "relative-lise", now.Add(time.Hour), registry.PartAlarms, registry.PartDevices) // not started yet
		grant(ole, "Mette Berg", "relative-mette", now, registry.PartAlarms, registry.PartDevices)
		relative := func(user string) api.Scope {
			p := api.Principal{Name: user, Role: api.RoleRelative}
			sc, err := p.RelativeScope()
			must(t, err)
			return sc
		}

		// A relative with a live grant: the granted part, nothing else of the page; audited.
		v, err := s.CitizenView(ctx, relative("relative-peter"), karen, "relative-peter", "grant", now.Add(time.Minute))
		if err != nil || v.Name != "Karen Jensen" || len(v.Alerts) != 1 || len(v.Devices) != 0 || len(v.AccessLog) != 0 || len(v.Homes) != 0 {
			t.Errorf("the relative's view (alarms granted): %+v, %v", v, err)
		}
		// The citizen's own page: all of it, their own look in the access log.
		v, err = s.CitizenView(ctx, api.Scope{Citizen: karen}, karen, "citizen-karen", "own page", now.Add(time.Minute))
		if err != nil || len(v.Alerts) != 1 || len(v.Devices) != 1 || len(v.Homes) != 1 || len(v.AccessLog) == 0 || v.AccessLog[0].Action != "citizen.view" {
			t.Errorf("the citizen's own page: %+v, %v", v, err)
		}

		// Erase Ole (whose relative then holds a grant to nobody) and revoke Peter's grant.
		if _, err := s.EraseCitizen(ctx, all, ole, "admin", now); err != nil {
			t.Fatalf("erase: %v", err)
		}
		refusals := []struct {
			name    string
			scope   api.Scope
			citizen int64
			at      time.Time
		}{
			{"a relative of another citizen", relative("relative-mette"), karen, now.Add(time.Minute)},
			{"a relative without any grant", relative("relative-nobody"), karen, now.Add(time.Minute)},
			{"a relative whose grant has not started", relative("relative-lise"), karen, now.Add(time.Minute)},
			{"a relative whose grant has ended", relative("relative-peter"), karen, now.Add(25 * time.Hour)},
			{"a relative of an erased citizen", relative("relative-mette"), ole, now.Add(time.Minute)},
			{"another citizen's own login", api.Scope{Citizen: ole}, karen, now.Add(time.Minute)},
			{"an empty scope", api.Scope{}, karen, now.Add(time.Minute)},
		}
		for _, r := range refusals {
			if _, err := s.CitizenView(ctx, r.scope, r.citizen, "refused", r.name, r.at); !errors.Is(err, api.ErrOutOfScope) {
				t.Errorf("CitizenView by %s: %v, want ErrOutOfScope", r.name, err)
			}
		}
		// Revoked after the handler read the grants: the service reads them again.
		if _, err := s.RevokeGrant(ctx, api.Scope{Citizen: karen}, karen, peter.ID, "citizen-karen", now.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CitizenView(ctx, relative("relative-peter"), karen, "refused", "revoked", now.Add(3*time.Minute)); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("CitizenView by a relative whose grant was revoked: %v, want ErrOutOfScope", err)
		}

		// A grant is the view's only: the rest of a citizen's data is out of a relative's
		// scope, even while the grant runs.
		lise := relative("relative-lise")
		later := now.Add(2 * time.Hour)
		if _, err := s.CitizenView(ctx, lise, karen, "relative-lise", "started", later); err != nil {
			t.Errorf("CitizenView once the grant started: %v", err)
		}
		if _, err := s.CitizenExport(ctx, lise, karen, "refused", later); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("CitizenExport in a relative's scope: %v, want ErrOutOfScope", err)
		}
		if _, err := s.CitizenCarePlans(ctx, lise, karen); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("CitizenCarePlans in a relative's scope: %v, want ErrOutOfScope", err)
		}
		if _, err := s.RelativeGrants(ctx, lise, karen); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("RelativeGrants in a relative's scope: %v, want ErrOutOfScope", err)
		}
		if _, err := s.RequestErasure(ctx, lise, karen, "refused", later); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("RequestErasure in a relative's scope: %v, want ErrOutOfScope", err)
		}
		if _, err := s.Citizen(ctx, lise, karen, "refused", later); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("Citizen in a relative's scope: %v, want ErrOutOfScope", err)
		}
		if api.Scope.Allows(lise, 766, d) {
			t.Error("a relative's scope allows the alerts of the citizen's municipality")
		}

		log, err := s.AuditLog(ctx, all, "", 0, 1000)
		must(t, err)
		views := map[string]int{}
		for _, e := range log {
			if e.Actor == "refused" {
				t.Errorf("a refused call left an audit row: %+v", e)
			}
			if e.Action == "citizen.view" {
				views[e.Actor]++
			}
		}
		if views["relative-peter"] != 1 || views["citizen-karen"] != 1 || views["relative-lise"] != 1 {
			t.Errorf("citizen.view rows by actor: %v, want one each for relative-peter, citizen-karen, relative-lise", views)
		}
	})
}
