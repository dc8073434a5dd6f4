package stats

import (
	"context"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// trackerDays is an in-process TrackerActivity: the trackers that reported per Danish
// day, as api/sqlstore keeps them (its own test covers the SQL).
type trackerDays map[time.Time]int

func (d trackerDays) ActiveTrackers(_ context.Context, _ []vagt.MunicipalityCode, from, to time.Time) (map[vagt.MunicipalityCode]int, error) {
	n := 0
	for day, c := range d {
		if !day.Before(from) && day.Before(to) {
			n = max(n, c)
		}
	}
	return map[vagt.MunicipalityCode]int{766: n}, nil
}

// TestBenefitsCountTrackersThatReported: GPS trackers report to the platform, not through
// a gateway into InfluxDB, so the registry's gps_tracker devices never show as active.
// With the platform's tracker activity, the benefit row counts the citizens whose tracker
// reported (7 in January, none in February) and the model's savings follow from them.
func TestBenefitsCountTrackersThatReported(t *testing.T) {
	f := &facts{readings: map[vagt.DeviceID][]time.Time{}}
	for i := range 8 {
		id := int64(i + 1)
		f.citizens = append(f.citizens, CitizenFact{ID: id, Municipality: 766, RegisteredAt: time.Date(2025, 10, 1, 0, 0, 0, 0, vagt.Copenhagen)})
		f.devices = append(f.devices, DeviceFact{Device: vagt.DeviceID("gps.t" + string(rune('a'+i))), Municipality: 766,
			Technology: vagt.TechGPSTracker, Citizen: id, InstalledAt: time.Date(2025, 12, 1, 12, 0, 0, 0, vagt.Copenhagen)})
	}
	p, err := ParsePeriod("2026-01-01", "2026-03-01", "month")
	if err != nil {
		t.Fatal(err)
	}
	q := Query{Period: p, Municipalities: []vagt.MunicipalityCode{766}, Technologies: []vagt.Technology{vagt.TechGPSTracker}}
	svc := &Service{Store: f, Telemetry: f, Model: DefaultBenefitModel()}
	before, err := svc.Benefits(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Rows) != 2 || before.Rows[0].CitizensActive == nil || *before.Rows[0].CitizensActive != 0 {
		t.Fatalf("registry only: %+v", before.Rows)
	}
	svc.Trackers = trackerDays{time.Date(2026, 1, 14, 0, 0, 0, 0, vagt.Copenhagen): 7}
	got, err := svc.Benefits(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	jan, feb := got.Rows[0], got.Rows[1]
	tm := svc.Model.Technologies[vagt.TechGPSTracker]
	wantVisits := 7 * tm.VisitsAvoidedPerCitizenWeek * 31.0 / 7
	if jan.CitizensActive == nil || *jan.CitizensActive != 7 || jan.VisitsAvoided == nil || *jan.VisitsAvoided != round(wantVisits, 2) ||
		jan.GrossDKK == nil || *jan.GrossDKK <= 0 {
		t.Errorf("January: %+v", jan)
	}
	if feb.CitizensActive == nil || *feb.CitizensActive != 0 {
		t.Errorf("February: %+v", feb)
	}
}
