package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/roster"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestEscalationReachesSomeoneNewOnReplicas: two api replicas on one PostgreSQL, one
// injected clock, the real broker. Anna (on Nord's shift) listens on replica a, Sara (the
// shift's backup, of district Syd) on replica b. A panic reaches Anna, not Sara; at its
// deadline it reaches Sara on the other replica; Anna acknowledges, and a second press opens
// it again (reraised, the clock restarted); when Sara's stream ends, nobody on the backup
// tier listens and it goes to central at once, without the clock moving.
func TestEscalationReachesSomeoneNewOnReplicas(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	dsn := stacktest.SharedPostgres(t)
	clock := api.NewManualClock(t0)
	a := startAPI(t, broker, dsn, "vagt-api-esc-a", clock)
	a.world(t)
	b := startAPI(t, broker, dsn, "vagt-api-esc-b", clock)
	b.tokens = a.tokens
	ctx := t.Context()
	if _, err := a.srv.Store.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: a.north,
		Shifts: roster.DayAndNight([]string{"anna"}, []string{"anna"}, roster.Backup{User: "sara"})}, "admin", t0); err != nil {
		t.Fatal(err)
	}
	annaEvents := a.stream(t, "anna", 0)
	saraCtx, closeSara := context.WithCancel(context.Background())
	saraEvents := b.streamCtx(t, saraCtx, "sara")
	waitFor(t, "both streams beaten into the store", func() bool {
		users, err := a.srv.Store.ListeningUsers(ctx, time.Now().Add(-5*time.Second))
		return err == nil && slices.Contains(users, "anna") && slices.Contains(users, "sara")
	})

	gw := newGateway(t, broker.URL())
	gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 1, Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
	raised := next(t, annaEvents, "the panic on the shift's stream", func(e sseEvent) bool { return e.Name == "new" })
	id := raised.Data.Alert.ID

	// The deadline: the backup on the other replica hears it, as its first alert event.
	clock.Advance(61 * time.Second)
	esc := next(t, saraEvents, "the escalation on the backup's stream", func(sseEvent) bool { return true })
	if esc.Name != "escalated" || esc.Data.Alert.ID != id || esc.Data.Alert.Tier != alerts.TierBackup {
		t.Fatalf("sara's first event: %+v", esc)
	}
	var log struct{ Entries []api.AuditEntry }
	if code := a.call(t, "admin", "GET", "/api/v1/audit?object=alert/"+itoa(id), "", &log); code != 200 ||
		!slices.ContainsFunc(log.Entries, func(e api.AuditEntry) bool { return e.Action == "alert.escalate" && e.Detail == "backup" }) {
		t.Fatalf("the step to the backup was not the deadline's (anna listened): %d %+v", code, log.Entries)
	}
	var detail alerts.Detail
	if code := b.call(t, "sara", "GET", "/api/v1/alerts/"+itoa(id), "", &detail); code != 200 || detail.Citizen == nil {
		t.Fatalf("the backup opens the alert: %d", code)
	}

	// Anna acknowledges; nobody arrives; the citizen presses again.
	if code := a.call(t, "anna", "POST", "/api/v1/alerts/"+itoa(id)+"/ack", "", nil); code != 200 {
		t.Fatalf("ack: %d", code)
	}
	gw.alarm(t, vagt.Alarm{Gateway: "gw-0042", Seq: 2, Time: t0.Add(time.Minute), Device: "bu-17:btn", Type: vagt.AlarmPanic})
	re := next(t, annaEvents, "the press raising it again", func(e sseEvent) bool { return e.Name == "reraised" })
	if re.Data.Alert.ID != id || re.Data.Alert.State != alerts.StateOpen || re.Data.Alert.EscalateAt == nil ||
		!re.Data.Alert.EscalateAt.Equal(clock.Now().Add(60*time.Second).Truncate(time.Millisecond)) {
		t.Fatalf("reraised: %+v", re.Data.Alert)
	}
	next(t, saraEvents, "the press on the backup's stream", func(e sseEvent) bool { return e.Name == "reraised" })

	// The backup's console closes: nobody on the tier listens, so central gets it now.
	closeSara()
	up := next(t, annaEvents, "the step to central", func(e sseEvent) bool { return e.Name == "escalated" && e.Data.Alert.ID == id })
	if up.Data.Alert.Tier != alerts.TierCentral {
		t.Fatalf("escalated to %s", up.Data.Alert.Tier)
	}
	if code := a.call(t, "admin", "GET", "/api/v1/audit?object=alert/"+itoa(id), "", &log); code != 200 ||
		!slices.ContainsFunc(log.Entries, func(e api.AuditEntry) bool { return e.Detail == "central (nobody listening)" }) {
		t.Fatalf("audit: %d %+v", code, log.Entries)
	}
}
