package stats

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestOneIntervalMatchesReference: a period of one interval (the comparison's whole
// period, or one month by month) gives the alert statistics of the straightforward
// computation, its whole-period total (taken from the interval's total, alertstats.go)
// included; TestFastPathMatchesReference asks only periods of several intervals.
func TestOneIntervalMatchesReference(t *testing.T) {
	ctx := t.Context()
	for run := range 20 {
		r := rand.New(rand.NewPCG(5, uint64(run)))
		f, muns, techs := wideRandomFacts(r)
		svc := &Service{Store: f, Telemetry: f, Model: DefaultBenefitModel()}
		for _, c := range []struct {
			from, to string
			whole    bool
		}{{"2025-10-01", "2026-04-01", true}, {"2026-02-01", "2026-03-01", false}} {
			p, err := ParsePeriod(c.from, c.to, "month")
			if err != nil {
				t.Fatal(err)
			}
			if c.whole {
				p.Interval = Whole // as the comparison asks
			}
			if n := len(p.Buckets()); n != 1 {
				t.Fatalf("%v: %d intervals, want 1", c, n)
			}
			q := Query{Period: p, Municipalities: muns, Technologies: techs, Suppress: run%2 == 0}
			fast, err := svc.Alerts(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := svc.refAlerts(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(fast)
			w, _ := json.Marshal(ref)
			if string(g) != string(w) {
				t.Fatalf("run %d %v: differs from the straightforward computation:\nfast: %s\nref:  %s", run, c, g, w)
			}
			if len(fast.Totals) != 2 || !fast.Totals[1].WholePeriod || fast.Totals[0].Alarms == nil && !fast.Totals[0].Suppressed {
				t.Fatalf("run %d %v: totals %+v, want the interval's and the whole period's", run, c, fast.Totals)
			}
		}
	}
}
