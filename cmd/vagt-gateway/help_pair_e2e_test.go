package main

import (
	"context"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// Help confirmed in the home, for a gateway with a second way out (docs/gateway.md, "A
// second way out" and "Help confirmed in the home").

func withSecondary(b *localstack.Mosquitto) func(*gateway.Config) {
	return func(c *gateway.Config) { c.Uplink.Secondary.Broker = b.URL() }
}

func links(h *helpHome) (primary, secondary bool) {
	l := h.g.Snapshot().Links
	return l["primary"], l["secondary"]
}

// TestHelpThroughTheSecondLink: the primary's broker is killed; a press goes out through the
// secondary, and the platform's news published on the secondary reaches the unit as S frames
// for that press.
func TestHelpThroughTheSecondLink(t *testing.T) {
	platA, platB, local := stacktest.Mosquitto(t), stacktest.Mosquitto(t), stacktest.Mosquitto(t)
	h := startHelpHome(t, platA, local, time.Hour, withSecondary(platB))
	alarmsB := make(chan vagt.Alarm, 100)
	apiB := connect(t, platB.URL(), "api-help-b", func(_ mqtt.Client, m mqtt.Message) {
		if a, err := vagt.DecodeAlarm(m.Payload()); err == nil {
			alarmsB <- a
		}
	}, vagt.Topic("gw-help", vagt.LaneAlarm))
	eventually(t, "both links up", func() bool { p, s := links(h); return p && s })
	if err := platA.Kill(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the primary seen down", func() bool { p, s := links(h); return !p && s })

	frame, _ := h.unit.Alarm("btn", "panic")
	var a vagt.Alarm
	select {
	case a = <-alarmsB:
	case <-time.After(time.Minute):
		t.Fatal("no alarm through the secondary within a minute")
	}
	if a.Type != vagt.AlarmPanic || a.Device != "bu-17:btn" {
		t.Fatalf("alarm %+v", a)
	}
	tell := func(state vagt.HelpState) {
		t.Helper()
		data, err := vagt.EncodeDownlink(&vagt.Downlink{Gateway: "gw-help", Events: []uint64{a.Seq}, State: state, Time: time.Now(), Alert: 58})
		if err != nil {
			t.Fatal(err)
		}
		if tok := apiB.Publish(vagt.Topic("gw-help", vagt.LaneDownlink), 1, false, data); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	// The gateway's downlink subscription on the secondary follows its connect; until the
	// first message is applied, it is published again (a repeat changes nothing).
	deadline := time.Now().Add(time.Minute)
	for h.g.HelpStats().Applied == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no downlink through the secondary applied within a minute")
		}
		tell(vagt.HelpReceived)
		time.Sleep(500 * time.Millisecond)
	}
	n := nextNews(t, h.unit, "received")
	if n.Seq != frame || n.Event != a.Seq {
		t.Fatalf("news %+v for frame %d, event %d", n, frame, a.Seq)
	}
	tell(vagt.HelpAcknowledged)
	nextNews(t, h.unit, "acknowledged")
	if h.unit.Display() != "Hjælpen er på vej" {
		t.Fatalf("display %q", h.unit.Display())
	}
	// The unit's S frame is written before the gateway counts the message as applied, so the
	// count is waited for, not read once.
	stacktest.WaitFor(t, "2 downlinks applied", time.Minute, func() bool { return h.g.HelpStats().Applied >= 2 })
	if st := h.g.HelpStats(); st.Applied != 2 || st.Rejected != 0 {
		t.Fatalf("help stats %+v: want 2 applied, none rejected", st)
	}
}

// TestUnitToldDownOnlyWhenBothLinksAre: with one broker down the platform is still
// reachable, so the unit is not told to fall back to its telephone line; with both down it
// is, and when either is back it hears that the link is up.
func TestUnitToldDownOnlyWhenBothLinksAre(t *testing.T) {
	const downAfter = 2 * time.Second
	platA := stacktest.Mosquitto(t)
	platB := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	local := stacktest.Mosquitto(t)
	h := startHelpHome(t, platA, local, downAfter, withSecondary(platB))
	h.unit.Alarm("btn", "panic") // the gateway tells only units it has heard
	nextAlarm(t, h)
	eventually(t, "both links up", func() bool { p, s := links(h); return p && s })

	if err := platA.Kill(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the primary seen down", func() bool { p, _ := links(h); return !p })
	// Several times the configured time, with the gateway ticking every second: a unit told
	// "down" on one dead link would have been told by now.
	time.Sleep(4 * downAfter)
	if down, _ := h.unit.LinkDown(); down {
		t.Fatal("the unit was told the link is down while the secondary is up")
	}
	if st := h.g.HelpStats(); st.LinkDown || !h.g.Snapshot().UplinkUp {
		t.Fatalf("help %+v, uplink %v with the secondary up", st, h.g.Snapshot().UplinkUp)
	}

	if err := platB.Kill(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the unit told the link is down", func() bool { down, _ := h.unit.LinkDown(); return down })
	if _, d := h.unit.LinkDown(); d < downAfter {
		t.Fatalf("told after %s down, configured %s", d, downAfter)
	}
	if p, s := links(h); p || s {
		t.Fatalf("told down with links primary %v, secondary %v", p, s)
	}
	if err := platB.Start(context.Background()); err != nil { // the secondary only
		t.Fatal(err)
	}
	eventually(t, "the unit told the link is back", func() bool { down, _ := h.unit.LinkDown(); return !down })
	if p, s := links(h); p || !s {
		t.Fatalf("told up with links primary %v, secondary %v; want the secondary alone", p, s)
	}
}
