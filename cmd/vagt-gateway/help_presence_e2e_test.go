package main

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestHelpOnTheWayAndArrivedOnTheUnit: the care staff's steps (docs/alerts.md, "Presence")
// reach the citizen's unit: "on my way" and "arrived" as S frames and on its display, in
// order, and a late "on my way" after the arrival changes nothing.
func TestHelpOnTheWayAndArrivedOnTheUnit(t *testing.T) {
	plat := stacktest.Mosquitto(t)
	local := stacktest.Mosquitto(t)
	h := startHelpHome(t, plat, local, time.Hour)
	h.unit.Alarm("btn", "panic")
	a := nextAlarm(t, h)
	for _, step := range []struct {
		state   vagt.HelpState
		display string
	}{
		{vagt.HelpReceived, "Alarmen er modtaget"},
		{vagt.HelpAcknowledged, "Hjælpen er på vej"},
		{vagt.HelpOnTheWay, "Hjælpen er på vej"},
		{vagt.HelpArrived, "Hjælpen er fremme"},
	} {
		h.tell(t, []uint64{a.Seq}, step.state)
		if n := nextNews(t, h.unit, step.state.String()); n.Event != a.Seq {
			t.Fatalf("%s: news %+v", step.state, n)
		}
		if got := h.unit.Display(); got != step.display {
			t.Fatalf("%s: display %q, want %q", step.state, got, step.display)
		}
	}
	h.tell(t, []uint64{a.Seq}, vagt.HelpOnTheWay) // late: a repeat
	h.tell(t, []uint64{a.Seq}, vagt.HelpResolved)
	nextNews(t, h.unit, "resolved")
	stacktest.WaitFor(t, "5 downlinks applied", time.Minute, func() bool { return h.g.HelpStats().Applied >= 5 })
	if st := h.g.HelpStats(); st.Applied != 5 || st.Repeats != 1 {
		t.Fatalf("help stats %+v: want 5 applied, 1 repeat", st)
	}
}
