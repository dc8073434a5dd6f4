package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// Totals under disclosure control (totals.go), as a property over random registries: for
// the national role (suppression and rounding) no published total is contradicted by its
// published parts (there are true values consistent with both), no total is the sum of
// what survived suppression (it is its own cell, released from the exact data), and no
// suppressed part is recovered by subtracting the published parts from the total.
// VAGT_STATS_SEED replays a run; the seed is printed.

// maxDevices is the most devices one citizen has of one technology in randomFacts.
const maxDevices = 2

// randomFacts is 2-5 municipalities × 2-3 technologies with many small cells (0-4
// citizens) and some large ones, installations, removals, weekly readings and alerts
// in and around Q1 2026.
func randomFacts(r *rand.Rand) (*facts, []vagt.MunicipalityCode, []vagt.Technology) {
	f := &facts{readings: map[vagt.DeviceID][]time.Time{}}
	allMuns := []vagt.MunicipalityCode{101, 147, 751, 766, 810, 825}
	r.Shuffle(len(allMuns), func(i, j int) { allMuns[i], allMuns[j] = allMuns[j], allMuns[i] })
	muns := allMuns[:2+r.IntN(4)]
	allTechs := []vagt.Technology{vagt.TechPersonalAlarm, vagt.TechFallDetector, vagt.TechMedicineDispenser, vagt.TechDoorSensor}
	r.Shuffle(len(allTechs), func(i, j int) { allTechs[i], allTechs[j] = allTechs[j], allTechs[i] })
	techs := allTechs[:2+r.IntN(2)]
	start := time.Date(2025, 9, 1, 0, 0, 0, 0, vagt.Copenhagen)
	end := time.Date(2026, 4, 1, 0, 0, 0, 0, vagt.Copenhagen)
	at := func(from, to time.Time) time.Time {
		return from.Add(time.Duration(r.Int64N(int64(to.Sub(from)))))
	}
	dev := 0
	has := map[int64]map[vagt.Technology]bool{}
	for _, m := range muns {
		var mine []int64
		for _, tech := range techs {
			n := r.IntN(5) // small cells are the point
			if r.IntN(3) == 0 {
				n = 5 + r.IntN(30)
			}
			for range n {
				var id int64
				if len(mine) > 0 && r.IntN(4) == 0 {
					id = mine[r.IntN(len(mine))] // a citizen with another technology too
				}
				if id == 0 || has[id][tech] { // at most maxDevices of one technology each
					id = 0
				}
				if id == 0 {
					id = int64(len(f.citizens) + 1)
					f.citizens = append(f.citizens, CitizenFact{ID: id, Municipality: m, RegisteredAt: start})
					mine = append(mine, id)
				}
				if has[id] == nil {
					has[id] = map[vagt.Technology]bool{}
				}
				has[id][tech] = true
				for range 1 + r.IntN(maxDevices) {
					dev++
					d := DeviceFact{Device: vagt.DeviceID(fmt.Sprintf("d%d", dev)), Municipality: m, Technology: tech, Citizen: id, InstalledAt: at(start, end)}
					last := end
					if r.IntN(5) == 0 {
						rm := at(d.InstalledAt, end.Add(30*24*time.Hour))
						d.RemovedAt, last = &rm, rm
					}
					f.devices = append(f.devices, d)
					if r.IntN(10) < 7 {
						for ts := d.InstalledAt.Add(time.Hour); ts.Before(last); ts = ts.Add(7 * 24 * time.Hour) {
							f.readings[d.Device] = append(f.readings[d.Device], ts)
						}
					}
				}
			}
		}
		for range r.IntN(40) {
			raised := at(time.Date(2026, 1, 1, 0, 0, 0, 0, vagt.Copenhagen), end)
			a := AlertFact{Municipality: m, Type: vagt.AlarmType(1), Priority: vagt.PriorityHigh, RaisedAt: raised, Escalations: r.IntN(3)}
			if r.IntN(4) == 0 {
				a.Priority = vagt.PriorityTechnical
			}
			if r.IntN(5) > 0 {
				ack := raised.Add(time.Duration(5+r.IntN(400)) * time.Second)
				a.AckedAt = &ack
				if r.IntN(2) == 0 {
					res := ack.Add(time.Duration(r.IntN(3600)) * time.Second)
					a.ResolvedAt, a.Outcome = &res, []alerts.Outcome{alerts.OutcomeFalseAlarm, alerts.OutcomeOther, alerts.OutcomeTechnicalFault}[r.IntN(3)]
				}
			}
			f.alerts = append(f.alerts, a)
		}
	}
	return f, muns, techs
}

// tspan is what a released figure says about the truth: lo ≤ true ≤ hi.
type tspan struct{ lo, hi int }

const unbounded = math.MaxInt32

// countSpan is the truth behind a released count of citizens or devices: nil (suppressed)
// is 1 to hidden, 0 is 0, a rounded figure the counts of 5 or more that round to it.
func relSpan(v *int, hidden int) tspan {
	switch {
	case v == nil:
		return tspan{1, hidden}
	case *v == 0:
		return tspan{0, 0}
	}
	return tspan{max(SuppressBelow, *v-RoundingBase/2), *v + RoundingBase/2}
}

// alarmSpan is the truth behind a released number of alarms: alarms are rounded but not
// suppressed by their own count, so 0 may stand for 1 or 2; nil (a suppressed row) is
// anything.
func alarmSpan(v *int) tspan {
	if v == nil {
		return tspan{0, unbounded}
	}
	return tspan{max(0, *v-RoundingBase/2), *v + RoundingBase/2}
}

func (a tspan) plus(b tspan) tspan { return tspan{a.lo + b.lo, min(unbounded, a.hi+b.hi)} }

func (a tspan) meets(b tspan) bool { return a.lo <= b.hi && b.lo <= a.hi }

// values is the tspan as a list, for infer's priors (capped: a hidden cell is small).
func (a tspan) values() []int {
	var out []int
	for x := a.lo; x <= min(a.hi, a.lo+200); x++ {
		out = append(out, x)
	}
	return out
}

// recover is what subtracting the other parts from the total tells about the hidden
// ones: every value of total − others that the hidden parts' prior allows.
func recover(total tspan, others []tspan, prior tspan) []int {
	rest := tspan{}
	for _, o := range others {
		rest = rest.plus(o)
	}
	lo, hi := total.lo-min(rest.hi, unbounded/2), total.hi-rest.lo
	var out []int
	for _, x := range prior.values() {
		if x >= lo && x <= hi {
			out = append(out, x)
		}
	}
	return out
}

func TestTotalsAddUpUnderProtection(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VAGT_STATS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (VAGT_STATS_SEED=%d replays it)", seed, seed)
	ctx := t.Context()
	checked, hiddenSeen, incompleteSeen := 0, 0, 0
	for run := range 80 {
		r := rand.New(rand.NewPCG(seed, uint64(run)))
		f, muns, techs := randomFacts(r)
		slices.Sort(muns)
		slices.Sort(techs)
		svc := &Service{Store: f, Telemetry: f, Model: DefaultBenefitModel()}
		iv := []Interval{Month, Quarter, Week}[r.IntN(3)]
		p, err := ParsePeriod("2026-01-01", "2026-04-01", string(iv))
		if err != nil {
			t.Fatal(err)
		}
		q := Query{Period: p, Municipalities: muns, Technologies: techs}
		exactQ, natQ := q, q
		natQ.Suppress = true
		where := func(format string, args ...any) string {
			return fmt.Sprintf("run %d (%v, %v, %s): ", run, muns, techs, iv) + fmt.Sprintf(format, args...)
		}

		exact, err := svc.Adoption(ctx, exactQ)
		if err != nil {
			t.Fatal(err)
		}
		nat, err := svc.Adoption(ctx, natQ)
		if err != nil {
			t.Fatal(err)
		}
		if len(nat.Totals) != len(exact.Totals) || len(nat.Totals) != (len(techs)+1)*len(p.Buckets()) {
			t.Fatalf("%d totals", len(nat.Totals))
		}
		type field struct {
			name string
			get  func(AdoptionRow) *int
			cit  bool // a count of citizens: disjoint over municipalities, not over technologies
		}
		fields := []field{
			{"citizens", func(r AdoptionRow) *int { return r.Citizens }, true},
			{"citizens_active", func(r AdoptionRow) *int { return r.CitizensActive }, true},
			{"devices_installed", func(r AdoptionRow) *int { return r.DevicesInstalled }, false},
			{"devices_active", func(r AdoptionRow) *int { return r.DevicesActive }, false},
			{"new_installations", func(r AdoptionRow) *int { return r.NewInstallations }, false},
			{"removals", func(r AdoptionRow) *int { return r.Removals }, false},
			{"churn_90d", func(r AdoptionRow) *int { return r.Churn }, false},
		}
		for ti, tot := range nat.Totals {
			ex := exact.Totals[ti]
			var parts, exParts []AdoptionRow
			for i, row := range nat.Rows {
				if row.Start.Equal(tot.Start) && (tot.Technology == nil || row.Technology == *tot.Technology) {
					parts, exParts = append(parts, row), append(exParts, exact.Rows[i])
				}
			}
			for _, fd := range fields {
				if fd.cit && tot.Technology == nil {
					continue // a citizen with two technologies is one citizen of the total
				}
				hidden := 4
				if !fd.cit {
					hidden = 4 * maxDevices
				}
				// The exact total is the sum of the exact parts; the protected total is that
				// exact sum released as one cell, whatever its parts' fate.
				sum := 0
				for _, e := range exParts {
					sum += *fd.get(e)
				}
				if got := fd.get(ex.AdoptionRow); got == nil || *got != sum {
					t.Fatalf("%s", where("exact total %s %s = %v, the rows sum to %d", fd.name, tot.Start.Format("Jan 2"), got, sum))
				}
				got := fd.get(tot.AdoptionRow)
				if slices.Contains(tot.Incomplete, fd.name) {
					// Released as the sum of the released rows, which tells nothing new.
					shownSum := 0
					for _, part := range parts {
						if v := fd.get(part); v != nil {
							shownSum += *v
						}
					}
					if got == nil || *got != shownSum || tot.SuppressedRows == 0 {
						t.Errorf("%s", where("incomplete total %s = %v, the released rows sum to %d (%d suppressed)", fd.name, str(got), shownSum, tot.SuppressedRows))
					}
					incompleteSeen++
					continue
				}
				if got == nil && !tot.Suppressed {
					t.Errorf("%s", where("total %s is null but not suppressed", fd.name))
				}
				if got != nil && *got != roundBase(sum, RoundingBase) {
					t.Errorf("%s", where("protected total %s = %d, want %d released from the exact %d", fd.name, *got, roundBase(sum, RoundingBase), sum))
				}
				// No contradiction: the total's tspan meets the sum of its parts' spans.
				partSpan := tspan{}
				var shown []tspan
				var hiddenSum, hiddenN int
				for i, part := range parts {
					sp := relSpan(fd.get(part), hidden)
					partSpan = partSpan.plus(sp)
					if fd.get(part) == nil {
						hiddenSum += *fd.get(exParts[i])
						hiddenN++
					} else {
						shown = append(shown, sp)
					}
				}
				totSpan := relSpan(got, hidden*len(parts))
				if !totSpan.meets(partSpan) {
					t.Errorf("%s", where("total %s %v contradicts its parts %v", fd.name, totSpan, partSpan))
				}
				checked++
				// No recovery: total − the shown parts leaves the hidden ones uncertain.
				if hiddenN > 0 && got != nil {
					hiddenSeen++
					c := recover(totSpan, shown, tspan{hiddenN, hidden * hiddenN})
					if !slices.Contains(c, hiddenSum) {
						t.Errorf("%s", where("%s: the truth %d of %d hidden parts is not among %v (the inference is wrong)", fd.name, hiddenSum, hiddenN, c))
					}
					if len(c) < 2 {
						var dbg []string
						for i, part := range parts {
							dbg = append(dbg, fmt.Sprintf("%d:%s=%d", part.Municipality, str(fd.get(part)), *fd.get(exParts[i])))
						}
						t.Errorf("%s", where("%s %s %v: total %s (exact %d) minus the shown parts %v reveals the %d hidden parts: %v", fd.name, tot.Start.Format("Jan 2"), tot.Technology, str(got), sum, dbg, hiddenN, c))
					}
				}
			}
		}

		// Alerts: interval totals over municipalities, and the whole period over intervals.
		ea, err := svc.Alerts(ctx, exactQ)
		if err != nil {
			t.Fatal(err)
		}
		na, err := svc.Alerts(ctx, natQ)
		if err != nil {
			t.Fatal(err)
		}
		for ti, tot := range na.Totals {
			var parts, exParts []AlertRow
			for i, row := range na.Rows {
				if tot.WholePeriod || row.Start.Equal(tot.Start) {
					parts, exParts = append(parts, row), append(exParts, ea.Rows[i])
				}
			}
			sum := 0
			for _, e := range exParts {
				sum += *e.Alarms
			}
			if *ea.Totals[ti].Alarms != sum {
				t.Fatalf("%s", where("exact alarms total %d, rows %d", *ea.Totals[ti].Alarms, sum))
			}
			if tot.Suppressed {
				continue
			}
			if *tot.Alarms != roundBase(sum, RoundingBase) {
				t.Errorf("%s", where("alarms total %d, want %d released from the exact %d", *tot.Alarms, roundBase(sum, RoundingBase), sum))
			}
			partSpan, shown, hiddenSum, hiddenN := tspan{}, []tspan{}, 0, 0
			for i, part := range parts {
				partSpan = partSpan.plus(alarmSpan(part.Alarms))
				if part.Alarms == nil {
					hiddenSum += *exParts[i].Alarms
					hiddenN++
				} else {
					shown = append(shown, alarmSpan(part.Alarms))
				}
			}
			if !alarmSpan(tot.Alarms).meets(partSpan) {
				t.Errorf("%s", where("alarms total %d contradicts its parts %v", *tot.Alarms, partSpan))
			}
			if hiddenN > 0 {
				c := recover(alarmSpan(tot.Alarms), shown, tspan{0, 200})
				if !slices.Contains(c, hiddenSum) || len(c) < 2 {
					t.Errorf("%s", where("alarms: %d hidden (truth %d): total minus the shown rows gives %v", hiddenN, hiddenSum, c))
				}
			}
			for _, sh := range []*float64{tot.AckedWithin60s, tot.AckedWithin180s, tot.FalseAlarmShare} {
				if sh != nil && (*sh < 0 || *sh > 1) {
					t.Errorf("%s", where("a share of %v", *sh))
				}
			}
		}

		// Benefits: a cell total's kroner follow from its own counts and meet the sum of the
		// rows' spans (no sign flipped by a dropped row); sums add up their cells.
		nb, err := svc.Benefits(ctx, natQ)
		if err != nil {
			t.Fatal(err)
		}
		checkBenefitTotals(t, where, svc.Model, natQ, nb, nat)
	}
	if checked == 0 || hiddenSeen == 0 {
		t.Fatalf("the property checked %d totals, %d with hidden parts: the fixture does not test it", checked, hiddenSeen)
	}
	if incompleteSeen == 0 {
		t.Errorf("no total had to be released incomplete: the fixture does not reach the audit")
	}
	t.Logf("%d totals checked, %d with hidden parts, %d released incomplete", checked, hiddenSeen, incompleteSeen)
}

// netSpan is the tspan of the true net benefit behind a released row or cell total.
func netSpan(m BenefitModel, q Query, r BenefitRow, hidden int) (lo, hi float64) {
	tm := m.Technologies[r.Technology]
	b := Bucket{r.Start, r.End}
	perCitizen := tm.VisitsAvoidedPerCitizenWeek * b.Days() / 7 * tm.MinutesPerVisit / 60 * tm.HourlyCostDKK
	perDevice := tm.RunningCostDKKPerDeviceMon * q.Period.Interval.Months(b)
	ca, ni, di := relSpan(r.CitizensActive, hidden), relSpan(r.NewInstallations, hidden*maxDevices), relSpan(r.DevicesInstalled, hidden*maxDevices)
	lo = float64(ca.lo)*perCitizen - float64(ni.hi)*tm.OneOffCostDKK - float64(di.hi)*perDevice
	hi = float64(ca.hi)*perCitizen - float64(ni.lo)*tm.OneOffCostDKK - float64(di.lo)*perDevice
	return lo, hi
}

func checkBenefitTotals(t *testing.T, where func(string, ...any) string, m BenefitModel, q Query, nb Benefits, a Adoption) {
	t.Helper()
	var cells []BenefitTotal
	for _, tot := range nb.Totals {
		if tot.Technology == nil || tot.WholePeriod {
			continue
		}
		cells = append(cells, tot)
		if tot.Suppressed {
			continue
		}
		if tot.Incomplete && tot.CitizensActive == nil {
			// The sum of the released rows (an adoption total was released incomplete).
			var net float64
			for _, r := range nb.Rows {
				if r.Technology == *tot.Technology && r.Start.Equal(tot.Start) && !r.Suppressed {
					net += *r.NetDKK
				}
			}
			if math.Abs(net-*tot.NetDKK) > 0.05 {
				t.Errorf("%s", where("incomplete net total %.2f, its released rows %.2f", *tot.NetDKK, net))
			}
			continue
		}
		var lo, hi float64
		for i, r := range nb.Rows {
			if r.Technology == *tot.Technology && r.Start.Equal(tot.Start) {
				// A suppressed benefit row shows no counts; the adoption row shows those it may.
				r.CitizensActive, r.NewInstallations, r.DevicesInstalled = a.Rows[i].CitizensActive, a.Rows[i].NewInstallations, a.Rows[i].DevicesInstalled
				l, h := netSpan(m, q, r, 4)
				lo, hi = lo+l, hi+h
			}
		}
		tl, th := netSpan(m, q, tot.BenefitRow, 4*len(q.Municipalities))
		if tl > hi+0.01 || lo > th+0.01 {
			t.Errorf("%s", where("%s %s: net total %.2f (true in %.0f..%.0f) contradicts its rows (true in %.0f..%.0f)",
				tot.Technology, tot.Start.Format("Jan 2"), *tot.NetDKK, tl, th, lo, hi))
		}
	}
	for _, tot := range nb.Totals {
		if tot.Technology != nil && !tot.WholePeriod {
			continue
		}
		var net float64
		hidden := 0
		for _, c := range cells {
			if (tot.Technology == nil || c.BenefitRow.Technology == *tot.Technology) && (tot.WholePeriod || c.Start.Equal(tot.Start)) {
				if c.Suppressed {
					hidden++
					continue
				}
				net += *c.NetDKK
			}
		}
		if math.Abs(net-*tot.NetDKK) > 0.05 {
			t.Errorf("%s", where("a sum of totals gives net %.2f, its cells %.2f", *tot.NetDKK, net))
		}
		if (hidden > 0 && !tot.Incomplete) || len(tot.Hidden) != hidden {
			t.Errorf("%s", where("a sum lacks %d cells but says incomplete=%v hidden=%v", hidden, tot.Incomplete, tot.Hidden))
		}
	}
}

// TestTotalSafe holds the audit's examples: the rounding errors of the shown parts leaning
// one way, and two hidden parts whose sum is pinned at 8 (so both are 4).
func TestTotalSafe(t *testing.T) {
	p := func(v int) *int { return &v }
	for _, c := range []struct {
		total int
		parts []*int
		safe  bool
	}{
		{20, []*int{p(15), p(10), nil}, false}, // truths 22 = 13 + 8 + 1
		{10, []*int{nil, p(0), nil}, false},    // truths 8 = 4 + 0 + 4
		{25, []*int{p(15), p(10), nil}, true},  // 1-4 all possible
		{5, []*int{p(5), nil}, true},           // 1 or 2
		{10, []*int{nil, nil}, false},          // 8..12 ∩ 2..8 = {8}: both parts are 4
		{30, []*int{p(30)}, true},              // nothing hidden
	} {
		if got := totalSafe(c.total, c.parts); got != c.safe {
			t.Errorf("totalSafe(%d, %v) = %v, want %v", c.total, c.parts, got, c.safe)
		}
	}
}

// TestDifferencingTheTotal is attack 1 of docs/statistics.md against a total and its own
// rows: Aarhus 13, Hedensted 8 and Læsø 1 citizen with a medicine dispenser. Released alone,
// the national total (22 → 20) minus Aarhus (15: 13-17) and Hedensted (10: 8-12) leaves Læsø at
// exactly 1. The audit releases the total's citizens as the sum of the shown rows instead,
// marked incomplete, and the attack is left with 1-4.
func TestDifferencingTheTotal(t *testing.T) {
	f := &facts{readings: map[vagt.DeviceID][]time.Time{}}
	for _, c := range []struct {
		m vagt.MunicipalityCode
		n int
	}{{751, 13}, {766, 8}, {825, 1}} {
		for range c.n {
			id := int64(len(f.citizens) + 1)
			at := time.Date(2025, 11, 1, 12, 0, 0, 0, vagt.Copenhagen)
			f.citizens = append(f.citizens, CitizenFact{ID: id, Municipality: c.m, RegisteredAt: at})
			f.devices = append(f.devices, DeviceFact{Device: vagt.DeviceID(fmt.Sprint("md-", id)), Municipality: c.m,
				Technology: vagt.TechMedicineDispenser, Citizen: id, InstalledAt: at})
		}
	}
	svc := &Service{Store: f, Telemetry: f, Model: DefaultBenefitModel()}
	p, _ := ParsePeriod("2026-01-01", "2026-02-01", "")
	a, err := svc.Adoption(t.Context(), Query{Period: p, Municipalities: []vagt.MunicipalityCode{751, 766, 825},
		Technologies: []vagt.Technology{vagt.TechMedicineDispenser}, Suppress: true})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	var shown []tspan
	for _, r := range a.Rows {
		rows = append(rows, str(r.Citizens))
		if r.Citizens != nil {
			shown = append(shown, relSpan(r.Citizens, 4))
		}
	}
	tot := a.Totals[0]
	if fmt.Sprint(rows) != "[15 10 <nil>]" || tot.Technology == nil || tot.Citizens == nil {
		t.Fatalf("rows %v, total %+v", rows, tot)
	}
	// What the total would have been on its own: 20, which pins Læsø at 1.
	if got := recover(relSpan(ptr(roundBase(22, RoundingBase)), 12), shown, tspan{1, 4}); fmt.Sprint(got) != "[1]" {
		t.Errorf("the attack on a total of 20 gives %v; the fixture no longer shows it", got)
	}
	if *tot.Citizens != 25 || !slices.Contains(tot.Incomplete, "citizens") || tot.SuppressedRows != 1 {
		t.Errorf("the total's citizens: %d, incomplete %v, suppressed rows %d; want 25 (15 + 10), incomplete", *tot.Citizens, tot.Incomplete, tot.SuppressedRows)
	}
}
