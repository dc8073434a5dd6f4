package httpapi_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/stats"
)

const period = "from=2026-01-01&to=2026-04-01&interval=month"

func n(p *int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func fl(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func adoptionLines(a stats.Adoption) []string {
	var out []string
	for _, r := range a.Rows {
		out = append(out, fmt.Sprintf("%d %s %s cit=%s act=%s inst=%s devact=%s new=%s rem=%s churn=%s per1000=%s supp=%v",
			r.Municipality, r.Technology, r.Start.Format("01"), n(r.Citizens), n(r.CitizensActive), n(r.DevicesInstalled), n(r.DevicesActive),
			n(r.NewInstallations), n(r.Removals), n(r.Churn), fl(r.Per1000), r.Suppressed))
	}
	for _, r := range a.Funnel {
		out = append(out, fmt.Sprintf("funnel %d %s reg=%s inst=%s act=%s still=%s supp=%v", r.Municipality, r.Technology,
			n(r.Registered), n(r.Installed), n(r.Active), n(r.StillActive90d), r.Suppressed))
	}
	return out
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func (f *statsFixture) adoption(t *testing.T, user, query string) stats.Adoption {
	t.Helper()
	code, body, _ := f.get(t, user, "/api/v1/stats/adoption?"+query, "")
	if code != 200 {
		t.Fatalf("adoption %s as %s: %d %s", query, user, code, body)
	}
	var a stats.Adoption
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if !a.Population65.Illustrative || a.Population65.Source == "" {
		t.Errorf("adoption %s: the 65+ figures' source %+v; the fixture's are the shipped, illustrative ones", query, a.Population65)
	}
	return a
}

// TestStatistics loads the known registry, telemetry and alerts and asserts the exact
// figures of every statistics endpoint, their CSV form and the suppression of small
// counts, on both SQL stores against a real InfluxDB.
func TestStatistics(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		f := newStatsFixture(t, dsn)
		techs := "&technology=medicine_dispenser,personal_alarm"

		// The manager of Hedensted: exact, unsuppressed. Intervals are Danish: pa-1's battery
		// reading at 23:59:59Z on 31 March is 01:59 on 1 April, so pa-1 is not active in March
		// and not still active at the end of the period.
		mgr := f.adoption(t, "mads", period+techs)
		if mgr.Disclosure.Method != "exact" || mgr.Disclosure.RoundingBase != 1 || mgr.SuppressedBelow != 0 {
			t.Errorf("the manager's own figures are not exact: %+v", mgr.Disclosure)
		}
		sameLines(t, "manager adoption", adoptionLines(mgr), []string{
			"766 personal_alarm 01 cit=1 act=1 inst=1 devact=1 new=0 rem=0 churn=0 per1000=0.094 supp=false",
			"766 personal_alarm 02 cit=1 act=0 inst=1 devact=0 new=0 rem=0 churn=0 per1000=0.094 supp=false",
			"766 personal_alarm 03 cit=1 act=0 inst=1 devact=0 new=0 rem=0 churn=0 per1000=0.094 supp=false",
			"766 medicine_dispenser 01 cit=5 act=4 inst=5 devact=4 new=1 rem=0 churn=0 per1000=0.472 supp=false",
			"766 medicine_dispenser 02 cit=5 act=4 inst=5 devact=4 new=1 rem=1 churn=0 per1000=0.472 supp=false",
			"766 medicine_dispenser 03 cit=5 act=4 inst=5 devact=4 new=1 rem=1 churn=1 per1000=0.472 supp=false",
			"funnel 766 personal_alarm reg=7 inst=1 act=1 still=0 supp=false",
			"funnel 766 medicine_dispenser reg=7 inst=7 act=6 still=2 supp=false",
		})
		assertFunnelMonotone(t, mgr)

		// National: both municipalities, counts of 1-4 citizens suppressed, the rest rounded
		// to base 5 (the funnel's 7 registered and 6 active become 5), the method returned.
		nat := f.adoption(t, "kl", period+"&technology=medicine_dispenser&municipality=615,766")
		if nat.SuppressedBelow != 5 || nat.Disclosure.Method != "suppress_and_round" || nat.Disclosure.RoundingBase != 5 ||
			nat.Disclosure.SuppressedBelow != 5 || len(nat.Disclosure.Rules) == 0 {
			t.Errorf("suppressed_below = %d, disclosure %+v", nat.SuppressedBelow, nat.Disclosure)
		}
		sameLines(t, "national adoption", adoptionLines(nat), []string{
			"615 medicine_dispenser 01 cit=- act=- inst=- devact=- new=- rem=0 churn=0 per1000=- supp=true",
			"615 medicine_dispenser 02 cit=- act=- inst=- devact=- new=0 rem=0 churn=0 per1000=- supp=true",
			"615 medicine_dispenser 03 cit=- act=- inst=- devact=- new=0 rem=0 churn=0 per1000=- supp=true",
			"766 medicine_dispenser 01 cit=5 act=- inst=5 devact=- new=- rem=0 churn=0 per1000=0.472 supp=true",
			"766 medicine_dispenser 02 cit=5 act=- inst=5 devact=- new=- rem=- churn=0 per1000=0.472 supp=true",
			"766 medicine_dispenser 03 cit=5 act=- inst=5 devact=- new=- rem=- churn=- per1000=0.472 supp=true",
			"funnel 615 medicine_dispenser reg=- inst=- act=- still=0 supp=true",
			"funnel 766 medicine_dispenser reg=5 inst=5 act=5 still=- supp=true",
		})
		assertFunnelMonotone(t, nat)
		// An admin sees every municipality unsuppressed; all 98 by default.
		all := f.adoption(t, "admin", "from=2026-01-01&to=2026-02-01&interval=quarter&technology=medicine_dispenser")
		if len(all.Rows) != 98 || all.SuppressedBelow != 0 {
			t.Fatalf("admin, all municipalities: %d rows", len(all.Rows))
		}
		for _, r := range all.Rows {
			want := map[int]string{615: "1 1", 766: "5 4"}[int(r.Municipality)]
			if want == "" {
				want = "0 0"
			}
			if got := n(r.Citizens) + " " + n(r.DevicesActive); got != want {
				t.Errorf("admin %d: citizens, active = %s, want %s", r.Municipality, got, want)
			}
		}

		// CSV: the documented columns, the same figures.
		code, body, h := f.get(t, "kl", "/api/v1/stats/adoption?"+period+"&technology=medicine_dispenser&municipality=766", "text/csv")
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s", code, h.Get("Content-Type"))
		}
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		sameLines(t, "adoption csv", []string{strings.Join(recs[0], ","), strings.Join(recs[1], ","), strings.Join(recs[3], ",")}, []string{
			"municipality,municipality_name,region,technology,interval_start,interval_end,citizens,citizens_active,devices_installed,devices_active,new_installations,removals,churn_90d,citizens_per_1000_65plus,suppressed,rounding_base",
			"766,Hedensted,1082,medicine_dispenser,2026-01-01T00:00:00+01:00,2026-02-01T00:00:00+01:00,5,,5,,,0,0,0.472,true,5",
			"766,Hedensted,1082,medicine_dispenser,2026-03-01T00:00:00+01:00,2026-04-01T00:00:00+02:00,5,,5,,,,,0.472,true,5",
		})
		if len(recs) != 4 {
			t.Errorf("csv has %d records, want 4", len(recs))
		}

		testAlertStats(t, f)
		testArrivalStats(t, f) // presence_stats_test.go
		testBenefits(t, f)
		testFunnelRegisteredLate(t, f)
		testDanishBoundaries(t, f) // last: it adds registry, readings and alarms
	})
}

// assertFunnelMonotone: registered ≥ installed ≥ active ≥ still active after 90 days in
// every funnel row; a suppressed stage (1-4) may only be followed by suppressed or 0.
func assertFunnelMonotone(t *testing.T, a stats.Adoption) {
	t.Helper()
	if len(a.Funnel) == 0 {
		t.Fatal("no funnel")
	}
	for _, r := range a.Funnel {
		prev := -1 // unbounded
		for _, v := range []*int{r.Registered, r.Installed, r.Active, r.StillActive90d} {
			switch {
			case v == nil && prev >= 0 && prev < 1:
				t.Errorf("funnel %d %s: a suppressed stage after %d: %s", r.Municipality, r.Technology, prev, n(v))
			case v == nil:
				prev = stats.SuppressBelow - 1
			case prev >= 0 && *v > prev:
				t.Errorf("funnel %d %s not monotone: reg=%s inst=%s act=%s still=%s", r.Municipality, r.Technology,
					n(r.Registered), n(r.Installed), n(r.Active), n(r.StillActive90d))
			default:
				prev = *v
			}
		}
	}
}

// testFunnelRegisteredLate is issue 7's dashboard: the registry records were made
// (2025-12-01) after C4's and C6's dispensers were installed (June and September 2025).
// Counting only registered_at < end gave "registered 0" above "installed 2".
func testFunnelRegisteredLate(t *testing.T, f *statsFixture) {
	a := f.adoption(t, "mads", "from=2025-08-01&to=2025-11-01&technology=medicine_dispenser")
	sameLines(t, "funnel before the registry was made", adoptionLines(a)[3:], []string{
		"funnel 766 medicine_dispenser reg=2 inst=2 act=0 still=0 supp=false",
	})
	assertFunnelMonotone(t, a)
}

// testDanishBoundaries: an installation, a reading and an alarm at 21:30Z on 31 March
// (23:30 CEST) belong to March; at 22:30Z (00:30 CEST on 1 April) to April. B1's registry
// record is made on 15 April, after the back-dated installation.
func testDanishBoundaries(t *testing.T, f *statsFixture) {
	ctx := t.Context()
	nord := int64(f.must(t, 201, "mads", "POST", "/api/v1/districts", `{"name":"Syd"}`)["id"].(float64))
	b1 := int64(f.must(t, 201, "mads", "POST", "/api/v1/citizens", `{"name":"B1 Testesen","address":"Vej 9, 8722 Hedensted","key_box_note":"","contacts":[]}`)["id"].(float64))
	f.must(t, 201, "mads", "POST", "/api/v1/homes", fmt.Sprintf(`{"id":"home-b1","district":%d,"citizen":%d}`, nord, b1))
	f.must(t, 201, "mads", "POST", "/api/v1/gateways", `{"id":"gw-9","home":"home-b1"}`)
	f.must(t, 201, "mads", "POST", "/api/v1/devices", `{"id":"door-9","gateway":"gw-9","technology":"door_sensor","label":"x","installed_at":"2026-03-31T21:30:00Z"}`)
	f.must(t, 201, "mads", "POST", "/api/v1/devices", `{"id":"door-1","gateway":"gw-1","technology":"door_sensor","label":"x","installed_at":"2026-03-31T22:30:00Z"}`)
	writeLines(t, f.influx, fmt.Sprintf("reading,dev=pa-1,gw=gw-1,kind=battery,mun=766,tech=unknown value=94 %d\n"+
		"reading,dev=door-9,gw=gw-9,kind=door_open,mun=766,tech=door_sensor value=1 %d\n",
		day("2026-03-31T21:30:00Z").Unix(), day("2026-03-31T22:30:00Z").Unix()))
	// Two devices: a second raise of one device and type would fold into the open alert.
	for i, at := range []string{"2026-03-31T21:30:00Z", "2026-03-31T22:30:00Z"} {
		if _, err := f.store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-9", Seq: uint64(i + 1), Municipality: 766, Time: day(at), Device: vagt.DeviceID(fmt.Sprintf("door-%d", 9+i)),
			Type: vagt.AlarmLowBattery, Priority: vagt.AlarmLowBattery.Priority()}, day(at)); err != nil {
			t.Fatal(err)
		}
	}
	a := f.adoption(t, "mads", "from=2026-03-01&to=2026-05-01&technology=door_sensor,personal_alarm")
	sameLines(t, "adoption across 1 April", adoptionLines(a), []string{
		"766 personal_alarm 03 cit=1 act=1 inst=1 devact=1 new=0 rem=0 churn=0 per1000=0.094 supp=false",
		"766 personal_alarm 04 cit=1 act=1 inst=1 devact=1 new=0 rem=0 churn=0 per1000=0.094 supp=false",
		"766 door_sensor 03 cit=1 act=0 inst=1 devact=0 new=1 rem=0 churn=0 per1000=0.094 supp=false",
		"766 door_sensor 04 cit=2 act=1 inst=2 devact=1 new=1 rem=0 churn=0 per1000=0.189 supp=false",
		"funnel 766 personal_alarm reg=8 inst=1 act=1 still=1 supp=false",
		"funnel 766 door_sensor reg=8 inst=2 act=1 still=0 supp=false",
	})
	if got := a.Rows[0].End.UTC().Format(time.RFC3339) + " " + a.Rows[0].End.Format(time.RFC3339); got != "2026-03-31T22:00:00Z 2026-04-01T00:00:00+02:00" {
		t.Errorf("March ends %s", got)
	}
	// The period ends with March: the registry record of B1 (made 15 April) comes after
	// its installation, and B1 is still registered in the funnel.
	a = f.adoption(t, "mads", "from=2026-03-01&to=2026-04-01&technology=door_sensor")
	sameLines(t, "funnel with a back-dated installation", adoptionLines(a)[1:], []string{
		"funnel 766 door_sensor reg=8 inst=1 act=0 still=0 supp=false",
	})
	assertFunnelMonotone(t, a)

	code, body, _ := f.get(t, "mads", "/api/v1/stats/alerts?from=2026-03-01&to=2026-05-01&technology=medicine_dispenser", "")
	var as stats.AlertStats
	if code != 200 || json.Unmarshal([]byte(body), &as) != nil || len(as.Rows) != 2 {
		t.Fatalf("alerts: %d %s", code, body)
	}
	// March: A5 and the 21:30Z alarm; 5 citizens; 1 month although March has 743 hours.
	// April: the 22:30Z alarm; the same 5 citizens, 1 month of 720 hours.
	for i, want := range []string{"alarms=2 lowbat=1 cit=5 perCitMonth=0.4", "alarms=1 lowbat=1 cit=5 perCitMonth=0.2"} {
		r := as.Rows[i]
		if got := fmt.Sprintf("alarms=%s lowbat=%d cit=%s perCitMonth=%s", n(r.Alarms), r.ByType[vagt.AlarmLowBattery].Alarms, n(r.Citizens), fl(r.AlarmsPerCitizenMonth)); got != want {
			t.Errorf("alerts %s: %s, want %s", r.Start.Format("2006-01"), got, want)
		}
	}
}

func testAlertStats(t *testing.T, f *statsFixture) {
	code, body, _ := f.get(t, "mads", "/api/v1/stats/alerts?"+period, "")
	if code != 200 {
		t.Fatalf("alerts: %d %s", code, body)
	}
	var a stats.AlertStats
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range a.Rows {
		got = append(got, fmt.Sprintf("%s cit=%s alarms=%s perCitMonth=%s panic=%d fall=%d lowbat=%d ack60=%s ack180=%s ackp50=%s ackp90=%s resp50=%s resp90=%s resolved=%s false=%s novisit=%s esc=%s escalerts=%s",
			r.Start.Format("01"), n(r.Citizens), n(r.Alarms), fl(r.AlarmsPerCitizenMonth), r.ByType[1].Alarms, r.ByType[2].Alarms, r.ByType[10].Alarms,
			fl(r.AckedWithin60s), fl(r.AckedWithin180s), fl(r.AckP50), fl(r.AckP90), fl(r.ResolveP50), fl(r.ResolveP90), n(r.Resolved),
			fl(r.FalseAlarmShare), fl(r.WithoutVisitShare), n(r.Escalations), n(r.EscalatedAlerts)))
	}
	sameLines(t, "alert stats", got, []string{
		"01 cit=5 alarms=0 perCitMonth=0 panic=0 fall=0 lowbat=0 ack60=- ack180=- ackp50=- ackp90=- resp50=- resp90=- resolved=0 false=- novisit=- esc=0 escalerts=0",
		"02 cit=5 alarms=4 perCitMonth=0.8 panic=2 fall=1 lowbat=1 ack60=0.3333 ack180=0.6667 ackp50=120 ackp90=300 resp50=1800 resp90=3600 resolved=3 false=0.3333 novisit=0.6667 esc=1 escalerts=1",
		"03 cit=5 alarms=1 perCitMonth=0.2 panic=1 fall=0 lowbat=0 ack60=1 ack180=1 ackp50=30 ackp90=30 resp50=- resp90=- resolved=0 false=- novisit=- esc=0 escalerts=0",
	})
	// National, Hedensted: 5 citizens watched, so not suppressed; every count rounded to
	// base 5 and every rate and share computed from the rounded counts (February's 4 alarms
	// are 5, 5 per 5 citizens per month is 1; 1 of 3 urgent alarms within 60 s is 0 of 5).
	// Times are not counts; they are given while the alarms they come from are released as
	// more than 0 (March's one alarm is released as 0, so its 30 s is not given).
	code, body, _ = f.get(t, "kl", "/api/v1/stats/alerts?"+period+"&municipality=766", "")
	var nat stats.AlertStats
	if code != 200 || json.Unmarshal([]byte(body), &nat) != nil {
		t.Fatalf("national alerts: %d %s", code, body)
	}
	if nat.Disclosure.Method != "suppress_and_round" || nat.Disclosure.RoundingBase != 5 {
		t.Errorf("national alerts disclosure: %+v", nat.Disclosure)
	}
	got = nil
	for _, r := range nat.Rows {
		got = append(got, fmt.Sprintf("%s cit=%s alarms=%s perCitMonth=%s panic=%d ack60=%s ack180=%s ackp50=%s ackp90=%s resp50=%s resolved=%s false=%s novisit=%s esc=%s escalerts=%s supp=%v",
			r.Start.Format("01"), n(r.Citizens), n(r.Alarms), fl(r.AlarmsPerCitizenMonth), r.ByType[1].Alarms, fl(r.AckedWithin60s), fl(r.AckedWithin180s),
			fl(r.AckP50), fl(r.AckP90), fl(r.ResolveP50), n(r.Resolved), fl(r.FalseAlarmShare), fl(r.WithoutVisitShare), n(r.Escalations), n(r.EscalatedAlerts), r.Suppressed))
	}
	sameLines(t, "national alert stats", got, []string{
		"01 cit=5 alarms=0 perCitMonth=0 panic=0 ack60=- ack180=- ackp50=- ackp90=- resp50=- resolved=0 false=- novisit=- esc=0 escalerts=0 supp=false",
		"02 cit=5 alarms=5 perCitMonth=1 panic=0 ack60=0 ack180=0 ackp50=120 ackp90=300 resp50=1800 resolved=5 false=0 novisit=0 esc=0 escalerts=0 supp=false",
		"03 cit=5 alarms=0 perCitMonth=0 panic=0 ack60=- ack180=- ackp50=- ackp90=- resp50=- resolved=0 false=- novisit=- esc=0 escalerts=0 supp=false",
	})
	// National: Horsens watches one citizen, so its row is suppressed.
	code, body, _ = f.get(t, "kl", "/api/v1/stats/alerts?"+period+"&municipality=615", "text/csv")
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if code != 200 || err != nil || len(recs) != 4 {
		t.Fatalf("national alerts csv: %d %v %q", code, err, body)
	}
	if got := strings.Join(recs[0][:6], ","); got != "municipality,municipality_name,interval_start,interval_end,citizens,alarms" || recs[0][19] != "alarms_panic" {
		t.Errorf("alert csv header: %v", recs[0])
	}
	if got := strings.Join(recs[1], ","); got != "615,Horsens,2026-01-01T00:00:00+01:00,2026-02-01T00:00:00+01:00,,,,,,,,,,,,,,,true,,,,,,,,,,,,,,,,,,,,5" { // a column per alarm type (17, left_safe_zone the last), the two arrival figures
		t.Errorf("suppressed alert row: %s", got)
	}
}

func testBenefits(t *testing.T, f *statsFixture) {
	code, body, _ := f.get(t, "mads", "/api/v1/stats/benefits?from=2026-01-01&to=2026-03-01&technology=medicine_dispenser", "")
	if code != 200 {
		t.Fatalf("benefits: %d %s", code, body)
	}
	var b stats.Benefits
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	if !b.Estimate || !b.Model.Illustrative || len(b.Model.Assumptions) == 0 || b.Model.Technologies[6].MinutesPerVisit != 10 {
		t.Errorf("the model is not returned with the estimate: %+v", b.Model)
	}
	var got []string
	for _, r := range b.Rows {
		got = append(got, fmt.Sprintf("%s act=%s inst=%s new=%s visits=%s hours=%s gross=%s oneoff=%s running=%s net=%s",
			r.Start.Format("01"), n(r.CitizensActive), n(r.DevicesInstalled), n(r.NewInstallations), fl(r.VisitsAvoided), fl(r.HoursSaved),
			fl(r.GrossDKK), fl(r.OneOffCostDKK), fl(r.RunningCostDKK), fl(r.NetDKK)))
	}
	// Jan: 4 active × 7 visits/week × 31/7 weeks = 124 visits × 10 min = 20.67 h × 450 = 9300;
	// one new × 5000; 5 installed × 400. Feb: 4 × 7 × 4 = 112 visits, 18.67 h, 8400.
	sameLines(t, "benefits", got, []string{
		"01 act=4 inst=5 new=1 visits=124 hours=20.67 gross=9300 oneoff=5000 running=2000 net=2300",
		"02 act=4 inst=5 new=1 visits=112 hours=18.67 gross=8400 oneoff=5000 running=2000 net=1400",
	})
	code, body, _ = f.get(t, "mads", "/api/v1/stats/benefits?from=2026-01-01&to=2026-02-01&technology=medicine_dispenser", "text/csv")
	if want := "municipality,municipality_name,technology,interval_start,interval_end,citizens_active,devices_installed,new_installations,visits_avoided,hours_saved,gross_dkk,one_off_cost_dkk,running_cost_dkk,net_dkk,suppressed,rounding_base,visits_avoided_from\n" +
		"766,Hedensted,medicine_dispenser,2026-01-01T00:00:00+01:00,2026-02-01T00:00:00+01:00,4,5,1,124,20.67,9300,5000,2000,2300,false,1,model\n"; code != 200 || body != want {
		t.Errorf("benefits csv: %d\n%s\nwant\n%s", code, body, want)
	}
}

// TestStatisticsBadInput: every malformed or out-of-scope request is the right 4xx with a
// JSON error.
func TestStatisticsBadInput(t *testing.T) {
	f := newStatsFixture(t, t.TempDir()+"/vagt.db")
	for _, c := range []struct {
		name, user, path string
		code             int
		errCode          string
	}{
		{"unknown municipality", "kl", "/api/v1/stats/adoption?" + period + "&municipality=999", 400, "invalid"},
		{"municipality not a number", "kl", "/api/v1/stats/alerts?" + period + "&municipality=abc", 400, "invalid"},
		{"unknown technology", "mads", "/api/v1/stats/adoption?" + period + "&technology=teleporter", 400, "invalid"},
		{"no from", "mads", "/api/v1/stats/adoption?to=2026-04-01", 400, "invalid"},
		{"no to", "mads", "/api/v1/stats/benefits?from=2026-01-01", 400, "invalid"},
		{"reversed", "mads", "/api/v1/stats/adoption?from=2026-04-01&to=2026-01-01", 400, "invalid"},
		{"empty", "mads", "/api/v1/stats/adoption?from=2026-04-01&to=2026-04-01", 400, "invalid"},
		{"bad date", "mads", "/api/v1/stats/adoption?from=2026-13-01&to=2027-01-01", 400, "invalid"},
		{"bad interval", "mads", "/api/v1/stats/adoption?" + "from=2026-01-01&to=2026-04-01&interval=day", 400, "invalid"},
		{"too many weeks", "mads", "/api/v1/stats/adoption?from=2025-01-01&to=2026-04-01&interval=week", 400, "invalid"},
		{"too many months", "mads", "/api/v1/stats/alerts?from=2020-01-01&to=2026-04-01&interval=month", 400, "invalid"},
		{"too many quarters", "mads", "/api/v1/stats/benefits?from=2000-01-01&to=2026-04-01&interval=quarter", 400, "invalid"},
		{"manager, other municipality", "mads", "/api/v1/stats/adoption?" + period + "&municipality=615", 403, "forbidden"},
		{"manager, other among own", "mads", "/api/v1/stats/alerts?" + period + "&municipality=766,615", 403, "forbidden"},
		{"staff", "anna", "/api/v1/stats/adoption?" + period, 403, "forbidden"},
		{"citizen", "citizen", "/api/v1/stats/benefits?" + period, 403, "forbidden"},
		{"registry, manager of another", "mads", "/api/v1/citizens?municipality=615", 403, "forbidden"},
		{"registry, national", "kl", "/api/v1/citizens", 403, "forbidden"},
		{"registry, staff", "anna", "/api/v1/devices", 403, "forbidden"},
		{"devices, bad state", "mads", "/api/v1/devices?state=lost", 400, "invalid"},
		{"citizen of another municipality", "hanne", fmt.Sprintf("/api/v1/citizens/%d", f.cit["C1"]), 404, "not_found"}, // as a missing one
		{"no such citizen", "admin", "/api/v1/citizens/99999", 404, "not_found"},
		{"export, not a citizen", "mads", "/api/v1/me/data?from=2026-01-01&to=2026-01-10", 403, "forbidden"},
		{"export, unbounded", "citizen", "/api/v1/me/data?from=2026-01-01", 400, "invalid"},
		{"export, too long", "citizen", "/api/v1/me/data?from=2026-01-01&to=2026-03-01", 400, "invalid"},
		{"export, login of no citizen", "citizen", "/api/v1/me/data?from=2026-01-01&to=2026-01-10", 403, "forbidden"},
		// The comparison (issue 18): the clock is at 2026-04-15.
		{"compare, zero length", "mads", "/api/v1/stats/compare?from=2026-01-01&to=2026-01-01", 400, "invalid"},
		{"compare, reversed", "kl", "/api/v1/stats/compare?from=2026-04-01&to=2026-01-01", 400, "invalid"},
		{"compare, longer than 36 months", "kl", "/api/v1/stats/compare?from=2022-01-01&to=2026-04-01", 400, "invalid"},
		{"compare, in the future", "mads", "/api/v1/stats/compare?from=2026-05-01&to=2026-06-01", 400, "invalid"},
		{"compare, before the retention", "kl", "/api/v1/stats/compare?from=2015-01-01&to=2015-04-01", 400, "invalid"},
		{"compare, an interval", "kl", "/api/v1/stats/compare?" + period, 400, "invalid"},
		{"compare, unknown municipality", "kl", "/api/v1/stats/compare?from=2026-01-01&to=2026-04-01&municipality=999", 400, "invalid"},
		{"compare, unknown technology", "mads", "/api/v1/stats/compare?from=2026-01-01&to=2026-04-01&technology=teleporter", 400, "invalid"},
		{"compare, peer group of 3", "mads", "/api/v1/stats/compare?from=2026-01-01&to=2026-04-01&peers=615,751,710", 400, "invalid"},
		{"compare, own among peers", "mads", "/api/v1/stats/compare?from=2026-01-01&to=2026-04-01&peers=615,751,710,661,766", 400, "invalid"},
		{"compare, unknown peer", "mads", "/api/v1/stats/compare?from=2026-01-01&to=2026-04-01&peers=615,751,710,661,999", 400, "invalid"},
		{"compare, peers for national", "kl", "/api/v1/stats/compare?from=2026-01-01&to=2026-04-01&peers=615,751,710,661,766", 400, "invalid"},
		{"compare, manager of another", "mads", "/api/v1/stats/compare?from=2026-01-01&to=2026-04-01&municipality=615", 403, "forbidden"},
		{"compare, staff", "anna", "/api/v1/stats/compare?from=2026-01-01&to=2026-04-01", 403, "forbidden"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body, h := f.get(t, c.user, c.path, "")
			var e struct{ Error struct{ Code string } }
			if code != c.code || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != c.errCode || h.Get("Content-Type") != "application/json" {
				t.Errorf("%d %s, want %d %s", code, body, c.code, c.errCode)
			}
		})
	}
	for _, c := range []struct{ name, user, method, path, body string }{
		{"erase as manager", "mads", "DELETE", fmt.Sprintf("/api/v1/citizens/%d", f.cit["C1"]), ""},
		{"district in another municipality", "mads", "POST", "/api/v1/districts", `{"municipality":615,"name":"X"}`},
		{"device of another municipality", "hanne", "POST", "/api/v1/devices/md-1/remove", ""},
	} {
		// Outside the caller's municipality: answered as a missing object (issue 22, item 7).
		want := 404
		if c.name == "erase as manager" {
			want = 403 // the role may not erase at all
		}
		if code, out := f.do(t, c.user, c.method, c.path, c.body); code != want {
			t.Errorf("%s: %d %v, want %d", c.name, code, out, want)
		}
	}
	for _, c := range []struct {
		name, method, path, body string
		code                     int
	}{
		{"device installed twice", "POST", "/api/v1/devices", `{"id":"md-1","gateway":"gw-1","technology":"medicine_dispenser"}`, 409},
		{"unknown technology", "POST", "/api/v1/devices", `{"id":"x-1","gateway":"gw-1","technology":"teleporter"}`, 400},
		{"gateway provisioned twice", "POST", "/api/v1/gateways", `{"id":"gw-1","home":"home-c1"}`, 409},
		{"remove a removed device", "POST", "/api/v1/devices/md-3/remove", ``, 409},
		{"home in an unknown district", "POST", "/api/v1/homes", `{"id":"home-x","district":9999}`, 400},
	} {
		if code, out := f.do(t, "mads", c.method, c.path, c.body); code != c.code {
			t.Errorf("%s: %d %v, want %d", c.name, code, out, c.code)
		}
	}
}

// TestStatisticsRefuseBadPeriodsAlike: every statistics endpoint, in JSON and CSV, as a
// manager and as the national role, refuses each bad period and each unknown municipality
// or technology with the same 400: code "invalid", the field named, the same reason
// (stats.CheckPeriod and statsQuery, one check for all). The clock is at 2026-04-15, the
// retention 400 days (back to 2025-03-11).
func TestStatisticsRefuseBadPeriodsAlike(t *testing.T) {
	f := newStatsFixture(t, t.TempDir()+"/vagt.db")
	endpoints := []struct{ path, accept string }{
		{"/api/v1/stats/adoption?", ""}, // with the funnel
		{"/api/v1/stats/adoption?", "text/csv"},
		{"/api/v1/stats/alerts?", ""}, // with the alarm response by district
		{"/api/v1/stats/alerts?", "text/csv"},
		{"/api/v1/stats/alerts?by=district&", "text/csv"},
		{"/api/v1/stats/benefits?", ""},
		{"/api/v1/stats/benefits?", "text/csv"},
		{"/api/v1/stats/night?", ""},
		{"/api/v1/stats/night?", "text/csv"},
		{"/api/v1/stats/compare?", ""},
		{"/api/v1/stats/compare?", "text/csv"},
	}
	for _, c := range []struct{ name, query, field, reason string }{
		{"zero length", "from=2026-01-01&to=2026-01-01", "to", "the period is empty"},
		{"reversed", "from=2026-03-01&to=2026-01-01", "to", "the period is reversed"},
		{"longer than the retention", "from=2025-04-01&to=2026-06-01", "to", "longer than the retention of 400 days"},
		{"before the retention", "from=2025-02-01&to=2025-05-01", "from", "before the retention of 400 days"},
		{"wholly in the future", "from=2026-05-01&to=2026-06-01", "from", "wholly in the future"},
		{"unknown municipality", "from=2026-01-01&to=2026-04-01&municipality=999", "municipality", `unknown municipality "999"`},
		{"unknown technology", "from=2026-01-01&to=2026-04-01&technology=teleporter", "technology", `unknown technology "teleporter"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			messages := map[string]bool{}
			for _, user := range []string{"mads", "kl"} {
				for _, e := range endpoints {
					code, body, h := f.get(t, user, e.path+c.query, e.accept)
					var got struct {
						Error struct{ Code, Message, Field string }
					}
					if code != 400 || h.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &got) != nil ||
						got.Error.Code != "invalid" || got.Error.Field != c.field || !strings.Contains(got.Error.Message, c.reason) {
						t.Errorf("%s %s%s (Accept %q): %d %s %s, want 400 invalid, field %s: %s", user, e.path, c.query, e.accept, code, h.Get("Content-Type"), body, c.field, c.reason)
					}
					messages[got.Error.Message] = true
				}
			}
			if len(messages) != 1 {
				t.Errorf("the endpoints refuse it in %d ways: %v", len(messages), messages)
			}
		})
	}
	// The limits themselves are accepted: a period within the retention, ending after now
	// (the night checks then answer 503: the fixture has no night-check source).
	for _, e := range endpoints {
		want := 200
		if strings.Contains(e.path, "night") {
			want = 503
		}
		if code, body, _ := f.get(t, "kl", e.path+"from=2025-03-12&to=2026-04-16", e.accept); code != want {
			t.Errorf("%s (Accept %q): %d %s", e.path, e.accept, code, body)
		}
	}
}

// TestCompareEndpoint: a manager's comparison (own exact, the peer group one protected
// aggregate, rank among the national view) and the national one (all 98), in JSON and in
// CSV of the same shape; the national and municipal views agree on what both show.
func TestCompareEndpoint(t *testing.T) {
	f := newStatsFixture(t, t.TempDir()+"/vagt.db")
	const q = "/api/v1/stats/compare?from=2026-01-01&to=2026-04-01&technology=medicine_dispenser,personal_alarm"
	get := func(user string) stats.Comparison {
		t.Helper()
		code, body, _ := f.get(t, user, q, "")
		var c stats.Comparison
		if code != 200 || json.Unmarshal([]byte(body), &c) != nil {
			t.Fatalf("%s: %d %s", user, code, body)
		}
		return c
	}
	mine := get("mads")
	if mine.PeerGroup == nil || len(mine.PeerGroup.Municipalities) < stats.PeerGroupSize || mine.Disclosure.Method != "exact" {
		t.Fatalf("peer group %+v, disclosure %+v", mine.PeerGroup, mine.Disclosure)
	}
	entities := map[string]int{}
	for _, r := range mine.Rows {
		entities[r.Entity]++
		if r.Entity == "municipality" && r.Municipality != 766 {
			t.Errorf("a manager's comparison shows municipality %d", r.Municipality)
		}
		if r.Entity == "peers" && r.RoundingBase != 5 {
			t.Errorf("the peer aggregate is not protected: %+v", r)
		}
	}
	if entities["municipality"] != 3 || entities["peers"] != 3 {
		t.Errorf("rows by entity %v, want own and peers × (2 technologies + all)", entities)
	}
	nat := get("kl")
	n := 0
	for _, r := range nat.Rows {
		if r.Entity == "municipality" {
			n++
		}
	}
	if n != 98*3 {
		t.Errorf("national: %d municipality rows, want 98 × 3", n)
	}
	// The two views agree: Hedensted's medicine dispensers are 5 citizens exactly for the
	// manager and 5 (rounded) nationally; both rank it the same among the national figures.
	pick := func(c stats.Comparison) stats.CompareRow {
		for _, r := range c.Rows {
			if r.Entity == "municipality" && r.Municipality == 766 && r.Technology == "medicine_dispenser" {
				return r
			}
		}
		t.Fatal("no Hedensted row")
		return stats.CompareRow{}
	}
	m, k := pick(mine), pick(nat)
	if m.Citizens == nil || k.Citizens == nil || *m.Citizens != 5 || *k.Citizens != 5 || m.Rank == nil || k.Rank == nil || *m.Rank != *k.Rank {
		t.Errorf("manager %+v, national %+v", m, k)
	}
	// CSV: the header is the documented columns, one line per JSON row.
	code, body, h := f.get(t, "kl", q, "text/csv")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s", code, h.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(stats.CompareColumns, ",") || len(recs)-1 != len(nat.Rows) {
		t.Errorf("CSV header %v, %d lines for %d rows", recs[0], len(recs)-1, len(nat.Rows))
	}
}
