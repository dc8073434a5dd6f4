package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestCitizenScope: the registry service decides access to a citizen's personal data from
// the caller's scope, in the transaction that reads or changes it; a refusal reads, changes
// and audits nothing.
func TestCitizenScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		all := api.Scope{All: true}
		hedensted := api.Scope{Municipality: 766}
		aarhus := api.Scope{Municipality: 751}
		c, err := s.RegisterCitizen(ctx, all, registry.Citizen{Municipality: 766, Name: "Karen Jensen", Address: "Vestergade 3"}, "admin", t0)
		must(t, err)

		// A manager of another municipality: answered as missing, nothing read or audited.
		if _, err := s.Citizen(ctx, aarhus, c.ID, "aarhus-manager", t0); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("Citizen out of scope: %v, want ErrOutOfScope", err)
		}
		name := "Karen Hansen"
		if _, err := s.UpdateCitizen(ctx, aarhus, c.ID, registry.CitizenChange{Name: &name}, "aarhus-manager", t0); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("UpdateCitizen out of scope: %v, want ErrOutOfScope", err)
		}
		if err := s.IssueActivationCode(ctx, aarhus, c.ID, "hash-1", "aarhus-manager", t0.Add(72*time.Hour), t0); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("IssueActivationCode out of scope: %v, want ErrOutOfScope", err)
		}
		if _, err := s.Citizens(ctx, aarhus, 766, "aarhus-manager", t0); !errors.Is(err, api.ErrForbidden) {
			t.Errorf("Citizens of another municipality: %v, want ErrForbidden", err)
		}
		if _, err := s.RegisterCitizen(ctx, aarhus, registry.Citizen{Municipality: 766, Name: "Ole"}, "aarhus-manager", t0); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("RegisterCitizen into another municipality: %v, want ErrOutOfScope", err)
		}
		// An invalid change to a citizen out of scope is refused for the scope, not the body.
		empty := ""
		if _, err := s.UpdateCitizen(ctx, aarhus, c.ID, registry.CitizenChange{Name: &empty}, "aarhus-manager", t0); !errors.Is(err, api.ErrOutOfScope) {
			t.Errorf("invalid UpdateCitizen out of scope: %v, want ErrOutOfScope", err)
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "", 0, 100)
		must(t, err)
		for _, e := range log {
			if e.Actor == "aarhus-manager" {
				t.Errorf("a refused call left an audit row: %+v", e)
			}
		}
		if cs, err := s.Citizens(ctx, aarhus, 0, "aarhus-manager", t0); err != nil || len(cs) != 0 {
			t.Errorf("Citizens in an empty scope: %d, %v; want none", len(cs), err)
		}

		// The citizen's own municipality: read, changed, audited.
		got, err := s.Citizen(ctx, hedensted, c.ID, "manager", t0)
		if err != nil || got.Name != "Karen Jensen" {
			t.Fatalf("Citizen in scope: %+v, %v", got, err)
		}
		if got, err = s.UpdateCitizen(ctx, hedensted, c.ID, registry.CitizenChange{Name: &name}, "manager", t0); err != nil || got.Name != name {
			t.Fatalf("UpdateCitizen in scope: %+v, %v", got, err)
		}
		if _, err := s.UpdateCitizen(ctx, hedensted, c.ID, registry.CitizenChange{Name: &empty}, "manager", t0); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("invalid UpdateCitizen in scope: %v, want ErrInvalid", err)
		}
		cs, err := s.Citizens(ctx, hedensted, 0, "manager", t0)
		if err != nil || len(cs) != 1 || cs[0].ID != c.ID {
			t.Errorf("Citizens in scope: %+v, %v; want the one citizen", cs, err)
		}
		// A manager's new citizen without a municipality is one of theirs.
		mine, err := s.RegisterCitizen(ctx, hedensted, registry.Citizen{Name: "Ole Berg"}, "manager", t0)
		if err != nil || mine.Municipality != 766 {
			t.Errorf("RegisterCitizen without a municipality: %+v, %v; want municipality 766", mine, err)
		}
		if _, err := s.Citizen(ctx, all, 999999, "admin", t0); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("Citizen that does not exist: %v, want ErrNotFound", err)
		}
	})
}

// TestCitizenDataScope: the export, the gateways whose telemetry goes with the citizen
// and the erasure are decided by the registry service from the caller's scope; erasing
// another municipality's citizen (or another citizen's, from a citizen's own login) is
// refused and erases and audits nothing.
func TestCitizenDataScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		all := api.Scope{All: true}
		c, err := s.RegisterCitizen(ctx, all, registry.Citizen{Municipality: 766, Name: "Karen Jensen", Address: "Vestergade 3",
			Contacts: []api.Contact{{Name: "Peter Jensen", Phone: "+45 20 30 40 50", Relation: "son"}}}, "admin", t0)
		must(t, err)
		must(t, s.CreateHome(ctx, "home-karen", w.north, c.ID))
		must(t, s.RegisterGateway(ctx, "gw-karen", "home-karen"))
		other, err := s.RegisterCitizen(ctx, all, registry.Citizen{Municipality: 751, Name: "Ole Berg"}, "admin", t0)
		must(t, err)

		for _, sc := range []struct {
			name  string
			scope api.Scope
		}{{"another municipality's", api.Scope{Municipality: 751}}, {"another citizen's own", api.Scope{Citizen: other.ID}}} {
			if _, err := s.EraseCitizen(ctx, sc.scope, c.ID, "intruder", t0); !errors.Is(err, api.ErrOutOfScope) {
				t.Errorf("EraseCitizen in %s scope: %v, want ErrOutOfScope", sc.name, err)
			}
			if _, err := s.CitizenExport(ctx, sc.scope, c.ID, "intruder", t0); !errors.Is(err, api.ErrOutOfScope) {
				t.Errorf("CitizenExport in %s scope: %v, want ErrOutOfScope", sc.name, err)
			}
			if _, err := s.CitizenGateways(ctx, sc.scope, c.ID); !errors.Is(err, api.ErrOutOfScope) {
				t.Errorf("CitizenGateways in %s scope: %v, want ErrOutOfScope", sc.name, err)
			}
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "", 0, 100)
		must(t, err)
		for _, e := range log {
			if e.Actor == "intruder" {
				t.Errorf("a refused call left an audit row: %+v", e)
			}
		}
		got, err := s.Citizen(ctx, all, c.ID, "admin", t0)
		if err != nil || got.Name != "Karen Jensen" || got.Address != "Vestergade 3" || len(got.Contacts) != 1 || got.ErasedAt != nil {
			t.Fatalf("citizen after a refused erasure: %+v, %v; want Karen as she was", got, err)
		}

		// The citizen's own login: their own data.
		own := api.Scope{Citizen: c.ID}
		x, err := s.CitizenExport(ctx, own, c.ID, "karen", t0)
		if err != nil || x.Citizen.Name != "Karen Jensen" || len(x.Homes) != 1 {
			t.Errorf("CitizenExport of one's own: %+v, %v", x.Citizen, err)
		}
		if gws, err := s.CitizenGateways(ctx, own, c.ID); err != nil || len(gws) != 1 || gws[0] != "gw-karen" {
			t.Errorf("CitizenGateways of one's own: %v, %v; want [gw-karen]", gws, err)
		}

		// An admin erases; a citizen that does not exist is not found.
		if _, err := s.EraseCitizen(ctx, all, 999999, "admin", t0); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("EraseCitizen of no citizen: %v, want ErrNotFound", err)
		}
		if _, err := s.CitizenGateways(ctx, all, 999999); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("CitizenGateways of no citizen: %v, want ErrNotFound", err)
		}
		e, err := s.EraseCitizen(ctx, api.Scope{Municipality: 766}, c.ID, "admin", t0)
		if err != nil || e.ContactsDeleted != 1 {
			t.Fatalf("EraseCitizen in scope: %+v, %v", e, err)
		}
		if got, err := s.Citizen(ctx, all, c.ID, "admin", t0); err != nil || got.Name != "" || got.ErasedAt == nil {
			t.Errorf("citizen after erasure: %+v, %v; want erased", got, err)
		}
	})
}
