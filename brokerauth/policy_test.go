package brokerauth_test

import (
	"testing"

	"github.com/vagt-dk/vagt/api/gps"
	"github.com/vagt-dk/vagt/brokerauth"
)

func TestPolicyDecide(t *testing.T) {
	p, err := brokerauth.NewPolicy()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, clientID, refused string // refused "": granted
	}{
		{"gw-000001", "gw-000001", ""},
		{"gw-000001", "gw-000002", brokerauth.ReasonClientID},
		{"gw-000001", "vagt-api-host1", brokerauth.ReasonClientID},
		{"gw-000001", "gw-000001-x", brokerauth.ReasonClientID},
		{"svc_api", "vagt-api", ""},
		{"svc_api", "vagt-api-host1-config", ""},
		{"svc_api", "vagt-apix", brokerauth.ReasonClientID},
		{"svc_api", "vagt-ingest-0", brokerauth.ReasonClientID},
		{"svc_ingest", "vagt-ingest-host1", ""},
		{"ops_monitor", "ops-monitor", ""},
		{"ops_monitor", "gw-000001", brokerauth.ReasonClientID},
		{"vagt-api-1", "vagt-api-1", brokerauth.ReasonReservedID},
		{"vagt-ingest", "vagt-ingest", brokerauth.ReasonReservedID},
		{"gps.karen-01", "gps_karen-01", ""},
		{"gps.karen-01", "gps_karen-01_phone", ""},
		{"gps.karen-01", "gps_karen-01-2", brokerauth.ReasonClientID},
		{"gps.karen", "gps_karen-01", brokerauth.ReasonClientID},
		{"gps.karen-01", "gw-000001", brokerauth.ReasonClientID},
		{"gps.x", "gps_x", brokerauth.ReasonUnknownUser},
		{"GW-1", "GW-1", brokerauth.ReasonUnknownUser},
		{"gw>", "gw>", brokerauth.ReasonUnknownUser},
		{"", "", brokerauth.ReasonUnknownUser},
	} {
		g, err := p.Decide(c.user, c.clientID)
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%q as %q: refused (%v), want granted", c.user, c.clientID, err)
		case c.refused != "" && err == nil:
			t.Errorf("%q as %q: granted %+v, want refused for %s", c.user, c.clientID, g, c.refused)
		case c.refused != "" && brokerauth.ReasonOf(err) != c.refused:
			t.Errorf("%q as %q: refused for %v, want %s", c.user, c.clientID, err, c.refused)
		}
	}
	g, _ := p.Decide("gw-000001", "gw-000001")
	if g.Publish[0] != "vagt/v1/gw/gw-000001/telemetry" || g.Subscribe[1] != "vagt/v1/gw/gw-000001/downlink" {
		t.Errorf("gateway grant %+v", g)
	}
}

// The tracker id rule is api/gps's (kept as a copy: a component imports no other).
func TestTrackerIDsAsAPIGPS(t *testing.T) {
	p, err := brokerauth.NewPolicy()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"gps.karen-01", "gps.abc", "gps.ab", "gps.Karen", "gps.a.b", "gps." + string(make([]byte, 61)), "gps.x_y", "gpsx.abc"} {
		_, err := p.Decide(id, brokerauth.TrackerClientID(id, ""))
		if granted := err == nil; granted != gps.ValidTrackerID(id) {
			t.Errorf("%q: granted %t, api/gps.ValidTrackerID %t", id, granted, gps.ValidTrackerID(id))
		}
	}
}

func TestSubject(t *testing.T) {
	for filter, want := range map[string]string{
		"vagt/v1/gw/+/alarm":           "vagt.v1.gw.*.alarm",
		"vagt/v1/#":                    "vagt.v1.>",
		"owntracks/gps.karen-01/phone": "owntracks.gps//karen-01.phone",
	} {
		if got := brokerauth.Subject(filter); got != want {
			t.Errorf("Subject(%q) = %q, want %q", filter, got, want)
		}
	}
}
