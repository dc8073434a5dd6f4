package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// TestManagerStreamIsNotListening: the district lead (a manager) is on the night shift and
// has the console open. A manager may watch alerts but not acknowledge or take them (403),
// so their stream must not count as somebody on the tier listening: the alert escalates at
// once, as for a shift nobody hears. Before, the lead's stream kept it waiting a full step.
func TestManagerStreamIsNotListening(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	north, _ := f.districts(t)
	roster := `{"shifts":[{"kind":"night","weekdays":["mon","tue","wed","thu","fri","sat","sun"],"start":"22:00","end":"07:00","staff":["mads"],"backup":{"user":"mads"}}]}`
	if code, body := f.do(t, "mads", "PUT", fmt.Sprintf("/api/v1/districts/%d/roster", north), roster); code != 200 {
		t.Fatalf("roster: %d %v", code, body)
	}
	_, madsC := openStream(t, f, "", "mads", "")
	f.waitClients(t, 1, "the lead's stream")
	if got := f.feed.Listeners(); got["mads"] != 0 {
		t.Errorf("the lead, who cannot acknowledge, counts as listening: %v", got)
	}
	r, err := f.store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0001", Seq: 2, Municipality: 766, Time: t0, Device: "btn", Type: vagt.AlarmFall}, t0)
	if err != nil {
		t.Fatal(err)
	}
	esc := &alerts.Escalator{Store: f.store, Clock: api.NewManualClock(t0), Unheard: f.store, Listeners: f.feed, Replica: "review"}
	if _, err := esc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	// Raised at t0, its first deadline minutes away: only "nobody listening" moves it.
	if a, _ := f.store.Alert(ctx, r.Alert.ID); a.Tier != alerts.TierCentral {
		t.Errorf("nobody who can act listens on the shift nor the backup, yet the alert waits at %s", a.Tier)
	}
	// The lead still sees it on the stream.
	for ev := range madsC {
		if ev.name == "new" {
			return
		}
	}
	t.Fatal("the lead's stream ended without the alert")
}
