package sqlstore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestAlertGauges: the metrics an operator pages on count what waits for a person — open
// alerts by priority and state, the oldest unacknowledged one's age, tiers and escalations —
// and show 0 (not nothing) once all is resolved.
func TestAlertGauges(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		w := setup(t, s)
		ctx := t.Context()
		clock := api.NewManualClock(t0)
		c := alerts.NewGaugeCollector(s, alerts.GaugeOptions{Clock: clock, Policy: alerts.DefaultPolicy()})
		if err := s.RegisterDevice(ctx, "bu-17:smoke", "gw-0042", vagt.TechSmokeAlarm, "smoke alarm"); err != nil {
			t.Fatal(err)
		}
		if err := s.RegisterDevice(ctx, "bu-17:fall", "gw-0042", vagt.TechFallDetector, "fall detector"); err != nil {
			t.Fatal(err)
		}
		panicAlert := ingest(t, s, alarm("gw-0042", 1, "bu-17:btn", vagt.AlarmPanic, t0), t0).Alert
		smoke := ingest(t, s, alarm("gw-0042", 2, "bu-17:smoke", vagt.AlarmSmoke, t0.Add(30*time.Second)), t0.Add(30*time.Second)).Alert
		fall := ingest(t, s, alarm("gw-0042", 3, "bu-17:fall", vagt.AlarmFall, t0.Add(time.Minute)), t0.Add(time.Minute)).Alert
		if _, err := s.Ack(ctx, fall.ID, "staff-1", w.northStaff, t0.Add(90*time.Second)); err != nil {
			t.Fatal(err)
		}
		// Critical alerts escalate after 60 s by default: the panic and the smoke move on.
		if n, err := s.EscalateDue(ctx, t0.Add(2*time.Minute)); err != nil || n != 2 {
			t.Fatalf("escalate: %d %v", n, err)
		}
		clock.Advance(5 * time.Minute)
		want := `
# HELP vagt_api_alert_unacked_oldest_age_seconds Age of the oldest open (unacknowledged) alert, by priority; absent when there is none.
# TYPE vagt_api_alert_unacked_oldest_age_seconds gauge
vagt_api_alert_unacked_oldest_age_seconds{priority="critical"} 300
# HELP vagt_api_alerts_unresolved Alerts not yet resolved, by priority and state (open: nobody has acknowledged it).
# TYPE vagt_api_alerts_unresolved gauge
vagt_api_alerts_unresolved{priority="critical",state="acknowledged"} 1
vagt_api_alerts_unresolved{priority="critical",state="open"} 2
vagt_api_alerts_unresolved{priority="high",state="acknowledged"} 0
vagt_api_alerts_unresolved{priority="high",state="open"} 0
vagt_api_alerts_unresolved{priority="technical",state="acknowledged"} 0
vagt_api_alerts_unresolved{priority="technical",state="open"} 0
# HELP vagt_api_alerts_unresolved_by_tier Unresolved alerts by the tier they are with (district, backup, central).
# TYPE vagt_api_alerts_unresolved_by_tier gauge
vagt_api_alerts_unresolved_by_tier{tier="backup"} 2
vagt_api_alerts_unresolved_by_tier{tier="central"} 0
vagt_api_alerts_unresolved_by_tier{tier="district"} 1
# HELP vagt_api_alert_escalations_total Escalation steps recorded in the store, by the tier an alert was escalated to.
# TYPE vagt_api_alert_escalations_total counter
vagt_api_alert_escalations_total{tier="backup"} 2
vagt_api_alert_escalations_total{tier="central"} 0
# HELP vagt_api_alert_gauges_up 1 when the alert store answered this scrape's query, 0 when it did not.
# TYPE vagt_api_alert_gauges_up gauge
vagt_api_alert_gauges_up 1
`
		names := []string{"vagt_api_alert_unacked_oldest_age_seconds", "vagt_api_alerts_unresolved",
			"vagt_api_alerts_unresolved_by_tier", "vagt_api_alert_escalations_total", "vagt_api_alert_gauges_up"}
		if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
			t.Fatal(err)
		}
		// The panic and the smoke are open in district Nord; gw-0042 is registered and has
		// never sent a status.
		perDistrict := fmt.Sprintf(`
# HELP vagt_api_alerts_open_by_district Open (unacknowledged) alerts by municipality and district id (0: not registered to a district).
# TYPE vagt_api_alerts_open_by_district gauge
vagt_api_alerts_open_by_district{district="%d",municipality="766"} 2
# HELP vagt_api_gateways Registered gateways in use by municipality and state (online, offline, never_connected).
# TYPE vagt_api_gateways gauge
vagt_api_gateways{municipality="766",state="never_connected"} 1
vagt_api_gateways{municipality="766",state="offline"} 0
vagt_api_gateways{municipality="766",state="online"} 0
`, w.north)
		if err := testutil.CollectAndCompare(c, strings.NewReader(perDistrict), "vagt_api_alerts_open_by_district", "vagt_api_gateways"); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordStatus(ctx, status("gw-0042", true, t0.Add(5*time.Minute)), t0.Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := testutil.CollectAndCompare(c, strings.NewReader(strings.Replace(strings.Replace(perDistrict,
			`state="never_connected"} 1`, `state="never_connected"} 0`, 1), `state="online"} 0`, `state="online"} 1`, 1)),
			"vagt_api_gateways"); err != nil {
			t.Fatal(err)
		}
		for _, a := range []int64{panicAlert.ID, fall.ID, smoke.ID} {
			if _, err := s.Resolve(ctx, a, "staff-1", w.northStaff, alerts.OutcomeOther, "", t0.Add(6*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		// All resolved: zeros rather than absent series, and no age (nothing waits).
		if n := testutil.CollectAndCount(c, "vagt_api_alert_unacked_oldest_age_seconds"); n != 0 {
			t.Fatalf("oldest-age series after all resolved: %d, want none", n)
		}
		zero := `
# HELP vagt_api_alerts_unresolved_by_tier Unresolved alerts by the tier they are with (district, backup, central).
# TYPE vagt_api_alerts_unresolved_by_tier gauge
vagt_api_alerts_unresolved_by_tier{tier="backup"} 0
vagt_api_alerts_unresolved_by_tier{tier="central"} 0
vagt_api_alerts_unresolved_by_tier{tier="district"} 0
`
		if err := testutil.CollectAndCompare(c, strings.NewReader(zero), "vagt_api_alerts_unresolved_by_tier"); err != nil {
			t.Fatal(err)
		}
	})
}
