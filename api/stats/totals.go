package stats

import (
	"slices"

	"github.com/vagt-dk/vagt"
)

// Totals that add up under disclosure control (docs/statistics.md, "Totals").
//
// A total is never the sum of the rows as released: a suppressed row would drop out of it
// (a national net benefit of +48,323 kr. beside −107,398 kr. in one of its municipalities),
// and a sum of rounded rows drifts from the truth. A total is computed from the exact data
// of every cell it covers, as if it were one cell, and then protected as a cell of its own:
// suppressed when it describes 1-4 citizens, rounded to RoundingBase. Its derived figures
// (rates, kroner) come from its own released counts, as a row's do. A figure that can only
// be added up from other protected totals (kroner over technologies) is the sum of those
// totals and says which were hidden (Incomplete, Hidden).

// AdoptionTotal is an adoption total over every municipality of the answer, for one
// technology or (Technology nil) all the technologies asked, a citizen with several counted
// once.
type AdoptionTotal struct {
	AdoptionRow
	Technology     *vagt.Technology `json:"technology"`
	Municipalities int              `json:"municipalities"`
	// SuppressedRows is how many of the rows this total covers are suppressed: what the
	// rows hide and the total does not.
	SuppressedRows int `json:"suppressed_rows"`
	// Incomplete names the figures released as the sum of the released rows, because the
	// total itself would have given a suppressed row away (disclosure.go, auditTotal).
	Incomplete []string `json:"incomplete,omitempty"`
}

// FunnelTotal is the funnel over every municipality of the answer, for one technology.
type FunnelTotal struct {
	FunnelRow
	Municipalities int      `json:"municipalities"`
	SuppressedRows int      `json:"suppressed_rows"`
	Incomplete     []string `json:"incomplete,omitempty"`
}

// adoptionTotals computes the totals of an adoption answer: a technology's from the exact
// counts of its rows (rowCounts, beside rows; a citizen is of one municipality, so the
// municipalities' counts add up), all technologies' by counting their devices again, since
// a citizen with two technologies is one citizen.
func adoptionTotals(q Query, pop *Population, rows []AdoptionRow, rowCounts []cellCounts, funnelRows []FunnelRow, ds reports,
	cellOf func(vagt.MunicipalityCode, vagt.Technology) []int32, registered int, trackers []extra, seen *distinct) ([]AdoptionTotal, []FunnelTotal) {
	buckets := q.Period.Buckets()
	people := 0 // citizens aged 65+ of the municipalities with a known figure
	for _, m := range q.Municipalities {
		people += pop.Of(m)
	}
	var totals []AdoptionTotal
	techs := append(slices.Clone(q.Technologies), 0) // 0: all of them
	var all []int32
	for _, m := range q.Municipalities {
		for _, t := range q.Technologies {
			all = append(all, cellOf(m, t)...)
		}
	}
	// The rows of each technology (0: all) in each interval, by index: rows come
	// municipality × technology × interval, so row j is of interval j mod len(buckets).
	rowsOf := map[vagt.Technology][][]int{0: make([][]int, len(buckets))}
	for j, row := range rows {
		if rowsOf[row.Technology] == nil {
			rowsOf[row.Technology] = make([][]int, len(buckets))
		}
		i := j % len(buckets)
		rowsOf[row.Technology][i] = append(rowsOf[row.Technology][i], j)
		rowsOf[0][i] = append(rowsOf[0][i], j)
	}
	for _, tech := range techs {
		for i, b := range buckets {
			var c cellCounts
			if tech == 0 {
				c = countCell(ds, all, i, seen)
				c.addActive(trackers[i])
			} else {
				for _, j := range rowsOf[tech][i] {
					c = c.plus(rowCounts[j])
				}
			}
			t := AdoptionTotal{AdoptionRow: AdoptionRow{Start: b.Start, End: b.End}, Municipalities: len(q.Municipalities)}
			if tech != 0 {
				t.Technology, t.AdoptionRow.Technology = ptr(tech), tech
			}
			r := &t.AdoptionRow
			r.Suppressed = c.release(q, &r.Citizens, &r.CitizensActive, &r.DevicesInstalled, &r.DevicesActive, &r.NewInstallations, &r.Removals, &r.Churn)
			var parts []AdoptionRow
			for _, j := range rowsOf[tech][i] {
				parts = append(parts, rows[j])
				if rows[j].Suppressed {
					t.SuppressedRows++
				}
			}
			for _, f := range adoptionCounts {
				if f.citizens && tech == 0 {
					continue // not a sum of its rows: a citizen with two technologies is one
				}
				var ps []*int
				for i := range parts {
					ps = append(ps, *f.of(&parts[i]))
				}
				if auditTotal(q, f.of(r), ps) {
					t.Incomplete = append(t.Incomplete, f.name)
				}
			}
			if people > 0 && r.Citizens != nil {
				r.Per1000 = ptr(round(float64(*r.Citizens)*1000/float64(people), 3))
			}
			totals = append(totals, t)
		}
	}
	var funnels []FunnelTotal
	for _, tech := range q.Technologies {
		var sel []int32
		for _, m := range q.Municipalities {
			sel = append(sel, cellOf(m, tech)...)
		}
		f := FunnelTotal{FunnelRow: FunnelRow{Technology: tech}, Municipalities: len(q.Municipalities)}
		f.Suppressed = funnelStages(q, ds, sel, registered, buckets, seen).release(q, &f.Registered, &f.Installed, &f.Active, &f.StillActive90d)
		var parts []FunnelRow
		for _, row := range funnelRows {
			if row.Technology == tech {
				parts = append(parts, row)
				if row.Suppressed {
					f.SuppressedRows++
				}
			}
		}
		for _, fd := range funnelCounts {
			var ps []*int
			for i := range parts {
				ps = append(ps, *fd.of(&parts[i]))
			}
			if auditTotal(q, fd.of(&f.FunnelRow), ps) {
				f.Incomplete = append(f.Incomplete, fd.name)
			}
		}
		funnels = append(funnels, f)
	}
	return totals, funnels
}

// adoptionCounts are the counts of an adoption row, by their JSON names; citizens: a
// count of citizens (one per citizen across technologies), else of devices.
var adoptionCounts = []struct {
	name     string
	citizens bool
	of       func(*AdoptionRow) **int
}{
	{"citizens", true, func(r *AdoptionRow) **int { return &r.Citizens }},
	{"citizens_active", true, func(r *AdoptionRow) **int { return &r.CitizensActive }},
	{"devices_installed", false, func(r *AdoptionRow) **int { return &r.DevicesInstalled }},
	{"devices_active", false, func(r *AdoptionRow) **int { return &r.DevicesActive }},
	{"new_installations", false, func(r *AdoptionRow) **int { return &r.NewInstallations }},
	{"removals", false, func(r *AdoptionRow) **int { return &r.Removals }},
	{"churn_90d", false, func(r *AdoptionRow) **int { return &r.Churn }},
}

var funnelCounts = []struct {
	name string
	of   func(*FunnelRow) **int
}{
	{"registered", func(r *FunnelRow) **int { return &r.Registered }},
	{"installed", func(r *FunnelRow) **int { return &r.Installed }},
	{"active", func(r *FunnelRow) **int { return &r.Active }},
	{"still_active_90d", func(r *FunnelRow) **int { return &r.StillActive90d }},
}
