package httpapi_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/api/stats"
)

// testArrivalStats (part of TestStatistics, both stores): the share arrived within 30
// minutes and the median time to arrival, per municipality and per district × priority,
// exact for the manager, suppressed and rounded for the national role, in JSON and CSV.
//
// The fixture's alarms (stats_fixture_test.go, loadAlerts): February's A1 (panic, Nord)
// arrived after 12 min; A2 (fall) was resolved a false alarm and A3 (panic) a technical
// fault, with no arrival, so they needed no visit; A4 is technical (not counted). March's
// A5 (panic) arrived after 40 min: late.
func testArrivalStats(t *testing.T, f *statsFixture) {
	get := func(user, query string) stats.AlertStats {
		t.Helper()
		code, body, _ := f.get(t, user, "/api/v1/stats/alerts?"+query, "")
		var a stats.AlertStats
		if code != 200 || json.Unmarshal([]byte(body), &a) != nil {
			t.Fatalf("alerts %s: %d %s", query, code, body)
		}
		return a
	}
	lines := func(a stats.AlertStats) []string {
		var out []string
		for _, r := range a.Rows {
			out = append(out, fmt.Sprintf("%d %s arrived30=%s arrivalp50=%s supp=%v", r.Municipality, r.Start.Format("01"),
				fl(r.ArrivedWithin30m), fl(r.ArrivalP50), r.Suppressed))
			for _, d := range r.Response {
				out = append(out, fmt.Sprintf("  %s %s cit=%s alarms=%s ack60=%s ack180=%s visit=%s arrived30=%s arrivalp50=%s supp=%v",
					d.DistrictName, d.Priority, n(d.Citizens), n(d.Alarms), fl(d.AckedWithin60s), fl(d.AckedWithin180s),
					n(d.NeedingVisit), fl(d.ArrivedWithin30m), fl(d.ArrivalP50), d.Suppressed))
			}
		}
		return out
	}
	sameLines(t, "manager arrival stats", lines(get("mads", period)), []string{
		"766 01 arrived30=- arrivalp50=- supp=false",
		"  Nord critical cit=5 alarms=0 ack60=- ack180=- visit=0 arrived30=- arrivalp50=- supp=false",
		"  Nord high cit=5 alarms=0 ack60=- ack180=- visit=0 arrived30=- arrivalp50=- supp=false",
		"766 02 arrived30=1 arrivalp50=720 supp=false",
		"  Nord critical cit=5 alarms=3 ack60=0.3333 ack180=0.6667 visit=1 arrived30=1 arrivalp50=720 supp=false",
		"  Nord high cit=5 alarms=0 ack60=- ack180=- visit=0 arrived30=- arrivalp50=- supp=false",
		"766 03 arrived30=0 arrivalp50=2400 supp=false",
		"  Nord critical cit=5 alarms=1 ack60=1 ack180=1 visit=1 arrived30=0 arrivalp50=2400 supp=false",
		"  Nord high cit=5 alarms=0 ack60=- ack180=- visit=0 arrived30=- arrivalp50=- supp=false",
	})
	// National: one alarm needing a visit is released as 0, so neither its share nor its
	// time is given; Horsens (one citizen watched) is suppressed, its districts with it.
	// The quarter's 4 critical alarms are 5; 2 within 60 s are 0, 3 within 180 s are 5.
	sameLines(t, "national arrival stats", lines(get("kl", "from=2026-01-01&to=2026-04-01&interval=quarter&municipality=615,766")), []string{
		"615 01 arrived30=- arrivalp50=- supp=true",
		"766 01 arrived30=- arrivalp50=- supp=false",
		"  Nord critical cit=5 alarms=5 ack60=0 ack180=1 visit=0 arrived30=- arrivalp50=- supp=false",
		"  Nord high cit=5 alarms=0 ack60=- ack180=- visit=0 arrived30=- arrivalp50=- supp=false",
	})

	// CSV: the municipality rows carry the two figures before rounding_base; by=district
	// has a row per district and priority.
	code, body, _ := f.get(t, "mads", "/api/v1/stats/alerts?"+period, "text/csv")
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != 200 || err != nil || len(recs) != 4 {
		t.Fatalf("alerts csv: %d %v %q", code, err, body)
	}
	h := recs[0]
	if got := strings.Join(h[len(h)-3:], ","); got != "arrived_within_30m_share,arrival_p50_s,rounding_base" {
		t.Errorf("alert csv ends %s", got)
	}
	if got := strings.Join(recs[2][len(h)-3:], ","); got != "1,720,1" {
		t.Errorf("February's arrival in CSV: %s", got)
	}
	code, body, hdr := f.get(t, "mads", "/api/v1/stats/alerts?"+period+"&by=district", "text/csv")
	want := strings.Join(stats.ResponseColumns, ",") + "\n" +
		"766,Hedensted,2026-01-01T00:00:00+01:00,2026-02-01T00:00:00+01:00,%[1]d,Nord,critical,5,0,,,0,,,false,1\n" +
		"766,Hedensted,2026-01-01T00:00:00+01:00,2026-02-01T00:00:00+01:00,%[1]d,Nord,high,5,0,,,0,,,false,1\n" +
		"766,Hedensted,2026-02-01T00:00:00+01:00,2026-03-01T00:00:00+01:00,%[1]d,Nord,critical,5,3,0.3333,0.6667,1,1,720,false,1\n" +
		"766,Hedensted,2026-02-01T00:00:00+01:00,2026-03-01T00:00:00+01:00,%[1]d,Nord,high,5,0,,,0,,,false,1\n" +
		"766,Hedensted,2026-03-01T00:00:00+01:00,2026-04-01T00:00:00+02:00,%[1]d,Nord,critical,5,1,1,1,1,0,2400,false,1\n" +
		"766,Hedensted,2026-03-01T00:00:00+01:00,2026-04-01T00:00:00+02:00,%[1]d,Nord,high,5,0,,,0,,,false,1\n"
	a1, _ := f.store.Alert(t.Context(), f.alerts["A1"])
	if want = fmt.Sprintf(want, a1.District); code != 200 || body != want || !strings.Contains(hdr.Get("Content-Disposition"), "vagt-alerts-by-district-") {
		t.Errorf("by district csv: %d %s\n%s\nwant\n%s", code, hdr.Get("Content-Disposition"), body, want)
	}
	if code, body, _ := f.get(t, "mads", "/api/v1/stats/alerts?"+period+"&by=street", ""); code != 400 {
		t.Errorf("by=street: %d %s", code, body)
	}
}
