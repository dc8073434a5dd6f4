package downlink_test

import (
	"slices"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// The home hears the staff's steps: "I'll go" (acknowledged), "on my way" (on_the_way), a
// press meanwhile (on_the_way at once), "arrived" (arrived), resolved; a resend of the
// alarm after the arrival is told "arrived" again. Real Mosquitto, both stores.
func TestGatewayHearsHelpOnTheWayAndArrived(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			broker := stacktest.Mosquitto(t)
			store := open(t)
			gw := subscribe(t, broker.URL(), "gw-0042")
			n := start(t, store, broker.URL())
			ctx := t.Context()
			press := func(seq uint64, at time.Time) int64 {
				t.Helper()
				res, err := store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0042", Seq: seq, Municipality: 766, Time: at,
					Device: "bu-17:btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}, at)
				if err != nil {
					t.Fatal(err)
				}
				return res.Alert.ID
			}
			id := press(1001, t0)
			if d := gw.next(t, "received"); d.State != vagt.HelpReceived {
				t.Fatalf("received: %+v", d)
			}
			anna := alerts.Assignee{Name: "anna"}
			if _, err := store.Take(ctx, id, anna, all, t0.Add(20*time.Second)); err != nil {
				t.Fatal(err)
			}
			if d := gw.next(t, "acknowledged (taken)"); d.State != vagt.HelpAcknowledged || !d.Time.Equal(t0.Add(20*time.Second)) {
				t.Fatalf("taken: %+v", d)
			}
			if _, err := store.Enroute(ctx, id, anna, all, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if d := gw.next(t, "on the way"); d.State != vagt.HelpOnTheWay || !d.Time.Equal(t0.Add(time.Minute)) || !slices.Equal(d.Events, []uint64{1001}) {
				t.Fatalf("on the way: %+v", d)
			}
			press(1002, t0.Add(3*time.Minute))
			if d := gw.next(t, "on the way for the later press"); d.State != vagt.HelpOnTheWay || !slices.Equal(d.Events, []uint64{1001, 1002}) {
				t.Fatalf("press while on the way: %+v", d)
			}
			if _, err := store.Arrive(ctx, id, anna, all, t0.Add(11*time.Minute)); err != nil {
				t.Fatal(err)
			}
			// The press re-armed the alert (someone must answer it); anna's arrival answers it
			// with an acknowledgement first (docs/alerts.md, "A press on a taken alert"), news
			// behind "on the way" that the gateway ignores. Then the arrival.
			d := gw.next(t, "arrived")
			if d.State == vagt.HelpAcknowledged {
				d = gw.next(t, "arrived, after the acknowledgement of the re-armed press")
			}
			if d.State != vagt.HelpArrived || !d.Time.Equal(t0.Add(11*time.Minute)) || !slices.Equal(d.Events, []uint64{1001, 1002}) {
				t.Fatalf("arrived: %+v", d)
			}
			n.Retell(id) // the gateway resent a press whose news it lost
			if d := gw.next(t, "arrived, told again"); d.State != vagt.HelpArrived || !d.Time.Equal(t0.Add(11*time.Minute)) {
				t.Fatalf("told again: %+v", d)
			}
			if _, err := store.Resolve(ctx, id, "anna", all, alerts.OutcomeVisitedAllWell, "", t0.Add(20*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if d := gw.next(t, "resolved"); d.State != vagt.HelpResolved {
				t.Fatalf("resolved: %+v", d)
			}
		})
	}
}
