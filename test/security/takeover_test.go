package security

import (
	"net/http"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// A manager may install a device on, or provision a gateway into, a home of their own
// municipality — but not take over a device or a gateway that is registered in another
// municipality by naming it in the request: that needs the right to manage where it is
// now, too. The admin may.
func TestNoTakeoverFromAnotherMunicipality(t *testing.T) {
	w := startWorld(t)
	s := w.srv.Store
	away, err := s.CreateDistrict(t.Context(), otherMun, "Vesterbro")
	must(t, err)
	citizen, err := s.CreateCitizen(t.Context(), otherMun, api.Citizen{Name: "Ole Hansen", Address: "Istedgade 1, 1650 København V"})
	must(t, err)
	must(t, s.CreateHome(t.Context(), "home-away-1", away, citizen))
	must(t, s.RegisterGateway(t.Context(), "gw-away-1", "home-away-1"))
	must(t, s.RegisterDevice(t.Context(), "zb-away:door", "gw-away-1", vagt.TechDoorSensor, "front door"))

	where := func(dev vagt.DeviceID) vagt.MunicipalityCode {
		d, err := s.Device(t.Context(), dev)
		must(t, err)
		g, err := s.RegistryGateway(t.Context(), d.Gateway)
		must(t, err)
		return g.Municipality
	}
	for _, c := range []struct {
		who, path, body string
		want            int
	}{
		// Another municipality's objects answer as missing ones (issue 22, item 7).
		{"manager", "/api/v1/devices", `{"id":"zb-away:door","gateway":"gw-sec-1","technology":"door_sensor"}`, 404},
		{"manager", "/api/v1/gateways", `{"id":"gw-away-1","home":"` + w.home + `"}`, 404},
	} {
		if code := w.call(t, c.who, http.MethodPost, c.path, c.body, nil); code != c.want {
			t.Errorf("POST %s %s as %s: %d, want %d", c.path, c.body, c.who, code, c.want)
		}
	}
	if m := where("zb-away:door"); m != otherMun {
		t.Errorf("the device of %d is in %d now", otherMun, m)
	}
	if g, err := s.RegistryGateway(t.Context(), "gw-away-1"); err != nil || g.Municipality != otherMun {
		t.Errorf("the gateway of %d is in %d now (%v)", otherMun, g.Municipality, err)
	}
	// Its own manager installs it.
	if code := w.call(t, "manager-away", http.MethodPost, "/api/v1/devices",
		`{"id":"zb-away:door","gateway":"gw-away-1","technology":"door_sensor"}`, nil); code != http.StatusCreated {
		t.Errorf("manager-away installing their own device: %d, want 201", code)
	}
}

// A registered gateway's status that names another municipality (a misconfigured or
// hostile gateway) does not move it there: the registry knows where its home is, as it
// does for the gateway's alerts. Otherwise the other municipality's manager would list it
// and manage its devices, and its own manager could not.
func TestStatusCannotMoveARegisteredGateway(t *testing.T) {
	w := startWorld(t)
	s := w.srv.Store
	now := time.Now().Truncate(time.Millisecond)
	must(t, s.RecordStatus(t.Context(), &vagt.Status{Gateway: "gw-sec-1", Municipality: otherMun, Online: true, Time: now,
		Inventory: []vagt.DeviceStatus{{Device: "bu-1:reported", Technology: vagt.TechPersonalAlarm, Battery: -1}}}, now))
	if g, err := s.RegistryGateway(t.Context(), "gw-sec-1"); err != nil || g.Municipality != ownMun {
		t.Errorf("gw-sec-1 is in %d after a status naming %d (%v), want %d", g.Municipality, otherMun, err, ownMun)
	}
	for who, want := range map[string]int{"manager": 200, "manager-away": 404} {
		if code := w.call(t, who, http.MethodPost, "/api/v1/devices/bu-1:reported/accept", "", nil); code != want {
			t.Errorf("%s accepting the device the gateway reported: %d, want %d", who, code, want)
		}
	}
	var list struct{ Gateways []struct{ ID string } }
	if code := w.call(t, "manager-away", http.MethodGet, "/api/v1/gateways", "", &list); code != 200 || len(list.Gateways) != 0 {
		t.Errorf("manager-away's gateway list: %d %+v, want 200 and none", code, list)
	}
}
