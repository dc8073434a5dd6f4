package server_test

import (
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestPresenceEndToEnd (issue 21 item 3) through the whole api, two replicas on one
// database and a real Mosquitto, on SQLite and PostgreSQL: a press becomes an alert; anna
// and bo press "I'll go" at once through different replicas and one wins; the winner's
// phone goes silent (never "on my way"), so after the usual 60 s the alert escalates to the
// backup, stays with them and is overdue; the other takes it over, is on the way and
// arrives; the home hears acknowledged, on the way and arrived; the audit log and the
// timeline have every step with who and when.
func TestPresenceEndToEnd(t *testing.T) {
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
			clock := api.NewManualClock(t0)
			db := dsn(t)
			a := startAPI(t, broker, db, "vagt-api-presence-a", clock)
			a.world(t)
			b := startAPI(t, broker, db, "vagt-api-presence-b", clock)
			b.tokens = a.tokens
			home := subscribeDownlink(t, broker.URL(), "gw-0042")
			gw := newGateway(t, broker.URL())
			events := b.stream(t, "bo", 0)
			// The shift listens before the alarm (stream waits for it): with nobody on the tier
			// listening it would go to the backup and central at once (docs/alerts.md, "Rosters
			// and escalation"), and the silent assignee's step below would have no tier left.

			gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 2001, Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
			id := next(t, events, "the panic alert", func(e sseEvent) bool { return e.Name == "new" }).Data.Alert.ID
			home.want(t, vagt.HelpReceived)
			path := "/api/v1/alerts/" + itoa(id)

			// "I'll go", at once, through two replicas.
			users := []string{"anna", "bo"}
			stacks := []*stack{a, b}
			codes := make([]int, 2)
			var bodies [2]struct {
				Assignee *alerts.Assignee
				Error    struct{ Code, By string }
			}
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() { codes[i] = stacks[i].call(t, users[i], "POST", path+"/take", "", &bodies[i]) })
			}
			wg.Wait()
			won := 0
			if codes[1] == 200 {
				won = 1
			}
			lost := 1 - won
			if codes[won] != 200 || bodies[won].Assignee == nil || bodies[won].Assignee.Name != users[won] ||
				codes[lost] != 409 || bodies[lost].Error.By != users[won] {
				t.Fatalf("take race: %v %+v", codes, bodies)
			}
			next(t, events, "taken", func(e sseEvent) bool { return e.Name == "taken" && e.Data.Alert.Assignee.Name == users[won] })
			home.want(t, vagt.HelpAcknowledged)

			// The winner's phone is silent: one step later the backup is told, the alert stays
			// with them and is overdue.
			clock.Advance(61 * time.Second)
			esc := next(t, events, "the escalation", func(e sseEvent) bool { return e.Name == "escalated" && e.Data.Alert.ID == id })
			if al := esc.Data.Alert; al.Tier != alerts.TierBackup || al.Assignee == nil || al.Assignee.Name != users[won] || al.OverdueAt == nil {
				t.Fatalf("escalated: %+v", al)
			}
			// The other takes it over, is on the way and arrives.
			var got alerts.Alert
			if code := stacks[lost].call(t, users[lost], "POST", path+"/take", "", &got); code != 200 || got.Assignee.Name != users[lost] {
				t.Fatalf("take over: %d %+v", code, got)
			}
			clock.Advance(30 * time.Second) // within their own step: 60 s would make them overdue too
			if code := stacks[lost].call(t, users[lost], "POST", path+"/enroute", "", &got); code != 200 || got.Step != alerts.StepEnroute {
				t.Fatalf("enroute: %d %+v", code, got)
			}
			home.want(t, vagt.HelpOnTheWay)
			clock.Advance(10 * time.Minute)
			if code := stacks[won].call(t, users[won], "POST", path+"/arrived", "", nil); code != 409 {
				t.Fatalf("the first assignee, back online, arrives: %d", code)
			}
			if code := stacks[lost].call(t, users[lost], "POST", path+"/arrived", "", &got); code != 200 || got.Step != alerts.StepArrived {
				t.Fatalf("arrived: %d %+v", code, got)
			}
			home.want(t, vagt.HelpArrived)
			if code := stacks[lost].call(t, users[lost], "POST", path+"/resolve", `{"outcome":"visited_help_given","seen":{"count":1}}`, &got); code != 200 {
				t.Fatalf("resolve: %d", code)
			}
			home.want(t, vagt.HelpResolved)

			var detail alerts.Detail
			if code := a.call(t, users[lost], "GET", path, "", &detail); code != 200 {
				t.Fatalf("detail: %d", code)
			}
			var steps []string
			for _, e := range detail.Timeline {
				steps = append(steps, e.Step+":"+e.By)
			}
			want := []string{"raised:", "acknowledged:" + users[won], "taken:" + users[won], "overdue:system", "escalated:system",
				"taken:" + users[lost], "enroute:" + users[lost], "arrived:" + users[lost], "resolved:" + users[lost]}
			if len(steps) != len(want) {
				t.Fatalf("timeline %v, want %v", steps, want)
			}
			for i := range want {
				if steps[i] != want[i] {
					t.Fatalf("timeline %v, want %v", steps, want)
				}
			}
			var audit struct {
				Entries []api.AuditEntry `json:"entries"`
			}
			if code := a.call(t, "admin", "GET", "/api/v1/audit?object=alert/"+itoa(id), "", &audit); code != 200 {
				t.Fatalf("audit: %d", code)
			}
			seen := map[string]bool{}
			for _, e := range audit.Entries {
				seen[e.Action+":"+e.Actor] = true
			}
			for _, w := range []string{"alert.take:" + users[won], "alert.overdue:system", "alert.escalate:system", "alert.take:" + users[lost],
				"alert.enroute:" + users[lost], "alert.arrive:" + users[lost], "alert.resolve:" + users[lost]} {
				if !seen[w] {
					t.Errorf("the audit log lacks %s: %+v", w, audit.Entries)
				}
			}
		})
	}
}

// homeSide is a gateway's downlink as the home hears it.
type homeSide struct{ ch chan vagt.Downlink }

func subscribeDownlink(t *testing.T, broker string, gw vagt.GatewayID) *homeSide {
	t.Helper()
	h := &homeSide{ch: make(chan vagt.Downlink, 100)}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID(string(gw) + "-downlink-test"))
	if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(vagt.Topic(gw, vagt.LaneDownlink), 1, func(_ mqtt.Client, m mqtt.Message) {
		if d, err := vagt.DecodeDownlink(m.Payload()); err == nil {
			h.ch <- d
		} else {
			t.Errorf("downlink does not decode: %v", err)
		}
	})
	if !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return h
}

// want waits for a message with the state; both replicas tell every change, so repeats of
// earlier states pass by.
func (h *homeSide) want(t *testing.T, state vagt.HelpState) {
	t.Helper()
	timeout := time.After(patience)
	for {
		select {
		case d := <-h.ch:
			if d.State == state {
				return
			}
			if d.State > state {
				t.Fatalf("the home heard %s before %s", d.State, state)
			}
		case <-timeout:
			t.Fatalf("the home never heard %s", state)
		}
	}
}
