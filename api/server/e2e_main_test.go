package server_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestEndToEnd is the "done when": alarms published through a real Mosquitto arrive
// on the SSE stream; staff acknowledge and resolve them over HTTP; one escalates; a gateway
// goes offline and comes back; the audit log has it all — on SQLite and on PostgreSQL.
func TestEndToEnd(t *testing.T) {
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
			clock := api.NewManualClock(t0)
			st := startAPI(t, broker, dsn(t), "vagt-api-e2e", clock)
			st.world(t)
			gw := newGateway(t, broker.URL())
			events := st.stream(t, "anna", 0)
			southEvents := st.stream(t, "sara", 0)
			// The shift listens before the first alarm (stream waits for it), or the alarm
			// escalates at once: nobody listening.

			// A panic press becomes an alert on the stream, who and where in its detail.
			gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1001, Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
			first := next(t, events, "the panic alert", func(e sseEvent) bool { return e.Name == "new" })
			panicID := first.Data.Alert.ID
			if a := first.Data.Alert; a.Type != vagt.AlarmPanic || a.Priority != vagt.PriorityCritical || a.District != st.north || !a.Registered {
				t.Fatalf("new alert %+v", a)
			}
			var detail alerts.Detail
			if code := st.call(t, "anna", "GET", "/api/v1/alerts/"+itoa(panicID), "", &detail); code != 200 ||
				detail.Citizen == nil || detail.Citizen.Name != "Karen Jensen" || detail.Citizen.KeyBoxNote == "" || len(detail.Citizen.Contacts) != 1 {
				t.Fatalf("detail %d %+v", code, detail)
			}
			if code := st.call(t, "sara", "GET", "/api/v1/alerts/"+itoa(panicID), "", nil); code != http.StatusNotFound { // as a missing one: ids are not revealed
				t.Fatalf("another district reads the detail: %d", code)
			}

			// A redelivery is nothing; a repeat folds into the alert.
			gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1001, Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
			gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1002, Time: t0.Add(5 * time.Second), Device: "bu-17:btn", Type: vagt.AlarmPanic})
			rep := next(t, events, "the repeat", func(e sseEvent) bool { return e.Data.Alert.ID == panicID && e.Name == "updated" })
			if rep.Data.Change != "repeated" || rep.Data.Alert.Count != 2 {
				t.Fatalf("repeat %+v (a redelivery counted?)", rep.Data)
			}

			// Two staff acknowledge at once: one wins, the other learns who.
			codes := make([]int, 2)
			var bodies [2]struct {
				Error struct{ Code, By string }
			}
			var wg sync.WaitGroup
			for i, user := range []string{"anna", "bo"} {
				wg.Go(func() { codes[i] = st.call(t, user, "POST", "/api/v1/alerts/"+itoa(panicID)+"/ack", "", &bodies[i]) })
			}
			wg.Wait()
			winner := map[int]string{0: "anna", 1: "bo"}
			switch {
			case codes[0] == 200 && codes[1] == 409 && bodies[1].Error.By == "anna":
			case codes[1] == 200 && codes[0] == 409 && bodies[0].Error.By == "bo":
				winner[0] = "bo"
			default:
				t.Fatalf("concurrent ack: %v %+v", codes, bodies)
			}
			acked := next(t, events, "the acknowledgement", func(e sseEvent) bool { return e.Data.Change == "acknowledged" && e.Data.Alert.AckedBy == winner[0] })
			var resolved alerts.Alert
			// The winner resolves the alert as the stream showed it: two presses.
			body := fmt.Sprintf(`{"outcome":"visited_help_given","note":"helped her up","seen":{"count":%d}}`, acked.Data.Alert.Count)
			if code := st.call(t, winner[0], "POST", "/api/v1/alerts/"+itoa(panicID)+"/resolve", body, &resolved); code != 200 || resolved.State != alerts.StateResolved {
				t.Fatalf("resolve %d %+v", code, resolved)
			}
			next(t, events, "the resolve", func(e sseEvent) bool { return e.Data.Change == "resolved" })

			// Nobody acknowledges a fall: after 60 s it goes to the backup.
			gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1003, Time: t0, Device: "fall-1", Type: vagt.AlarmFall})
			fall := next(t, events, "the fall alert", func(e sseEvent) bool { return e.Name == "new" && e.Data.Alert.Type == vagt.AlarmFall })
			clock.Advance(61 * time.Second)
			esc := next(t, events, "the escalation", func(e sseEvent) bool { return e.Name == "escalated" })
			if esc.Data.Alert.ID != fall.Data.Alert.ID || esc.Data.Alert.Tier != alerts.TierBackup {
				t.Fatalf("escalated %+v", esc.Data.Alert)
			}

			// An alarm from a gateway nobody registered still becomes an alert.
			gw.alarm(t, vagt.Alarm{Gateway: "gw-9999", Seq: 1, Time: t0, Device: "x", Type: vagt.AlarmSmoke})
			unreg := next(t, events, "the unregistered alert", func(e sseEvent) bool { return e.Data.Alert.Gateway == "gw-9999" })
			if unreg.Data.Alert.Registered || unreg.Data.Alert.District != 0 {
				t.Fatalf("unregistered %+v", unreg.Data.Alert)
			}
			// Garbage is rejected and counted, and does not stall the lane.
			gw.publish(t, vagt.Topic("gw-0042", vagt.LaneAlarm), []byte{0xff, 0x00})
			waitFor(t, "the malformed alarm to be counted", func() bool { return st.srv.AlarmLane().Rejected(vagt.LaneAlarm, "malformed") == 1 })

			// The gateway goes offline (its will), stays away past the grace period, comes
			// back and stays: a technical alert that resolves itself.
			gw.status(t, vagt.Status{Gateway: "gw-0042", Online: true, Time: t0, Heartbeat: time.Minute, Municipality: 766})
			gw.status(t, vagt.Status{Gateway: "gw-0042", Online: false, Time: t0})
			waitFor(t, "the will to be recorded", func() bool {
				g, err := st.srv.Store.Gateway(t.Context(), "gw-0042")
				return err == nil && !g.Online && g.OfflineSince != nil
			})
			clock.Advance(alerts.DefaultPolicy().OfflineGrace + time.Second)
			off := next(t, events, "the offline alert", func(e sseEvent) bool { return e.Data.Alert.Type == vagt.AlarmGatewayOffline })
			gw.status(t, vagt.Status{Gateway: "gw-0042", Online: true, Time: t0, Heartbeat: time.Minute, Municipality: 766})
			next(t, events, "the offline alert cleared", func(e sseEvent) bool { return e.Data.Alert.ID == off.Data.Alert.ID && e.Data.Change == "cleared" })
			// It keeps its heartbeats while the clock moves past the stable period (without
			// them it would be silent again, and the alert would rightly stay open).
			for range 3 {
				clock.Advance(2 * time.Minute)
				gw.status(t, vagt.Status{Gateway: "gw-0042", Online: true, Time: t0, Heartbeat: time.Minute, Municipality: 766})
				now := clock.Now()
				waitFor(t, "the heartbeat to be recorded", func() bool {
					g, err := st.srv.Store.Gateway(t.Context(), "gw-0042")
					return err == nil && g.LastSeen != nil && g.LastSeen.Equal(now.Truncate(time.Millisecond))
				})
			}
			back := next(t, events, "the offline alert resolved", func(e sseEvent) bool { return e.Data.Alert.ID == off.Data.Alert.ID && e.Data.Change == "resolved" })
			if back.Data.Alert.ResolvedBy != api.System {
				t.Fatalf("offline resolved by %q", back.Data.Alert.ResolvedBy)
			}

			// A client that reconnects with Last-Event-ID gets what came after, in order.
			resumed := st.stream(t, "anna", first.ID)
			ev := next(t, resumed, "the first resumed event", func(sseEvent) bool { return true })
			if ev.Data.Change != "repeated" || ev.ID <= first.ID {
				t.Fatalf("resumed with %+v", ev)
			}
			// Staff of the other district see the unregistered gateway's alert (everybody of
			// the municipality does) and nothing of district Nord before it.
			next(t, southEvents, "the unregistered alert in the south", func(e sseEvent) bool {
				if e.Data.Alert.District != 0 {
					t.Fatalf("south saw %+v", e.Data.Alert)
				}
				return e.Data.Alert.Gateway == "gw-9999"
			})

			// The audit log has the read, the actions and the escalation.
			var log struct{ Entries []api.AuditEntry }
			if code := st.call(t, "admin", "GET", "/api/v1/audit?object=alert/"+itoa(panicID), "", &log); code != 200 {
				t.Fatalf("audit %d", code)
			}
			seen := map[string]string{}
			for _, e := range log.Entries {
				seen[e.Action] = e.Actor
			}
			if seen["alert.read"] != "anna" || seen["alert.ack"] != winner[0] || seen["alert.resolve"] != winner[0] {
				t.Fatalf("audit of the panic alert: %+v", log.Entries)
			}
			if code := st.call(t, "admin", "GET", "/api/v1/audit?object=alert/"+itoa(fall.Data.Alert.ID), "", &log); code != 200 ||
				len(log.Entries) == 0 || log.Entries[0].Action != "alert.escalate" {
				t.Fatalf("audit of the escalation: %d %+v", code, log.Entries)
			}
		})
	}
}
