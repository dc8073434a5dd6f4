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

// aarhusWorld adds to setup's Hedensted a home of Aarhus (751) behind gateway gw-0751 with a
// pending device, and a gateway of Hedensted in no home that reported a device.
func aarhusWorld(t *testing.T, s *sqlstore.Store) (home vagt.HomeID, citizen int64) {
	t.Helper()
	ctx := t.Context()
	d, err := s.CreateDistrict(ctx, 751, "Midt")
	must(t, err)
	citizen, err = s.CreateCitizen(ctx, 751, api.Citizen{Name: "Ole Hansen", Contacts: []api.Contact{{Name: "Lis Hansen", Relation: "datter"}}})
	must(t, err)
	home = "home-0751"
	must(t, s.CreateHome(ctx, home, d, citizen))
	must(t, s.RegisterGateway(ctx, "gw-0751", home))
	must(t, s.RegisterDevice(ctx, "bu-51:btn", "gw-0751", vagt.TechPersonalAlarm, "alarm pendant"))
	must(t, s.RecordStatus(ctx, &vagt.Status{Gateway: "gw-loose", Municipality: 766, Online: true, Time: t0,
		Inventory: []vagt.DeviceStatus{{Device: "bu-99:loose", Technology: vagt.TechPersonalAlarm, Battery: -1}}}, t0))
	return home, citizen
}

// TestRegistryCreateScope: creating a district, provisioning a gateway, installing,
// accepting and removing a device, test mode, a relative's grant, the citizen's login
// identity, and the citizen's own grants, care plans and erasure request decide the
// caller's scope in the service, before the request is checked: a refusal is
// api.ErrOutOfScope, changes nothing and audits nothing; naming a gateway or device of
// another municipality does not move it. The lists refuse another municipality. In scope,
// each goes through.
func TestRegistryCreateScope(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		aarhusHome, ole := aarhusWorld(t, s)
		karen := int64(1) // setup's citizen, the first
		hedensted := api.Scope{Municipality: 766}
		const actor = "refused-caller"
		until := t0.Add(time.Hour)
		grant := registry.NewGrant{Citizen: ole, RelativeName: "Lis Hansen", IDHash: "hash-l", RelativeUser: "relative-l",
			Parts: []string{registry.PartAlarms}, From: t0, Until: t0.Add(24 * time.Hour), GrantedBy: actor, Consent: "oral"}
		for what, call := range map[string]func() error{
			"AddDistrict of another municipality": func() error {
				_, err := s.AddDistrict(ctx, hedensted, registry.District{Municipality: 751, Name: "Vest"})
				return err
			},
			"AddDistrict of another municipality, invalid name": func() error {
				_, err := s.AddDistrict(ctx, hedensted, registry.District{Municipality: 751})
				return err
			},
			"ProvisionGateway into a home of another municipality": func() error {
				_, err := s.ProvisionGateway(ctx, hedensted, "gw-new-1", aarhusHome, "hash", actor, t0)
				return err
			},
			"ProvisionGateway of another municipality into an own home": func() error {
				_, err := s.ProvisionGateway(ctx, hedensted, "gw-0751", w.home, "hash", actor, t0)
				return err
			},
			"InstallDevice on a gateway of another municipality": func() error {
				_, err := s.InstallDevice(ctx, hedensted, registry.Device{ID: "bu-new:btn", Gateway: "gw-0751", Technology: vagt.TechPersonalAlarm}, actor, t0)
				return err
			},
			"InstallDevice of another municipality on an own gateway": func() error {
				_, err := s.InstallDevice(ctx, hedensted, registry.Device{ID: "bu-51:btn", Gateway: "gw-0042", Technology: vagt.TechPersonalAlarm}, actor, t0)
				return err
			},
			"InstallDevice of another municipality, invalid technology": func() error {
				_, err := s.InstallDevice(ctx, hedensted, registry.Device{ID: "bu-51:btn", Gateway: "gw-0042"}, actor, t0)
				return err
			},
			"AcceptDevice": func() error {
				_, err := s.AcceptDevice(ctx, hedensted, "bu-51:btn", 0, "", t0, actor, t0)
				return err
			},
			"AcceptDevice, invalid technology": func() error {
				_, err := s.AcceptDevice(ctx, hedensted, "bu-51:btn", vagt.Technology(250), "", t0, actor, t0)
				return err
			},
			"RemoveDevice": func() error {
				_, err := s.RemoveDevice(ctx, hedensted, "bu-51:btn", t0, actor, t0)
				return err
			},
			"SetTestMode, another municipality": func() error {
				_, err := s.SetTestMode(ctx, hedensted, "bu-51:btn", until, actor, t0)
				return err
			},
			"SetTestMode, another municipality, invalid time": func() error {
				_, err := s.SetTestMode(ctx, hedensted, "bu-51:btn", t0.Add(-time.Hour), actor, t0)
				return err
			},
			"SetTestMode, staff of another district": func() error {
				_, err := s.SetTestMode(ctx, w.southStaff, "bu-17:btn", until, actor, t0)
				return err
			},
			"SetTestMode, district staff, a device in no home": func() error {
				_, err := s.SetTestMode(ctx, w.northStaff, "bu-99:loose", until, actor, t0)
				return err
			},
			"SetCitizenIdentity": func() error { return s.SetCitizenIdentity(ctx, hedensted, ole, "hash-o", actor, t0) },
			"SetCitizenIdentity, another citizen's own login": func() error {
				return s.SetCitizenIdentity(ctx, api.Scope{Citizen: karen}, ole, "hash-o", actor, t0)
			},
			"GrantRelative": func() error {
				_, err := s.GrantRelative(ctx, hedensted, grant, t0)
				return err
			},
			"GrantRelative, invalid grant": func() error {
				g := grant
				g.Parts = []string{"key_box"}
				_, err := s.GrantRelative(ctx, hedensted, g, t0)
				return err
			},
			"GrantRelative, another citizen's own login": func() error {
				_, err := s.GrantRelative(ctx, api.Scope{Citizen: karen}, grant, t0)
				return err
			},
			"RequestErasure, another citizen's own login": func() error {
				_, err := s.RequestErasure(ctx, api.Scope{Citizen: karen}, ole, actor, t0)
				return err
			},
			"RelativeGrants, another citizen's own login": func() error {
				_, err := s.RelativeGrants(ctx, api.Scope{Citizen: karen}, ole)
				return err
			},
			"CitizenCarePlans, another citizen's own login": func() error {
				_, err := s.CitizenCarePlans(ctx, api.Scope{Citizen: karen}, ole)
				return err
			},
			"RevokeGrant": func() error {
				_, err := s.RevokeGrant(ctx, hedensted, ole, 1, actor, t0)
				return err
			},
		} {
			if err := call(); !errors.Is(err, api.ErrOutOfScope) {
				t.Errorf("%s: %v, want ErrOutOfScope", what, err)
			}
		}
		log, err := s.AuditLog(ctx, api.Scope{All: true}, "", 0, 500)
		must(t, err)
		for _, e := range log {
			if e.Actor == actor {
				t.Errorf("a refused call left an audit row: %+v", e)
			}
		}
		all := api.Scope{All: true}
		if ds, err := s.Districts(ctx, all, 751); err != nil || len(ds) != 1 {
			t.Errorf("Aarhus's districts after refused creates: %+v, %v; want Midt only", ds, err)
		}
		if g, err := s.RegistryGateway(ctx, "gw-0751"); err != nil || g.Municipality != 751 || g.Home != aarhusHome {
			t.Errorf("gw-0751 after refused provisioning: %+v, %v", g, err)
		}
		if _, err := s.RegistryGateway(ctx, "gw-new-1"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a gateway provisioned into another municipality's home: %v", err)
		}
		if d, err := s.Device(ctx, "bu-51:btn"); err != nil || d.Gateway != "gw-0751" || d.State != registry.DevicePending || d.TestUntil != nil {
			t.Errorf("bu-51:btn after refused changes: %+v, %v", d, err)
		}
		if _, err := s.Device(ctx, "bu-new:btn"); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a device installed on another municipality's gateway: %v", err)
		}
		for _, dev := range []vagt.DeviceID{"bu-17:btn", "bu-99:loose"} {
			if d, err := s.Device(ctx, dev); err != nil || d.TestUntil != nil {
				t.Errorf("%s after refused test mode: %+v, %v", dev, d, err)
			}
		}
		if gs, err := s.RelativeGrants(ctx, api.Scope{Citizen: ole}, ole); err != nil || len(gs) != 0 {
			t.Errorf("Ole's grants after refused grants: %+v, %v", gs, err)
		}
		if m, err := s.CitizensByIdentity(ctx, "hash-o"); err != nil || len(m) != 0 {
			t.Errorf("an identity recorded out of scope: %v, %v", m, err)
		}

		// Lists: another municipality, or a citizen's own scope, is refused (it names no
		// object); the scope's own is listed.
		for what, list := range map[string]func(api.Scope, vagt.MunicipalityCode) (int, error){
			"Districts": func(sc api.Scope, m vagt.MunicipalityCode) (int, error) {
				l, err := s.Districts(ctx, sc, m)
				return len(l), err
			},
			"Gateways": func(sc api.Scope, m vagt.MunicipalityCode) (int, error) {
				l, err := s.Gateways(ctx, sc, m)
				return len(l), err
			},
			"Devices": func(sc api.Scope, m vagt.MunicipalityCode) (int, error) {
				l, err := s.Devices(ctx, sc, m, "")
				return len(l), err
			},
			"DevicesUntested": func(sc api.Scope, m vagt.MunicipalityCode) (int, error) {
				l, err := s.DevicesUntested(ctx, sc, m, time.Hour, t0)
				return len(l), err
			},
		} {
			if _, err := list(hedensted, 751); !errors.Is(err, api.ErrForbidden) {
				t.Errorf("%s of another municipality: %v, want ErrForbidden", what, err)
			}
			if _, err := list(api.Scope{Citizen: karen}, 0); !errors.Is(err, api.ErrForbidden) {
				t.Errorf("%s in a citizen's own scope: %v, want ErrForbidden", what, err)
			}
			own, err := list(hedensted, 0)
			every, err2 := list(all, 0)
			if err != nil || err2 != nil || own == 0 || own >= every {
				t.Errorf("%s: Hedensted's %d (%v), everyone's %d (%v): want some, fewer than all", what, own, err, every, err2)
			}
		}

		// In scope: each goes through.
		if d, err := s.AddDistrict(ctx, hedensted, registry.District{Name: "Vest"}); err != nil || d.Municipality != 766 || d.ID == 0 {
			t.Errorf("AddDistrict in scope: %+v, %v", d, err)
		}
		if _, err := s.AddDistrict(ctx, hedensted, registry.District{}); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("AddDistrict in scope without a name: %v, want ErrInvalid", err)
		}
		if _, err := s.ProvisionGateway(ctx, hedensted, "gw-new-2", "home-nowhere", "hash", "manager", t0); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("ProvisionGateway into no home: %v, want ErrInvalid", err)
		}
		if g, err := s.ProvisionGateway(ctx, hedensted, "gw-loose", w.home, "hash", "manager", t0); err != nil || g.Municipality != 766 {
			t.Errorf("ProvisionGateway of a gateway that reported, into an own home: %+v, %v", g, err)
		}
		if _, err := s.InstallDevice(ctx, hedensted, registry.Device{ID: "bu-18:btn", Gateway: "gw-0042"}, "manager", t0); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("InstallDevice in scope without a technology: %v, want ErrInvalid", err)
		}
		if d, err := s.AcceptDevice(ctx, hedensted, "bu-17:btn", 0, "", t0, "manager", t0); err != nil || d.State != registry.DeviceInstalled {
			t.Errorf("AcceptDevice in scope: %+v, %v", d, err)
		}
		if d, err := s.SetTestMode(ctx, w.northStaff, "bu-17:btn", until, "anna", t0); err != nil || d.TestUntil == nil || !d.TestUntil.Equal(until) {
			t.Errorf("SetTestMode by the home's district staff: %+v, %v", d, err)
		}
		if _, err := s.SetTestMode(ctx, api.Scope{Municipality: 766}, "bu-99:loose", until, "manager", t0); err != nil {
			t.Errorf("SetTestMode of a device in no home by the municipality's manager: %v", err)
		}
		if d, err := s.RemoveDevice(ctx, hedensted, "bu-17:btn", t0.Add(time.Minute), "manager", t0); err != nil || d.State != registry.DeviceRemoved {
			t.Errorf("RemoveDevice in scope: %+v, %v", d, err)
		}
		aarhus := api.Scope{Municipality: 751}
		must(t, s.SetCitizenIdentity(ctx, aarhus, ole, "hash-o", "aarhus-manager", t0))
		g, err := s.GrantRelative(ctx, api.Scope{Citizen: ole}, grant, t0)
		if err != nil {
			t.Fatalf("GrantRelative in the citizen's own scope: %v", err)
		}
		if _, err := s.RevokeGrant(ctx, aarhus, ole, g.ID, "aarhus-manager", t0); err != nil {
			t.Errorf("RevokeGrant in scope: %v", err)
		}
		if _, err := s.RequestErasure(ctx, api.Scope{Citizen: ole}, ole, "citizen-ole", t0); err != nil {
			t.Errorf("RequestErasure in the citizen's own scope: %v", err)
		}
	})
}
