package stats

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// TestFastPathMatchesReference: the adoption and alert statistics (grouped once, distinct
// citizens counted by dense index, percentiles by selection) give exactly the answer of
// the straightforward computation (reference_test.go) on random registries: every row,
// total, funnel and district row, protected and exact, every interval, all or some
// municipalities and technologies. VAGT_STATS_SEED replays a run; the seed is printed.
func TestFastPathMatchesReference(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VAGT_STATS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (VAGT_STATS_SEED=%d replays it)", seed, seed)
	ctx := t.Context()
	for run := range 60 {
		r := rand.New(rand.NewPCG(seed, uint64(run)))
		f, muns, techs := wideRandomFacts(r)
		svc := &Service{Store: f, Telemetry: f, Model: DefaultBenefitModel()}
		iv := []Interval{Month, Quarter, Week}[r.IntN(3)]
		from := []string{"2025-10-01", "2025-12-15", "2026-01-01"}[r.IntN(3)]
		to := []string{"2026-04-01", "2026-03-20", "2026-06-01"}[r.IntN(3)]
		if iv == Week {
			from, to = "2026-01-01", "2026-04-01"
		}
		p, err := ParsePeriod(from, to, string(iv))
		if err != nil {
			t.Fatal(err)
		}
		q := Query{Period: p, Municipalities: muns, Technologies: techs, Suppress: r.IntN(2) == 0}
		if r.IntN(3) == 0 {
			// All: the store answers for every municipality it holds, q lists them all.
			q.All, q.Municipalities = true, f.municipalities()
		}
		where := fmt.Sprintf("run %d (%v, %v, %s %s-%s, suppress %v, all %v)", run, q.Municipalities, techs, iv, from, to, q.Suppress, q.All)
		same := func(what string, got, want any) {
			t.Helper()
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if string(g) != string(w) {
				t.Fatalf("%s: %s differs from the straightforward computation:\nfast: %s\nref:  %s", where, what, g, w)
			}
		}
		fast, err := svc.Adoption(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := svc.refAdoption(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		same("adoption", fast, ref)
		fastAl, err := svc.Alerts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		refAl, err := svc.refAlerts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		same("alerts", fastAl, refAl)
		if len(fastAl.Rows) == 0 || len(fast.Rows) == 0 {
			t.Fatalf("%s: nothing compared", where)
		}
	}
}

func (f *facts) municipalities() []vagt.MunicipalityCode {
	var out []vagt.MunicipalityCode
	for _, d := range f.devices {
		out = append(out, d.Municipality)
	}
	for _, a := range f.alerts {
		out = append(out, a.Municipality)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// wideRandomFacts is a registry with what the fast path must not get wrong: municipalities
// and technologies outside the query, citizens with devices in two municipalities and in
// two districts, homes without a citizen (0), removals, devices that never report, and
// alerts of every priority and outcome in several districts, acknowledged, resolved and
// arrived at or not, with tied times; the query's municipalities and technologies are a
// sorted subset.
func wideRandomFacts(r *rand.Rand) (*facts, []vagt.MunicipalityCode, []vagt.Technology) {
	f := &facts{readings: map[vagt.DeviceID][]time.Time{}}
	allMuns := []vagt.MunicipalityCode{101, 147, 751, 766, 810, 825}
	allTechs := []vagt.Technology{vagt.TechPersonalAlarm, vagt.TechFallDetector, vagt.TechMedicineDispenser, vagt.TechDoorSensor, vagt.TechGPSTracker}
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, vagt.Copenhagen)
	end := time.Date(2026, 7, 1, 0, 0, 0, 0, vagt.Copenhagen)
	at := func(from, to time.Time) time.Time {
		if r.IntN(8) == 0 { // on a boundary: midnight of the first of a month
			d := from.AddDate(0, r.IntN(6), 0)
			return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, vagt.Copenhagen)
		}
		return from.Add(time.Duration(r.Int64N(int64(to.Sub(from)))))
	}
	districts := []struct {
		id   int64
		name string
	}{{0, ""}, {1, "Nord"}, {2, "Syd"}, {3, "Vest"}}
	var citizens []int64
	dev := 0
	for _, m := range allMuns {
		for range r.IntN(60) {
			id := int64(len(f.citizens) + 1)
			f.citizens = append(f.citizens, CitizenFact{ID: id, Municipality: m, RegisteredAt: at(start, end)})
			citizens = append(citizens, id)
		}
		for range r.IntN(120) {
			var cit int64
			switch {
			case r.IntN(10) == 0: // a home without a citizen
			case len(citizens) > 0:
				cit = citizens[r.IntN(len(citizens))] // may be another municipality's
			}
			dist := districts[r.IntN(len(districts))]
			dev++
			d := DeviceFact{Device: vagt.DeviceID(fmt.Sprintf("d%d", dev)), Municipality: m, Technology: allTechs[r.IntN(len(allTechs))],
				Citizen: cit, InstalledAt: at(start, end), District: dist.id, DistrictName: dist.name}
			last := end
			if r.IntN(4) == 0 {
				rm := at(d.InstalledAt, end.Add(200*24*time.Hour))
				if r.IntN(3) == 0 {
					rm = d.InstalledAt.Add(time.Duration(r.IntN(100)) * 24 * time.Hour) // churn
				}
				d.RemovedAt, last = &rm, rm
			}
			f.devices = append(f.devices, d)
			if r.IntN(10) < 7 {
				for ts := d.InstalledAt.Add(time.Hour); ts.Before(last); ts = ts.Add(time.Duration(1+r.IntN(30)) * 24 * time.Hour) {
					f.readings[d.Device] = append(f.readings[d.Device], ts)
				}
			}
		}
		for range r.IntN(300) {
			raised := at(start, end)
			dist := districts[r.IntN(len(districts))]
			a := AlertFact{Municipality: m, Type: vagt.AlarmType(1 + r.IntN(3)), Priority: vagt.Priority(1 + r.IntN(3)), RaisedAt: raised,
				Escalations: r.IntN(3), District: dist.id, DistrictName: dist.name}
			since := func() time.Duration {
				if r.IntN(5) == 0 {
					return 60 * time.Second // a tie on the limit
				}
				return time.Duration(r.IntN(4000)) * time.Second / time.Duration(1+r.IntN(7))
			}
			if r.IntN(5) > 0 {
				ack := raised.Add(since())
				a.AckedAt = &ack
			}
			if r.IntN(3) > 0 {
				arr := raised.Add(since() * 3)
				a.ArrivedAt = &arr
			}
			if r.IntN(2) == 0 {
				res := raised.Add(since() * 4)
				outcomes := []alerts.Outcome{alerts.OutcomeFalseAlarm, alerts.OutcomeOther, alerts.OutcomeTechnicalFault, alerts.OutcomeVisitedHelpGiven}
				a.ResolvedAt, a.Outcome = &res, outcomes[r.IntN(len(outcomes))]
			}
			f.alerts = append(f.alerts, a)
		}
	}
	muns := slices.Clone(allMuns)
	r.Shuffle(len(muns), func(i, j int) { muns[i], muns[j] = muns[j], muns[i] })
	muns = muns[:1+r.IntN(len(muns))]
	slices.Sort(muns)
	techs := slices.Clone(allTechs)
	r.Shuffle(len(techs), func(i, j int) { techs[i], techs[j] = techs[j], techs[i] })
	techs = techs[:1+r.IntN(len(techs))]
	slices.Sort(techs)
	return f, muns, techs
}

// TestNearestRankIsPercentile: selection finds the value the sort finds, for every rank,
// on random values with ties and on the orders that defeat a naive quickselect (sorted,
// reversed, all equal, organ pipe).
func TestNearestRankIsPercentile(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 5))
	var inputs [][]float64
	for n := range 200 {
		vs := make([]float64, n)
		for i := range vs {
			vs[i] = float64(r.IntN(1 + n/3)) // ties
		}
		inputs = append(inputs, vs)
	}
	for _, n := range []int{1, 2, 3, 1000, 4099} {
		sorted, rev, equal, pipe := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range n {
			sorted[i], rev[i], equal[i], pipe[i] = float64(i), float64(n-i), 7, float64(min(i, n-i))
		}
		inputs = append(inputs, sorted, rev, equal, pipe)
	}
	for _, vs := range inputs {
		for _, p := range []float64{0, 1, 25, 50, 75, 90, 99, 100} {
			want := percentile(vs, p)
			got := nearestRank(slices.Clone(vs), p)
			if (want == nil) != (got == nil) || (want != nil && *want != *got) {
				t.Fatalf("p%v of %d values: selection %v, sort %v", p, len(vs), fl(got), fl(want))
			}
		}
	}
}

func fl(p *float64) string {
	if p == nil {
		return "nil"
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}
