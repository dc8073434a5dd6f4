package alerts_test

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

func TestOfflineAlarm(t *testing.T) {
	for _, never := range []bool{false, true} {
		a := alerts.OfflineAlarm("gw-9", 766, never, t0)
		if a.Gateway != "gw-9" || a.Device != "gw-9" || a.Type != vagt.AlarmGatewayOffline || a.Municipality != 766 || !a.Time.Equal(t0) {
			t.Errorf("never=%v: %+v, want gateway_offline about gw-9 itself, of 766, at %s", never, a, t0)
		}
		if got := alerts.PriorityOf(a.Type, a.Priority); got != vagt.PriorityTechnical {
			t.Errorf("never=%v: priority %d, want technical", never, got)
		}
		if (a.Details[alerts.DetailNeverConnected] == "true") != never || (!never && a.Details != nil) {
			t.Errorf("never=%v: details %v", never, a.Details)
		}
	}
	// A gateway offline again folds into its acknowledged alert; it is not re-armed.
	acked := alerts.Alert{State: alerts.StateAcknowledged, Priority: vagt.PriorityTechnical, AckedAt: &t0, AckedBy: "bo"}
	if _, ok := alerts.DefaultPolicy().Rearm(acked, false, t0); ok {
		t.Error("the offline alarm re-armed an acknowledged alert")
	}
}

func TestRecovered(t *testing.T) {
	p := alerts.DefaultPolicy() // back for 5 minutes
	now := time.Date(2026, 12, 2, 10, 5, 0, 0, time.FixedZone("CET", 3600))
	outcome, note := p.Recovered(false, now)
	if outcome != alerts.OutcomeTechnicalFault || note != "gateway back online since 2026-12-02T09:00:00Z; resolved automatically" {
		t.Errorf("back online: %s, %q", outcome, note)
	}
	outcome, note = p.Recovered(true, now)
	if outcome != alerts.OutcomeTechnicalFault || note != "gateway connected for the first time; resolved automatically" {
		t.Errorf("first connection: %s, %q", outcome, note)
	}
}
