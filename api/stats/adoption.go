package stats

import (
	"context"
	"time"

	"github.com/vagt-dk/vagt"
)

// AdoptionRow is one municipality × technology × interval. Counts are nil when suppressed.
type AdoptionRow struct {
	Municipality     vagt.MunicipalityCode `json:"municipality,omitempty"` // 0 in a total
	MunicipalityName string                `json:"municipality_name,omitempty"`
	Region           vagt.Region           `json:"region,omitempty"`
	Technology       vagt.Technology       `json:"technology"`
	Start            time.Time             `json:"interval_start"`
	End              time.Time             `json:"interval_end"`
	Citizens         *int                  `json:"citizens"`
	CitizensActive   *int                  `json:"citizens_active"`
	DevicesInstalled *int                  `json:"devices_installed"`
	DevicesActive    *int                  `json:"devices_active"`
	NewInstallations *int                  `json:"new_installations"`
	Removals         *int                  `json:"removals"`
	Churn            *int                  `json:"churn_90d"`
	Per1000          *float64              `json:"citizens_per_1000_65plus"`
	Suppressed       bool                  `json:"suppressed"`
}

// FunnelRow is the rollout funnel of a municipality × technology over the period.
type FunnelRow struct {
	Municipality   vagt.MunicipalityCode `json:"municipality,omitempty"` // 0 in a total
	Technology     vagt.Technology       `json:"technology"`
	Registered     *int                  `json:"registered"`
	Installed      *int                  `json:"installed"`
	Active         *int                  `json:"active"`
	StillActive90d *int                  `json:"still_active_90d"`
	Suppressed     bool                  `json:"suppressed"`
}

// Adoption is the answer of GET /stats/adoption.
type Adoption struct {
	Period          Period     `json:"period"`
	SuppressedBelow int        `json:"suppressed_below,omitempty"`
	Disclosure      Disclosure `json:"disclosure"`
	// Population65 says where the denominator of citizens_per_1000_65plus comes from.
	Population65 PopulationInfo `json:"population_65plus"`
	Rows         []AdoptionRow  `json:"rows"`
	Funnel       []FunnelRow    `json:"funnel"`
	// Totals over every municipality asked, per technology and for all technologies, per
	// interval: each computed from the exact data and then protected as a cell of its own
	// (totals.go), never the sum of the released rows.
	Totals       []AdoptionTotal `json:"totals"`
	FunnelTotals []FunnelTotal   `json:"funnel_totals"`
}

type cell struct {
	m vagt.MunicipalityCode
	t vagt.Technology
}

// Adoption counts adoption per municipality × technology × interval, and the funnel.
func (s *Service) Adoption(ctx context.Context, q Query) (Adoption, error) {
	p := q.Period
	pop := s.population()
	res := Adoption{Period: p, Disclosure: q.disclosure(), Population65: pop.Info(), Rows: []AdoptionRow{}, Funnel: []FunnelRow{}}
	if q.Suppress {
		res.SuppressedBelow = SuppressBelow
	}
	devices, err := s.Store.DeviceFacts(ctx, q.storeMuns(), p.To)
	if err != nil {
		return res, err
	}
	citizens, err := s.Store.CitizenFacts(ctx, q.storeMuns(), p.To)
	if err != nil {
		return res, err
	}
	masks, err := s.activityMasks(ctx, q, devices)
	if err != nil {
		return res, err
	}
	// The devices by municipality × technology asked, once (grouping.go).
	muns := newMunIndex(q.Municipalities)
	techPos := make(map[vagt.Technology]int, len(q.Technologies))
	for _, t := range q.Technologies {
		if _, ok := techPos[t]; !ok {
			techPos[t] = len(techPos)
		}
	}
	nt := len(techPos)
	byCell := groupBy(len(devices), muns.n*nt, func(k int) int {
		j, ti, ok := muns.of(devices[k].Municipality), 0, false
		if ti, ok = techPos[devices[k].Technology]; !ok || j < 0 {
			return -1
		}
		return j*nt + ti
	})
	ds := reports{devices: devices, masks: masks, life: lifetimes(devices, p.Buckets(), p.To.Add(-ChurnWindow))}
	cellOf := func(m vagt.MunicipalityCode, t vagt.Technology) []int32 {
		return byCell.cell(muns.of(m)*nt + techPos[t])
	}
	seen := newDistinct(devices, citizens)
	// Registered (the funnel's first stage): the citizens registered before the end, and
	// every citizen who got any technology before it (see funnel).
	registered := seen.registered(q, muns, devices, citizens)
	buckets := p.Buckets()
	trackers, err := s.trackerActivity(ctx, q, buckets)
	if err != nil {
		return res, err
	}
	names := municipalityInfo()
	trackerExtra := make([]extra, len(buckets)) // GPS trackers beyond the registry's active devices, per interval
	var rowCounts []cellCounts                  // beside res.Rows
	for _, m := range q.Municipalities {
		info := names[m]
		for _, tech := range q.Technologies {
			sel := cellOf(m, tech)
			for i, b := range buckets {
				row := AdoptionRow{Municipality: m, MunicipalityName: info.Name, Region: info.Region, Technology: tech, Start: b.Start, End: b.End}
				c := countCell(ds, sel, i, seen)
				if tech == vagt.TechGPSTracker {
					cit, dev := c.citizensActive, c.active
					c.withTrackers(trackers[i][m])
					trackerExtra[i].citizens += c.citizensActive - cit
					trackerExtra[i].devices += c.active - dev
				}
				rowCounts = append(rowCounts, c)
				row.Suppressed = c.release(q, &row.Citizens, &row.CitizensActive, &row.DevicesInstalled, &row.DevicesActive,
					&row.NewInstallations, &row.Removals, &row.Churn)
				if n := pop.Of(m); n > 0 && row.Citizens != nil {
					row.Per1000 = ptr(round(float64(*row.Citizens)*1000/float64(n), 3))
				}
				res.Rows = append(res.Rows, row)
			}
			f := FunnelRow{Municipality: m, Technology: tech}
			f.Suppressed = funnelStages(q, ds, sel, registered.of[muns.of(m)], buckets, seen).release(q, &f.Registered, &f.Installed, &f.Active, &f.StillActive90d)
			res.Funnel = append(res.Funnel, f)
		}
	}
	res.Totals, res.FunnelTotals = adoptionTotals(q, pop, res.Rows, rowCounts, res.Funnel, ds, cellOf, registered.all, trackerExtra, seen)
	return res, nil
}

// cellCounts are the exact counts of one cell (a municipality × technology × interval, or a
// total over several): each with the number of citizens behind it, which decides its
// suppression.
type cellCounts struct {
	citizens, citizensActive, citizensNew, citizensRemoved, citizensChurn int
	installed, active, added, removed, churn                              int
}

// plus adds the counts of a cell whose citizens are others (another municipality's).
func (c cellCounts) plus(o cellCounts) cellCounts {
	return cellCounts{c.citizens + o.citizens, c.citizensActive + o.citizensActive, c.citizensNew + o.citizensNew,
		c.citizensRemoved + o.citizensRemoved, c.citizensChurn + o.citizensChurn,
		c.installed + o.installed, c.active + o.active, c.added + o.added, c.removed + o.removed, c.churn + o.churn}
}

// reports are a request's devices and, beside each, the intervals it reported in (bit i:
// interval i; a period has at most 53).
type reports struct {
	devices []DeviceFact
	masks   []uint64
	life    []lifetime
}

// countCell counts the devices ds[sel] in interval i of the period.
func countCell(ds reports, sel []int32, i int, seen *distinct) cellCounts {
	var c cellCounts
	seen.gen++
	for _, k := range sel {
		l := ds.life[k]
		idx := seen.of[k] // -1: a home without a citizen: a device, not a citizen
		if l.installedAt(i) {
			c.installed++
			seen.mark(0, idx, &c.citizens)
		}
		if ds.masks[k]&(1<<i) != 0 {
			c.active++
			seen.mark(1, idx, &c.citizensActive)
		}
		if int(l.added) == i {
			c.added++
			seen.mark(2, idx, &c.citizensNew)
		}
		if int(l.removed) == i {
			c.removed++
			seen.mark(3, idx, &c.citizensRemoved)
			if l.churn {
				c.churn++
				seen.mark(4, idx, &c.citizensChurn)
			}
		}
	}
	return c
}

// withTrackers makes the active counts the GPS trackers the platform recorded, when more
// than the registry's active devices show (one tracker, one citizen).
func (c *cellCounts) withTrackers(n int) {
	if n > c.citizensActive {
		c.addActive(extra{citizens: n - c.citizensActive, devices: max(c.active, n) - c.active})
	}
}

// extra is active citizens and devices the registry's facts do not show (GPS trackers).
type extra struct{ citizens, devices int }

// addActive adds e's devices and citizens (trackers: each a citizen of its own).
func (c *cellCounts) addActive(e extra) {
	c.active += e.devices
	c.citizensActive += e.citizens
}

// release writes the counts as q releases them: each shown only if the citizens behind it
// are not 1-4, and then rounded when protected. It reports whether any was suppressed.
func (c cellCounts) release(q Query, citizens, citizensActive, installed, active, added, removed, churn **int) (suppressed bool) {
	put := func(dst **int, n, behind int) {
		if q.Suppress && anySmall(behind) {
			suppressed = true
			return
		}
		*dst = ptr(q.released(n))
	}
	put(citizens, c.citizens, c.citizens)
	put(installed, c.installed, c.citizens)
	put(citizensActive, c.citizensActive, c.citizensActive)
	put(active, c.active, c.citizensActive)
	put(added, c.added, c.citizensNew)
	put(removed, c.removed, c.citizensRemoved)
	put(churn, c.churn, c.citizensChurn)
	return suppressed
}
