package sqlstore_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/roster"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestRosterScope: the roster service decides every read and change of a roster, the
// central on-call and the duty board from the caller's scope, before it checks the
// request; a refusal reads, changes and audits nothing.
func TestRosterScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		all := api.Scope{All: true}
		hedensted := api.Scope{Municipality: 766}
		aarhus := api.Scope{Municipality: 751}
		staffUser(t, s, "dagmar", w.north)
		staffUser(t, s, "nina", w.north)
		staffUser(t, s, "carl")
		if _, err := s.SaveRoster(ctx, all, roster.Roster{District: w.north, Shifts: nights([]string{"nina"}, roster.Backup{})}, "lead", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveCentralOnCall(ctx, all, 766, []string{"carl"}, "lead", t0); err != nil {
			t.Fatal(err)
		}

		invalid := []roster.Shift{{Kind: roster.Night, Start: "25:00", End: "07:00"}}
		for _, sc := range []struct {
			name  string
			scope api.Scope
		}{{"another municipality", aarhus}, {"a citizen's own", api.Scope{Citizen: 1}}} {
			for what, call := range map[string]func() error{
				"Roster": func() error { _, err := s.Roster(ctx, sc.scope, w.north); return err },
				"SaveRoster": func() error {
					_, err := s.SaveRoster(ctx, sc.scope, roster.Roster{District: w.north, Shifts: nights([]string{"dagmar"}, roster.Backup{})}, "aarhus-manager", t0)
					return err
				},
				"SaveRoster invalid": func() error {
					_, err := s.SaveRoster(ctx, sc.scope, roster.Roster{District: w.north, Shifts: invalid}, "aarhus-manager", t0)
					return err
				},
				"CentralOnCall": func() error { _, err := s.CentralOnCall(ctx, sc.scope, 766); return err },
				"SaveCentralOnCall": func() error {
					_, err := s.SaveCentralOnCall(ctx, sc.scope, 766, nil, "aarhus-manager", t0)
					return err
				},
				"DutyAt": func() error { _, err := s.DutyAt(ctx, sc.scope, 766, t0); return err },
			} {
				if err := call(); !errors.Is(err, api.ErrOutOfScope) {
					t.Errorf("%s in %s scope: %v, want ErrOutOfScope", what, sc.name, err)
				}
			}
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "", 0, 100)
		must(t, err)
		for _, e := range log {
			if e.Actor == "aarhus-manager" {
				t.Errorf("a refused call left an audit row: %+v", e)
			}
		}
		r, err := s.Roster(ctx, hedensted, w.north)
		if err != nil || len(r.Shifts) != 2 || !slices.Equal(r.Shifts[1].Staff, []string{"nina"}) || r.UpdatedBy != "lead" {
			t.Errorf("roster after refused changes: %+v, %v; want lead's with nina at night", r, err)
		}
		if c, err := s.CentralOnCall(ctx, hedensted, 766); err != nil || !slices.Equal(c, []string{"carl"}) {
			t.Errorf("central on-call after refused changes: %v, %v; want [carl]", c, err)
		}

		// In scope: the municipality's own reads and changes go through.
		if b, err := s.DutyAt(ctx, hedensted, 766, t0); err != nil || len(b.Districts) != 2 || !slices.Equal(b.Central, []string{"carl"}) {
			t.Errorf("DutyAt in scope: %+v, %v", b, err)
		}
		if r, err := s.Roster(ctx, hedensted, w.south); err != nil || len(r.Shifts) != 0 || r.Municipality != 766 {
			t.Errorf("a roster never saved, in scope: %+v, %v; want no shifts", r, err)
		}
		if _, err := s.SaveRoster(ctx, hedensted, roster.Roster{District: w.north, Shifts: invalid}, "manager", t0); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("invalid SaveRoster in scope: %v, want ErrInvalid", err)
		}
		if _, err := s.SaveRoster(ctx, hedensted, roster.Roster{District: w.south, Shifts: nights([]string{"dagmar"}, roster.Backup{District: w.north})}, "manager", t0); err != nil {
			t.Errorf("SaveRoster in scope: %v", err)
		}
		if c, err := s.SaveCentralOnCall(ctx, hedensted, 766, nil, "manager", t0); err != nil || len(c) != 0 {
			t.Errorf("SaveCentralOnCall in scope: %v, %v", c, err)
		}
		if _, err := s.Roster(ctx, hedensted, 999999); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("Roster of no district: %v, want ErrNotFound", err)
		}
		if _, err := s.SaveRoster(ctx, all, roster.Roster{District: 999999}, "admin", t0); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("SaveRoster of no district: %v, want ErrNotFound", err)
		}
	})
}
