package sqlstore_test

import (
	"errors"
	"testing"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestRegistryChangeScope: every change to a district, home or gateway decides the
// caller's scope in its own transaction, before the change is checked; a refused change
// changes and audits nothing, and one in scope goes through.
func TestRegistryChangeScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		aarhus := api.Scope{Municipality: 751}
		hedensted := api.Scope{Municipality: 766}
		name, empty := "Nordvest", ""
		future := t0.AddDate(1, 0, 0) // not a valid decommission date: refused for the scope first
		for what, call := range map[string]func(api.Scope) error{
			"UpdateDistrict": func(sc api.Scope) error {
				_, err := s.UpdateDistrict(ctx, sc, w.north, registry.DistrictChange{Name: &name}, "aarhus-manager", t0)
				return err
			},
			"UpdateDistrict invalid": func(sc api.Scope) error {
				_, err := s.UpdateDistrict(ctx, sc, w.north, registry.DistrictChange{Name: &empty}, "aarhus-manager", t0)
				return err
			},
			"DeleteDistrict": func(sc api.Scope) error { return s.DeleteDistrict(ctx, sc, w.south, "aarhus-manager", t0) },
			"UpdateHome": func(sc api.Scope) error {
				_, err := s.UpdateHome(ctx, sc, w.home, registry.HomeChange{District: &w.south}, "aarhus-manager", t0)
				return err
			},
			"DecommissionHome": func(sc api.Scope) error {
				_, err := s.DecommissionHome(ctx, sc, w.home, future, "aarhus-manager", t0)
				return err
			},
			"UpdateGateway": func(sc api.Scope) error {
				home := w.home
				_, err := s.UpdateGateway(ctx, sc, "gw-0042", registry.GatewayChange{Home: &home}, "aarhus-manager", t0)
				return err
			},
			"RotateGatewayCredentials": func(sc api.Scope) error {
				_, err := s.RotateGatewayCredentials(ctx, sc, "gw-0042", "hash", "aarhus-manager", t0)
				return err
			},
			"DecommissionGateway": func(sc api.Scope) error {
				_, err := s.DecommissionGateway(ctx, sc, "gw-0042", t0, "aarhus-manager", t0)
				return err
			},
			"AddHome": func(sc api.Scope) error {
				_, err := s.AddHome(ctx, sc, registry.Home{ID: "home-aarhus", District: w.south})
				return err
			},
			"AddHome invalid": func(sc api.Scope) error {
				_, err := s.AddHome(ctx, sc, registry.Home{ID: "not a home id!", District: w.south})
				return err
			},
		} {
			if err := call(aarhus); !errors.Is(err, api.ErrOutOfScope) {
				t.Errorf("%s out of scope: %v, want ErrOutOfScope", what, err)
			}
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "", 0, 100)
		must(t, err)
		for _, e := range log {
			if e.Actor == "aarhus-manager" {
				t.Errorf("a refused change left an audit row: %+v", e)
			}
		}
		if d, err := s.District(ctx, w.north); err != nil || d.Name != "Nord" {
			t.Errorf("district after refused changes: %+v, %v; want Nord", d, err)
		}
		if h, err := s.Home(ctx, api.Scope{All: true}, w.home); err != nil || h.District != w.north || h.DecommissionedAt != nil {
			t.Errorf("home after refused changes: %+v, %v", h, err)
		}

		// In scope: checked, then changed.
		if _, err := s.UpdateDistrict(ctx, hedensted, w.north, registry.DistrictChange{Name: &empty}, "manager", t0); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("invalid UpdateDistrict in scope: %v, want ErrInvalid", err)
		}
		if d, err := s.UpdateDistrict(ctx, hedensted, w.north, registry.DistrictChange{Name: &name}, "manager", t0); err != nil || d.Name != name {
			t.Errorf("UpdateDistrict in scope: %+v, %v", d, err)
		}
		if _, err := s.AddHome(ctx, aarhus, registry.Home{ID: "home-nowhere", District: 999999}); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("AddHome in no district: %v, want ErrInvalid", err)
		}
		if h, err := s.AddHome(ctx, hedensted, registry.Home{ID: "home-0043", District: w.south}); err != nil || h.Municipality != 766 {
			t.Errorf("AddHome in scope: %+v, %v", h, err)
		}
		if _, err := s.UpdateDistrict(ctx, hedensted, 999999, registry.DistrictChange{Name: &name}, "manager", t0); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("UpdateDistrict of no district: %v, want ErrNotFound", err)
		}
	})
}

// TestHomeScope: one home and the list of homes are decided by the registry service from
// the caller's scope, on the rows it reads.
func TestHomeScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		hedensted := api.Scope{Municipality: 766}
		aarhus := api.Scope{Municipality: 751}
		own := api.Scope{Citizen: 1}
		for _, sc := range []api.Scope{aarhus, own} {
			if _, err := s.Home(ctx, sc, w.home); !errors.Is(err, api.ErrOutOfScope) {
				t.Errorf("Home out of scope %+v: %v, want ErrOutOfScope", sc, err)
			}
			if _, err := s.Homes(ctx, sc, 766); !errors.Is(err, api.ErrForbidden) {
				t.Errorf("Homes of another municipality in scope %+v: %v, want ErrForbidden", sc, err)
			}
		}
		if hs, err := s.Homes(ctx, aarhus, 0); err != nil || len(hs) != 0 {
			t.Errorf("Homes in an empty scope: %+v, %v; want none", hs, err)
		}
		if hs, err := s.Homes(ctx, hedensted, 0); err != nil || len(hs) != 1 || hs[0].ID != w.home {
			t.Errorf("Homes in scope: %+v, %v; want %s", hs, err, w.home)
		}
		if h, err := s.Home(ctx, hedensted, w.home); err != nil || h.Municipality != 766 {
			t.Errorf("Home in scope: %+v, %v", h, err)
		}
		if _, err := s.Home(ctx, api.Scope{All: true}, "home-none"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("Home that does not exist: %v, want ErrNotFound", err)
		}
	})
}
