package stats

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// facts is an in-process FactStore and ActivitySource: the attacks below need dozens of
// citizens with chosen dates, which the SQL fixture of api/httpapi does not have. The
// real stores and InfluxDB are exercised by TestStatistics on the same Service code.
type facts struct {
	devices  []DeviceFact
	citizens []CitizenFact
	readings map[vagt.DeviceID][]time.Time
	alerts   []AlertFact
}

func (f *facts) DeviceFacts(_ context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]DeviceFact, error) {
	var out []DeviceFact
	for _, d := range f.devices {
		if d.InstalledAt.Before(before) && (len(muns) == 0 || slices.Contains(muns, d.Municipality)) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *facts) CitizenFacts(_ context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]CitizenFact, error) {
	var out []CitizenFact
	for _, c := range f.citizens {
		if c.RegisteredAt.Before(before) && (len(muns) == 0 || slices.Contains(muns, c.Municipality)) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *facts) AlertFacts(_ context.Context, muns []vagt.MunicipalityCode, from, to time.Time) ([]AlertFact, error) {
	var out []AlertFact
	for _, a := range f.alerts {
		if !a.RaisedAt.Before(from) && a.RaisedAt.Before(to) && (len(muns) == 0 || slices.Contains(muns, a.Municipality)) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *facts) ActiveDevices(_ context.Context, _ []vagt.MunicipalityCode, from, to time.Time) (map[vagt.DeviceID]bool, error) {
	out := map[vagt.DeviceID]bool{}
	for dev, ts := range f.readings {
		for _, t := range ts {
			if !t.Before(from) && t.Before(to) {
				out[dev] = true
			}
		}
	}
	return out, nil
}

// attackFixture: Hedensted, medicine dispensers. 20 citizens have one from 1 December
// 2025; in January 8 more get one (2 in the first half, 6 on the 20th), in February 3, in
// March 9. Two other citizens have a personal alarm. Every dispenser reports weekly.
func attackFixture() *facts {
	f := &facts{readings: map[vagt.DeviceID][]time.Time{}}
	dk := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 12, 0, 0, 0, vagt.Copenhagen) }
	add := func(tech vagt.Technology, installed time.Time) {
		id := int64(len(f.citizens) + 1)
		f.citizens = append(f.citizens, CitizenFact{ID: id, Municipality: 766, RegisteredAt: time.Date(2025, 10, 1, 0, 0, 0, 0, vagt.Copenhagen)})
		dev := vagt.DeviceID(fmt.Sprintf("dev-%d", id))
		f.devices = append(f.devices, DeviceFact{Device: dev, Municipality: 766, Technology: tech, Citizen: id, InstalledAt: installed})
		for t := installed.Add(time.Hour); t.Before(dk(5, 1)); t = t.Add(7 * 24 * time.Hour) {
			f.readings[dev] = append(f.readings[dev], t)
		}
	}
	for range 20 {
		add(vagt.TechMedicineDispenser, time.Date(2025, 12, 1, 12, 0, 0, 0, vagt.Copenhagen))
	}
	for _, d := range []time.Time{dk(1, 5), dk(1, 10), dk(1, 20), dk(1, 20), dk(1, 20), dk(1, 20), dk(1, 20), dk(1, 20),
		dk(2, 10), dk(2, 10), dk(2, 10),
		dk(3, 10), dk(3, 10), dk(3, 10), dk(3, 10), dk(3, 10), dk(3, 10), dk(3, 10), dk(3, 10), dk(3, 10)} {
		add(vagt.TechMedicineDispenser, d)
	}
	add(vagt.TechPersonalAlarm, time.Date(2025, 11, 1, 12, 0, 0, 0, vagt.Copenhagen))
	add(vagt.TechPersonalAlarm, time.Date(2025, 11, 1, 12, 0, 0, 0, vagt.Copenhagen))
	return f
}

// released is one figure as the attacker sees it, with what the answer says about it.
type released struct {
	v *int
	d Disclosure
}

// candidates is every true value consistent with a released figure: itself when exact;
// when protected, 1-4 for a suppressed one, 0 for 0, else the counts of 5 or more that
// round to it.
func (r released) candidates() []int {
	if r.d.RoundingBase <= 1 && r.v != nil {
		return []int{*r.v}
	}
	if r.v == nil {
		return []int{1, 2, 3, 4}
	}
	if *r.v == 0 {
		return []int{0}
	}
	var out []int
	for x := *r.v - RoundingBase/2; x <= *r.v+RoundingBase/2; x++ {
		if x >= SuppressBelow && roundBase(x, RoundingBase) == *r.v {
			out = append(out, x)
		}
	}
	return out
}

// infer is what an attacker concludes about a hidden count: every value of Σ sign·figure
// over the figures' candidates that also lies in prior.
func infer(prior []int, plus []released, minus []released) []int {
	sums := map[int]bool{0: true}
	for i, r := range append(slices.Clone(plus), minus...) {
		sign := 1
		if i >= len(plus) {
			sign = -1
		}
		next := map[int]bool{}
		for s := range sums {
			for _, c := range r.candidates() {
				next[s+sign*c] = true
			}
		}
		sums = next
	}
	var out []int
	for _, p := range prior {
		if sums[p] {
			out = append(out, p)
		}
	}
	return out
}

func atLeastZero() []int {
	out := make([]int, 50)
	for i := range out {
		out[i] = i
	}
	return out
}

// TestDifferencingAttacks performs the attacks of docs/statistics.md on the same registry
// as the municipality's manager (exact figures: each attack recovers the small count,
// which shows the attack is real) and as the national role (suppression and rounding:
// the small count stays one of several values), and checks that large counts are still
// released, within 2 of the truth.
func TestDifferencingAttacks(t *testing.T) {
	ctx := t.Context()
	svc := &Service{Store: attackFixture(), Model: DefaultBenefitModel()}
	svc.Telemetry = svc.Store.(*facts)
	query := func(from, to string, iv Interval, protect bool, techs ...vagt.Technology) Query {
		p, err := ParsePeriod(from, to, string(iv))
		if err != nil {
			t.Fatal(err)
		}
		return Query{Period: p, Municipalities: []vagt.MunicipalityCode{766}, Technologies: techs, Suppress: protect}
	}
	adoption := func(q Query) Adoption {
		a, err := svc.Adoption(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	alertStats := func(q Query) AlertStats {
		a, err := svc.Alerts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	md, pa := vagt.TechMedicineDispenser, vagt.TechPersonalAlarm

	for _, protect := range []bool{false, true} {
		who := map[bool]string{false: "manager (exact)", true: "national (protected)"}[protect]
		check := func(attack string, got []int, truth int) {
			t.Helper()
			if !slices.Contains(got, truth) {
				t.Errorf("%s, %s: the truth %d is not among %v (the inference is wrong)", who, attack, truth, got)
			}
			if !protect && len(got) != 1 {
				t.Errorf("%s, %s: exact figures should reveal %d, the attack gives %v", who, attack, truth, got)
			}
			if protect && len(got) < 2 {
				t.Errorf("%s, %s: reveals exactly %v", who, attack, got)
			}
		}

		// 1. Subtract siblings from a total: February's 3 new dispensers (suppressed) =
		// Q1 (one quarter) − January − March (months).
		q1 := adoption(query("2026-01-01", "2026-04-01", Quarter, protect, md))
		months := adoption(query("2026-01-01", "2026-04-01", Month, protect, md))
		if protect && months.Rows[1].NewInstallations != nil {
			t.Fatalf("February's 3 new installations are released: %d", *months.Rows[1].NewInstallations)
		}
		r := func(a Adoption, v *int) released { return released{v, a.Disclosure} }
		check("quarter minus sibling months", infer(atLeastZero(),
			[]released{r(q1, q1.Rows[0].NewInstallations)},
			[]released{r(months, months.Rows[0].NewInstallations), r(months, months.Rows[2].NewInstallations)}), 3)

		// 2. Subtract a technology from the all-technologies total: the citizens watched
		// for any of the two technologies (alert statistics) − those with a dispenser
		// (adoption) = those with a personal alarm only (2, suppressed in its own row).
		both := alertStats(query("2026-01-01", "2026-02-01", Month, protect, md, pa))
		jan := adoption(query("2026-01-01", "2026-02-01", Month, protect, md, pa))
		var mdJan, paJan AdoptionRow
		for _, row := range jan.Rows {
			map[vagt.Technology]*AdoptionRow{md: &mdJan, pa: &paJan}[row.Technology].Citizens = row.Citizens
		}
		if protect && paJan.Citizens != nil {
			t.Fatalf("2 citizens with a personal alarm are released: %d", *paJan.Citizens)
		}
		check("all technologies minus one", infer(atLeastZero(),
			[]released{{both.Rows[0].Citizens, both.Disclosure}},
			[]released{r(jan, mdJan.Citizens)}), 2)

		// 3. Subtract overlapping periods: new dispensers from 1 January − from 16 January
		// = the 2 installed in the first half of January (a count never released itself).
		whole := adoption(query("2026-01-01", "2026-02-01", Month, protect, md))
		late := adoption(query("2026-01-16", "2026-02-01", Month, protect, md))
		check("overlapping periods", infer(atLeastZero(),
			[]released{r(whole, whole.Rows[0].NewInstallations)},
			[]released{r(late, late.Rows[0].NewInstallations)}), 2)
		first := adoption(query("2026-01-01", "2026-01-16", Month, protect, md))
		if protect && first.Rows[0].NewInstallations != nil {
			t.Fatalf("the 2 installations of 1-15 January are released directly")
		}

		// 4. Stock and flow: citizens at the end of February − at the end of January =
		// February's new installations (3; nobody gave up).
		check("stock minus stock", infer(atLeastZero(),
			[]released{r(months, months.Rows[1].Citizens)},
			[]released{r(months, months.Rows[0].Citizens)}), 3)

		// Large counts stay released, within 2 of the truth (exactly, when a multiple of 5),
		// and the funnel stays monotone.
		exact := adoption(query("2026-01-01", "2026-04-01", Month, false, md))
		for i, row := range months.Rows {
			for _, c := range []struct {
				name       string
				got, exact *int
			}{{"citizens", row.Citizens, exact.Rows[i].Citizens}, {"devices_installed", row.DevicesInstalled, exact.Rows[i].DevicesInstalled},
				{"citizens_active", row.CitizensActive, exact.Rows[i].CitizensActive}} {
				if c.got == nil {
					t.Errorf("%s: %s %s (%d) is suppressed", who, row.Start.Format("Jan"), c.name, *c.exact)
					continue
				}
				if d := *c.got - *c.exact; d < -2 || d > 2 || (*c.exact%5 == 0 && d != 0) || (protect && *c.got%5 != 0) {
					t.Errorf("%s: %s %s released %d, truth %d", who, row.Start.Format("Jan"), c.name, *c.got, *c.exact)
				}
			}
			if protect && row.Per1000 != nil && *row.Per1000 != round(float64(*row.Citizens)*1000/float64(Population65(766)), 3) {
				t.Errorf("per 1,000 is not computed from the released citizens: %v", *row.Per1000)
			}
		}
		f := months.Funnel[0]
		if *f.Registered < *f.Installed || *f.Installed < *f.Active || *f.Active < *f.StillActive90d {
			t.Errorf("%s: funnel not monotone: %d %d %d %d", who, *f.Registered, *f.Installed, *f.Active, *f.StillActive90d)
		}
	}

	// What the national role sees of the three months, exactly.
	nat := adoption(query("2026-01-01", "2026-04-01", Month, true, md))
	var got []string
	for _, r := range nat.Rows {
		got = append(got, fmt.Sprintf("%s cit=%s inst=%s new=%s per1000=%v", r.Start.Format("Jan"), str(r.Citizens), str(r.DevicesInstalled), str(r.NewInstallations), *r.Per1000))
	}
	f := nat.Funnel[0]
	got = append(got, fmt.Sprintf("funnel reg=%s inst=%s act=%s still=%s", str(f.Registered), str(f.Installed), str(f.Active), str(f.StillActive90d)))
	if want := []string{
		"Jan cit=30 inst=30 new=10 per1000=2.83",    // 28, 28, 8
		"Feb cit=30 inst=30 new=<nil> per1000=2.83", // 31, 31, 3
		"Mar cit=40 inst=40 new=10 per1000=3.774",   // 40, 40, 9
		"funnel reg=40 inst=40 act=40 still=20",     // 42 (2 with a personal alarm), 40, 40, 20
	}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("national:\n%s\nwant\n%s", got, want)
	}
}

func str(p *int) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

func TestRoundBase(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 0, 2: 0, 3: 5, 5: 5, 7: 5, 8: 10, 12: 10, 13: 15, 1237: 1235, 1238: 1240, -3: -5} {
		if got := roundBase(n, 5); got != want {
			t.Errorf("roundBase(%d) = %d, want %d", n, got, want)
		}
	}
}
