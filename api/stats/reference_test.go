package stats

// The straightforward computation of adoption and alert statistics, as it was before the
// fast path (issue 18 item 5): every cell copies its facts, counts distinct citizens in
// maps and sorts for percentiles. It is kept here, frozen, only as the oracle of
// TestFastPathMatchesReference; do not optimise it.

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

func (s *Service) refAdoption(ctx context.Context, q Query) (Adoption, error) {
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
	active, err := s.activity(ctx, q)
	if err != nil {
		return res, err
	}
	byCell := map[cell]refReports{}
	for _, d := range devices {
		var mask uint64
		for i := range active {
			if active[i][d.Device] {
				mask |= 1 << i
			}
		}
		k := cell{d.Municipality, d.Technology}
		byCell[k] = byCell[k].with(d, mask)
	}
	registered := map[vagt.MunicipalityCode]set{}
	register := func(m vagt.MunicipalityCode, id int64) {
		if registered[m] == nil {
			registered[m] = set{}
		}
		registered[m].add(id)
	}
	for _, c := range citizens {
		register(c.Municipality, c.ID)
	}
	for _, d := range devices {
		register(d.Municipality, d.Citizen)
	}
	buckets := p.Buckets()
	trackers, err := s.trackerActivity(ctx, q, buckets)
	if err != nil {
		return res, err
	}
	names := municipalityInfo()
	trackerExtra := make([]extra, len(buckets)) // GPS trackers beyond the registry's active devices, per interval
	seen := refNewDistinct(devices)
	var rowCounts []cellCounts // beside res.Rows
	for _, m := range q.Municipalities {
		info := names[m]
		for _, tech := range q.Technologies {
			ds := byCell[cell{m, tech}]
			for i, b := range buckets {
				row := AdoptionRow{Municipality: m, MunicipalityName: info.Name, Region: info.Region, Technology: tech, Start: b.Start, End: b.End}
				c := refCountCell(ds, i, b, seen)
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
			res.Funnel = append(res.Funnel, refFunnel(q, m, tech, ds, registered[m], buckets))
		}
	}
	res.Totals, res.FunnelTotals = refAdoptionTotals(q, pop, res.Rows, rowCounts, res.Funnel, byCell, registered, trackerExtra, seen)
	return res, nil
}

type refDistinct struct {
	index map[int64]int32
	marks [5][]uint32
	gen   uint32
}

func refNewDistinct(ds []DeviceFact) *refDistinct {
	d := &refDistinct{index: map[int64]int32{}}
	for _, f := range ds {
		if _, ok := d.index[f.Citizen]; !ok && f.Citizen != 0 {
			d.index[f.Citizen] = int32(len(d.index))
		}
	}
	for i := range d.marks {
		d.marks[i] = make([]uint32, len(d.index))
	}
	return d
}

type refReports struct {
	facts []DeviceFact
	masks []uint64
}

func (r refReports) with(d DeviceFact, mask uint64) refReports {
	return refReports{append(r.facts, d), append(r.masks, mask)}
}

func (r refReports) plus(o refReports) refReports {
	return refReports{append(r.facts, o.facts...), append(r.masks, o.masks...)}
}

func refCountCell(ds refReports, i int, b Bucket, seen *refDistinct) cellCounts {
	var c cellCounts
	seen.gen++
	g := seen.gen
	mark := func(k int, idx int32, n *int) {
		if idx >= 0 && seen.marks[k][idx] != g {
			seen.marks[k][idx] = g
			*n++
		}
	}
	for k, d := range ds.facts {
		idx, ok := seen.index[d.Citizen]
		if !ok {
			idx = -1 // a home without a citizen: a device, not a citizen
		}
		if d.InstalledAt.Before(b.End) && (d.RemovedAt == nil || !d.RemovedAt.Before(b.End)) {
			c.installed++
			mark(0, idx, &c.citizens)
		}
		if ds.masks[k]&(1<<i) != 0 {
			c.active++
			mark(1, idx, &c.citizensActive)
		}
		if !d.InstalledAt.Before(b.Start) && d.InstalledAt.Before(b.End) {
			c.added++
			mark(2, idx, &c.citizensNew)
		}
		if d.RemovedAt != nil && !d.RemovedAt.Before(b.Start) && d.RemovedAt.Before(b.End) {
			c.removed++
			mark(3, idx, &c.citizensRemoved)
			if d.RemovedAt.Sub(d.InstalledAt) < ChurnWindow {
				c.churn++
				mark(4, idx, &c.citizensChurn)
			}
		}
	}
	return c
}

func refFunnel(q Query, m vagt.MunicipalityCode, tech vagt.Technology, ds refReports, registered set, buckets []Bucket) FunnelRow {
	f := FunnelRow{Municipality: m, Technology: tech}
	f.Suppressed = refFunnelStages(q, ds, registered, buckets).release(q, &f.Registered, &f.Installed, &f.Active, &f.StillActive90d)
	return f
}

func refFunnelStages(q Query, ds refReports, registered set, buckets []Bucket) stages {
	to := q.Period.To
	st := stages{registered: registered, installed: set{}, active: set{}, still: set{}}
	last := len(buckets) - 1
	for k, d := range ds.facts {
		st.installed.add(d.Citizen)
		if ds.masks[k] != 0 {
			st.active.add(d.Citizen)
		}
		if !d.InstalledAt.After(to.Add(-ChurnWindow)) && (d.RemovedAt == nil || !d.RemovedAt.Before(to)) && last >= 0 && ds.masks[k]&(1<<last) != 0 {
			st.still.add(d.Citizen)
		}
	}
	return st
}

func refAdoptionTotals(q Query, pop *Population, rows []AdoptionRow, rowCounts []cellCounts, funnelRows []FunnelRow, byCell map[cell]refReports,
	registered map[vagt.MunicipalityCode]set, trackers []extra, seen *refDistinct) ([]AdoptionTotal, []FunnelTotal) {
	buckets := q.Period.Buckets()
	people := 0 // citizens aged 65+ of the municipalities with a known figure
	for _, m := range q.Municipalities {
		people += pop.Of(m)
	}
	var totals []AdoptionTotal
	techs := append(slices.Clone(q.Technologies), 0) // 0: all of them
	var all refReports
	for _, m := range q.Municipalities {
		for _, t := range q.Technologies {
			all = all.plus(byCell[cell{m, t}])
		}
	}
	for _, tech := range techs {
		for i, b := range buckets {
			var c cellCounts
			if tech == 0 {
				c = refCountCell(all, i, b, seen)
				c.addActive(trackers[i])
			} else {
				for j, row := range rows {
					if row.Technology == tech && row.Start.Equal(b.Start) {
						c = c.plus(rowCounts[j])
					}
				}
			}
			t := AdoptionTotal{AdoptionRow: AdoptionRow{Start: b.Start, End: b.End}, Municipalities: len(q.Municipalities)}
			if tech != 0 {
				t.Technology, t.AdoptionRow.Technology = ptr(tech), tech
			}
			r := &t.AdoptionRow
			r.Suppressed = c.release(q, &r.Citizens, &r.CitizensActive, &r.DevicesInstalled, &r.DevicesActive, &r.NewInstallations, &r.Removals, &r.Churn)
			var parts []AdoptionRow
			for _, row := range rows {
				if row.Start.Equal(b.Start) && (tech == 0 || row.Technology == tech) {
					parts = append(parts, row)
					if row.Suppressed {
						t.SuppressedRows++
					}
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
	reg := set{}
	for _, m := range q.Municipalities {
		for id := range registered[m] {
			reg.add(id)
		}
	}
	var funnels []FunnelTotal
	for _, tech := range q.Technologies {
		var ds refReports
		for _, m := range q.Municipalities {
			ds = ds.plus(byCell[cell{m, tech}])
		}
		f := FunnelTotal{FunnelRow: FunnelRow{Technology: tech}, Municipalities: len(q.Municipalities)}
		f.Suppressed = refFunnelStages(q, ds, reg, buckets).release(q, &f.Registered, &f.Installed, &f.Active, &f.StillActive90d)
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

func (s *Service) refAlerts(ctx context.Context, q Query) (AlertStats, error) {
	p := q.Period
	res := AlertStats{Period: p, Disclosure: q.disclosure(), Rows: []AlertRow{}}
	if q.Suppress {
		res.SuppressedBelow = SuppressBelow
	}
	facts, err := s.Store.AlertFacts(ctx, q.storeMuns(), p.From, p.To)
	if err != nil {
		return res, err
	}
	devices, err := s.Store.DeviceFacts(ctx, q.storeMuns(), p.To)
	if err != nil {
		return res, err
	}
	byMun := map[vagt.MunicipalityCode][]AlertFact{}
	for _, f := range facts {
		byMun[f.Municipality] = append(byMun[f.Municipality], f)
	}
	devByMun := map[vagt.MunicipalityCode][]DeviceFact{}
	for _, d := range devices {
		devByMun[d.Municipality] = append(devByMun[d.Municipality], d)
	}
	names := municipalityInfo()
	seen := refNewDistinct(devices)
	buckets := p.Buckets()
	for _, m := range q.Municipalities {
		mine := refByInterval(byMun[m], buckets)
		for i, b := range buckets {
			row := AlertRow{Municipality: m, MunicipalityName: names[m].Name, Start: b.Start, End: b.End}
			citz := refWatched(devByMun[m], q.Technologies, b, seen)
			if q.Suppress && anySmall(citz) {
				row.Suppressed = true
				res.Rows = append(res.Rows, row)
				continue
			}
			refFillAlertRow(&row, q, mine[i], b, citz, p.Interval.Months(b))
			refFillArrival(&row, q, mine[i], b)
			row.Response = refResponseRows(q, mine[i], devByMun[m], b)
			res.Rows = append(res.Rows, row)
		}
	}
	all, devs := refOnlyMuns(facts, q.Municipalities, func(f AlertFact) vagt.MunicipalityCode { return f.Municipality }),
		refOnlyMuns(devices, q.Municipalities, func(d DeviceFact) vagt.MunicipalityCode { return d.Municipality })
	whole := Bucket{p.From, p.To}
	months := 0.0
	for _, b := range buckets {
		months += p.Interval.Months(b)
	}
	inIv := refByInterval(all, buckets)
	for i, b := range append(buckets, whole) {
		t := AlertTotal{AlertRow: AlertRow{Start: b.Start, End: b.End}, Municipalities: len(q.Municipalities), WholePeriod: i == len(buckets)}
		citz := refWatched(devs, q.Technologies, b, seen)
		pool := all
		if !t.WholePeriod {
			pool = inIv[i]
		}
		for _, r := range res.Rows {
			if r.Suppressed && (t.WholePeriod || r.Start.Equal(b.Start)) {
				t.SuppressedRows++
			}
		}
		if q.Suppress && anySmall(citz) {
			t.Suppressed = true
		} else if t.WholePeriod {
			refFillAlertRow(&t.AlertRow, q, pool, b, citz, months)
			refFillArrival(&t.AlertRow, q, pool, b)
		} else {
			refFillAlertRow(&t.AlertRow, q, pool, b, citz, p.Interval.Months(b))
			refFillArrival(&t.AlertRow, q, pool, b)
		}
		res.Totals = append(res.Totals, t)
	}
	return res, nil
}

func refTechIn(t vagt.Technology, ts []vagt.Technology) bool { return slices.Contains(ts, t) }

func refWatched(ds []DeviceFact, techs []vagt.Technology, b Bucket, seen *refDistinct) int {
	seen.gen++
	n := 0
	for _, d := range ds {
		if d.InstalledAt.Before(b.End) && (d.RemovedAt == nil || !d.RemovedAt.Before(b.End)) && refTechIn(d.Technology, techs) {
			if idx, ok := seen.index[d.Citizen]; ok && seen.marks[0][idx] != seen.gen {
				seen.marks[0][idx] = seen.gen
				n++
			}
		}
	}
	return n
}

func refFillAlertRow(row *AlertRow, q Query, facts []AlertFact, b Bucket, citizens int, months float64) {
	var (
		n, resolved, falseAlarm, noVisit, escalations, escalated, within60, within180, urgent int
		ack, resolve                                                                          []float64
	)
	byType := map[vagt.AlarmType]TypeCount{}
	for _, f := range facts {
		if f.RaisedAt.Before(b.Start) || !f.RaisedAt.Before(b.End) {
			continue
		}
		n++
		tc := byType[f.Type]
		tc.Alarms++
		byType[f.Type] = tc
		escalations += f.Escalations
		if f.Escalations > 0 {
			escalated++
		}
		if f.ResolvedAt != nil {
			resolved++
			if f.Outcome == alerts.OutcomeFalseAlarm {
				falseAlarm++
			}
			if withoutVisit[f.Outcome] {
				noVisit++
			}
		}
		if f.Priority == vagt.PriorityTechnical {
			continue
		}
		urgent++
		if f.AckedAt != nil {
			d := f.AckedAt.Sub(f.RaisedAt)
			ack = append(ack, d.Seconds())
			if d <= 60*time.Second {
				within60++
			}
			if d <= 180*time.Second {
				within180++
			}
		}
		if f.ResolvedAt != nil {
			resolve = append(resolve, f.ResolvedAt.Sub(f.RaisedAt).Seconds())
		}
	}
	rel := q.released
	row.Citizens, row.Alarms, row.Resolved, row.Escalations, row.EscalatedAlerts = ptr(rel(citizens)), ptr(rel(n)), ptr(rel(resolved)), ptr(rel(escalations)), ptr(rel(escalated))
	for t, tc := range byType {
		tc.Alarms = rel(tc.Alarms)
		byType[t] = tc
	}
	if c := rel(citizens); c > 0 && months > 0 {
		row.AlarmsPerCitizenMonth = ptr(round(float64(rel(n))/float64(c)/months, 4))
		for t, tc := range byType {
			tc.PerCitizenMonth = round(float64(tc.Alarms)/float64(c)/months, 4)
			byType[t] = tc
		}
	}
	row.ByType = byType
	row.AckedWithin60s, row.AckedWithin180s = q.share(within60, urgent), q.share(within180, urgent)
	if rel(len(ack)) > 0 {
		row.AckP50, row.AckP90 = refPercentile(ack, 50), refPercentile(ack, 90)
	}
	if rel(len(resolve)) > 0 {
		row.ResolveP50, row.ResolveP90 = refPercentile(resolve, 50), refPercentile(resolve, 90)
	}
	row.FalseAlarmShare, row.WithoutVisitShare = q.share(falseAlarm, resolved), q.share(noVisit, resolved)
}

func refPercentile(vs []float64, p float64) *float64 {
	if len(vs) == 0 {
		return nil
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return ptr(round(s[max(i, 0)], 3))
}

func refOnlyMuns[T any](xs []T, muns []vagt.MunicipalityCode, of func(T) vagt.MunicipalityCode) []T {
	in := map[vagt.MunicipalityCode]bool{}
	for _, m := range muns {
		in[m] = true
	}
	for i, x := range xs {
		if !in[of(x)] {
			out := slices.Clone(xs[:i])
			for _, y := range xs[i:] {
				if in[of(y)] {
					out = append(out, y)
				}
			}
			return out
		}
	}
	return xs
}

func refByInterval(facts []AlertFact, buckets []Bucket) [][]AlertFact {
	out := make([][]AlertFact, len(buckets))
	for _, f := range facts {
		i := sort.Search(len(buckets), func(i int) bool { return f.RaisedAt.Before(buckets[i].End) })
		if i < len(buckets) && inBucket(f, buckets[i]) {
			out[i] = append(out[i], f)
		}
	}
	return out
}

type refResponse struct {
	alarms, within60, within180, needVisit, arrived30 int
	arrivals                                          []float64
}

func (r *refResponse) add(f AlertFact) {
	r.alarms++
	if f.AckedAt != nil {
		d := f.AckedAt.Sub(f.RaisedAt)
		if d <= 60*time.Second {
			r.within60++
		}
		if d <= 180*time.Second {
			r.within180++
		}
	}
	if !NeedsVisit(f) {
		return
	}
	r.needVisit++
	if f.ArrivedAt != nil {
		d := f.ArrivedAt.Sub(f.RaisedAt)
		r.arrivals = append(r.arrivals, d.Seconds())
		if d <= ArrivalPromise {
			r.arrived30++
		}
	}
}

func (r *refResponse) arrival(q Query) (share, p50 *float64) {
	share = q.share(r.arrived30, r.needVisit)
	if q.released(len(r.arrivals)) > 0 {
		p50 = refPercentile(r.arrivals, 50)
	}
	return share, p50
}

func refFillArrival(row *AlertRow, q Query, facts []AlertFact, b Bucket) {
	var r refResponse
	for _, f := range facts {
		if inBucket(f, b) && urgent(f.Priority) {
			r.add(f)
		}
	}
	row.ArrivedWithin30m, row.ArrivalP50 = r.arrival(q)
}

func refResponseRows(q Query, facts []AlertFact, devices []DeviceFact, b Bucket) []ResponseRow {
	type key struct {
		district int64
		prio     vagt.Priority
	}
	names := map[int64]string{}
	citizens := map[int64]set{}
	for _, d := range devices {
		if d.InstalledAt.Before(b.End) && (d.RemovedAt == nil || !d.RemovedAt.Before(b.End)) && refTechIn(d.Technology, q.Technologies) {
			names[d.District] = d.DistrictName
			if citizens[d.District] == nil {
				citizens[d.District] = set{}
			}
			citizens[d.District].add(d.Citizen)
		}
	}
	byKey := map[key]*refResponse{}
	for _, f := range facts {
		if !inBucket(f, b) || !urgent(f.Priority) {
			continue
		}
		names[f.District] = f.DistrictName
		k := key{f.District, f.Priority}
		if byKey[k] == nil {
			byKey[k] = &refResponse{}
		}
		byKey[k].add(f)
		if citizens[f.District] == nil {
			citizens[f.District] = set{}
		}
	}
	districts := make([]int64, 0, len(citizens))
	for d := range citizens {
		districts = append(districts, d)
	}
	slices.Sort(districts)
	var out []ResponseRow
	for _, d := range districts {
		for _, prio := range []vagt.Priority{vagt.PriorityCritical, vagt.PriorityHigh} {
			row := ResponseRow{District: d, DistrictName: names[d], Priority: prio}
			n := len(citizens[d])
			if q.Suppress && anySmall(n) {
				row.Suppressed = true
				out = append(out, row)
				continue
			}
			r := byKey[key{d, prio}]
			if r == nil {
				r = &refResponse{}
			}
			row.Citizens, row.Alarms, row.NeedingVisit = ptr(q.released(n)), ptr(q.released(r.alarms)), ptr(q.released(r.needVisit))
			row.AckedWithin60s, row.AckedWithin180s = q.share(r.within60, r.alarms), q.share(r.within180, r.alarms)
			row.ArrivedWithin30m, row.ArrivalP50 = r.arrival(q)
			out = append(out, row)
		}
	}
	return out
}

type stages struct{ registered, installed, active, still set }

func (st stages) release(q Query, registered, installed, active, still **int) (suppressed bool) {
	put := func(dst **int, n int) {
		if q.Suppress && n > 0 && n < SuppressBelow {
			suppressed = true
			return
		}
		*dst = ptr(q.released(n))
	}
	put(registered, len(st.registered))
	put(installed, len(st.installed))
	put(active, len(st.active))
	put(still, len(st.still))
	return suppressed
}
