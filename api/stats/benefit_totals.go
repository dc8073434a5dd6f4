package stats

import (
	"context"
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
)

// BenefitTotal is a benefit estimate over every municipality of the answer.
//
//   - Technology set, interval: the model applied to the adoption total of the technology
//     (AdoptionTotal), a cell of its own, protected as every cell is.
//   - Technology nil (all technologies) or WholePeriod: the sum of those per-technology,
//     per-interval totals. Kroner of different technologies cannot be one cell (each has
//     its own rates), so when one of the totals summed is suppressed the sum says so:
//     Incomplete, and Hidden lists what it lacks. Counts are given only where they are one
//     cell (a technology in an interval).
type BenefitTotal struct {
	BenefitRow
	Technology     *vagt.Technology `json:"technology"`
	Municipalities int              `json:"municipalities"`
	WholePeriod    bool             `json:"whole_period"`
	Incomplete     bool             `json:"incomplete"`
	Hidden         []HiddenPart     `json:"hidden,omitempty"`
	SuppressedRows int              `json:"suppressed_rows"`
}

// HiddenPart is a suppressed total that a sum lacks: a technology's, in an interval.
type HiddenPart struct {
	Technology vagt.Technology `json:"technology"`
	Start      time.Time       `json:"interval_start"`
	// Citizens is what a suppressed cell may describe: 1-4.
	Citizens string `json:"citizens"`
}

// sumBenefits makes b the sum of the released rows, marked incomplete when one is
// suppressed; counts are left out (they would be sums of a part).
func sumBenefits(b BenefitTotal, rows []BenefitRow) BenefitTotal {
	var visits, hours, gross, oneOff, running float64
	for _, r := range rows {
		if r.Suppressed {
			b.Incomplete = true
			continue
		}
		visits, hours, gross = visits+*r.VisitsAvoided, hours+*r.HoursSaved, gross+*r.GrossDKK
		oneOff, running = oneOff+*r.OneOffCostDKK, running+*r.RunningCostDKK
	}
	b.CitizensActive, b.DevicesInstalled, b.NewInstallations, b.Suppressed = nil, nil, nil, false
	b.VisitsAvoided, b.HoursSaved = ptr(round(visits, 2)), ptr(round(hours, 2))
	b.GrossDKK, b.OneOffCostDKK, b.RunningCostDKK = ptr(round(gross, 2)), ptr(round(oneOff, 2)), ptr(round(running, 2))
	b.NetDKK = ptr(round(gross-oneOff-running, 2))
	return b
}

func (s *Service) benefitTotals(ctx context.Context, q Query, cal *calendar, a Adoption, rows []BenefitRow) ([]BenefitTotal, error) {
	buckets := q.Period.Buckets()
	n := len(q.Municipalities)
	// cells[tech][i] are the per-technology, per-interval totals.
	cells := map[vagt.Technology][]BenefitTotal{}
	for _, at := range a.Totals {
		if at.Technology == nil {
			continue
		}
		b := BenefitTotal{BenefitRow: BenefitRow{Technology: *at.Technology, Start: at.Start, End: at.End}, Technology: at.Technology, Municipalities: n}
		if err := s.estimate(ctx, q, cal, &b.BenefitRow, at.AdoptionRow, q.storeMuns()); err != nil {
			return nil, err
		}
		var parts []BenefitRow
		for _, r := range rows {
			if r.Technology == *at.Technology && r.Start.Equal(at.Start) {
				parts = append(parts, r)
				if r.Suppressed {
					b.SuppressedRows++
				}
			}
		}
		// An adoption total released incomplete (auditTotal) makes its estimate the sum of
		// the released rows' estimates, incomplete too.
		if slices.ContainsFunc(at.Incomplete, func(f string) bool {
			return f == "citizens_active" || f == "new_installations" || f == "devices_installed"
		}) {
			b = sumBenefits(b, parts)
		}
		cells[*at.Technology] = append(cells[*at.Technology], b)
	}
	var out []BenefitTotal
	for _, tech := range q.Technologies {
		out = append(out, cells[tech]...)
	}
	// Sums: all technologies per interval, each technology over the period, and all over all.
	sum := func(start, end time.Time, tech *vagt.Technology, whole bool, parts []BenefitTotal) BenefitTotal {
		t := BenefitTotal{BenefitRow: BenefitRow{Start: start, End: end}, Technology: tech, Municipalities: n, WholePeriod: whole}
		if tech != nil {
			t.BenefitRow.Technology = *tech
		}
		var visits, hours, gross, oneOff, running float64
		for _, p := range parts {
			t.SuppressedRows += p.SuppressedRows
			t.Incomplete = t.Incomplete || p.Incomplete
			if p.Suppressed {
				t.Incomplete = true
				t.Hidden = append(t.Hidden, HiddenPart{Technology: p.BenefitRow.Technology, Start: p.Start, Citizens: "1-4"})
				continue
			}
			visits += *p.VisitsAvoided
			hours += *p.HoursSaved
			gross += *p.GrossDKK
			oneOff += *p.OneOffCostDKK
			running += *p.RunningCostDKK
		}
		t.VisitsAvoided, t.HoursSaved = ptr(round(visits, 2)), ptr(round(hours, 2))
		t.GrossDKK, t.OneOffCostDKK, t.RunningCostDKK = ptr(round(gross, 2)), ptr(round(oneOff, 2)), ptr(round(running, 2))
		t.NetDKK = ptr(round(gross-oneOff-running, 2))
		return t
	}
	var everything []BenefitTotal
	for i, b := range buckets {
		var parts []BenefitTotal
		for _, tech := range q.Technologies {
			parts = append(parts, cells[tech][i])
		}
		out = append(out, sum(b.Start, b.End, nil, false, parts))
		everything = append(everything, parts...)
	}
	for _, tech := range q.Technologies {
		out = append(out, sum(q.Period.From, q.Period.To, ptr(tech), true, cells[tech]))
	}
	out = append(out, sum(q.Period.From, q.Period.To, nil, true, everything))
	return out, nil
}
