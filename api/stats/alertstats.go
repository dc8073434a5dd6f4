package stats

import (
	"context"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// TypeCount is one alarm type's figures in an interval.
type TypeCount struct {
	Alarms          int     `json:"alarms"`
	PerCitizenMonth float64 `json:"per_citizen_month"`
}

// AlertRow is one municipality × interval of alert statistics. Figures are nil when
// suppressed, or (shares, times) when there is nothing to compute them from.
type AlertRow struct {
	Municipality          vagt.MunicipalityCode        `json:"municipality,omitempty"` // 0 in a total
	MunicipalityName      string                       `json:"municipality_name,omitempty"`
	Start                 time.Time                    `json:"interval_start"`
	End                   time.Time                    `json:"interval_end"`
	Citizens              *int                         `json:"citizens"`
	Alarms                *int                         `json:"alarms"`
	AlarmsPerCitizenMonth *float64                     `json:"alarms_per_citizen_month"`
	ByType                map[vagt.AlarmType]TypeCount `json:"by_type,omitempty"`
	AckedWithin60s        *float64                     `json:"acked_within_60s_share"`
	AckedWithin180s       *float64                     `json:"acked_within_180s_share"`
	AckP50                *float64                     `json:"ack_p50_s"`
	AckP90                *float64                     `json:"ack_p90_s"`
	ResolveP50            *float64                     `json:"resolve_p50_s"`
	ResolveP90            *float64                     `json:"resolve_p90_s"`
	Resolved              *int                         `json:"resolved"`
	FalseAlarmShare       *float64                     `json:"false_alarm_share"`
	WithoutVisitShare     *float64                     `json:"without_visit_share"`
	Escalations           *int                         `json:"escalations"`
	EscalatedAlerts       *int                         `json:"escalated_alerts"`
	Suppressed            bool                         `json:"suppressed"`
	// Arrival (response.go): of the critical and high alarms that needed a visit, the share
	// where staff arrived within 30 minutes, and the median time to arrival; Response splits
	// the response by district and priority.
	ArrivedWithin30m *float64      `json:"arrived_within_30m_share"`
	ArrivalP50       *float64      `json:"arrival_p50_s"`
	Response         []ResponseRow `json:"response,omitempty"`
}

// AlertStats is the answer of GET /stats/alerts.
type AlertStats struct {
	Period          Period     `json:"period"`
	SuppressedBelow int        `json:"suppressed_below,omitempty"`
	Disclosure      Disclosure `json:"disclosure"`
	Rows            []AlertRow `json:"rows"`
	// Totals over every municipality asked, per interval and over the whole period, each
	// computed from the pooled exact alerts and protected as a cell of its own (totals.go).
	Totals []AlertTotal `json:"totals"`
}

// AlertTotal is the alert statistics of every municipality of the answer together, in an
// interval or (WholePeriod) over the period: citizens counted at its end, alarms per
// citizen and month over its months.
type AlertTotal struct {
	AlertRow
	Municipalities int  `json:"municipalities"`
	WholePeriod    bool `json:"whole_period"`
	SuppressedRows int  `json:"suppressed_rows"`
}

// withoutVisit are the outcomes that say nobody went to the home.
var withoutVisit = map[alerts.Outcome]bool{alerts.OutcomeFalseAlarm: true, alerts.OutcomeTechnicalFault: true, alerts.OutcomeOther: true}

// isWithoutVisit is withoutVisit[o] without hashing a string per alert.
func isWithoutVisit(o alerts.Outcome) bool {
	switch o {
	case alerts.OutcomeFalseAlarm, alerts.OutcomeTechnicalFault, alerts.OutcomeOther:
		return true
	}
	return false
}

// Alerts computes alert statistics per municipality × interval.
func (s *Service) Alerts(ctx context.Context, q Query) (AlertStats, error) {
	return s.alerts(ctx, q, true)
}

// alerts computes them, the rows' response by district only when districts is set (the
// comparison does not show it).
func (s *Service) alerts(ctx context.Context, q Query, districts bool) (AlertStats, error) {
	p := q.Period
	res := AlertStats{Period: p, Disclosure: q.disclosure(), Rows: []AlertRow{}}
	if q.Suppress {
		res.SuppressedBelow = SuppressBelow
	}
	facts, err := alertRecords(ctx, s.Store, q.storeMuns(), p.From, p.To)
	if err != nil {
		return res, err
	}
	devices, err := s.Store.DeviceFacts(ctx, q.storeMuns(), p.To)
	if err != nil {
		return res, err
	}
	buckets := p.Buckets()
	muns := newMunIndex(q.Municipalities)
	// The alerts by interval × municipality, once (grouping.go): a row reads its cell, an
	// interval's total the interval's cells (contiguous), the whole period all of them.
	// Alerts of a municipality not asked, or outside the period, are in none.
	starts, ends := make([]int64, len(buckets)), make([]int64, len(buckets))
	for i, b := range buckets {
		starts[i], ends[i] = b.Start.UnixNano(), b.End.UnixNano()
	}
	al := groupAlerts(facts, len(buckets)*muns.n, func(k int) int {
		f := &facts.Records[k]
		j := muns.of(f.Municipality)
		if j < 0 {
			return -1
		}
		i, _ := slices.BinarySearch(ends, f.RaisedAt+1) // the first interval ending after it
		if i == len(buckets) || f.RaisedAt < starts[i] {
			return -1
		}
		return i*muns.n + j
	})
	devs := groupBy(len(devices), muns.n, func(k int) int { return muns.of(devices[k].Municipality) })
	names := municipalityInfo()
	seen := newDistinct(devices, nil)
	life := lifetimes(devices, buckets, p.To) // settled is not asked
	techs := newTechSet(q.Technologies)
	// The scratch holds at most the whole period's alerts (the last total): sized once.
	scratch := alertScratch{ack: make([]float64, 0, len(al.recs)), resolve: make([]float64, 0, len(al.recs)), arrivals: make([]float64, 0, len(al.recs))}
	cal := newCalendar(p.Interval)
	for _, m := range q.Municipalities {
		j := muns.of(m)
		mine := devs.cell(j)
		var byDist []districtDevices
		if districts {
			byDist = byDistrict(devices, mine)
		}
		for i, b := range buckets {
			row := AlertRow{Municipality: m, MunicipalityName: names[m].Name, Start: b.Start, End: b.End}
			citz := watched(devices, life, mine, techs, i, seen)
			if q.Suppress && anySmall(citz) {
				row.Suppressed = true
				res.Rows = append(res.Rows, row)
				continue
			}
			cell := al.cell(i*muns.n + j)
			fillAlertRow(&row, q, cell, citz, cal.monthsOf(b), &scratch)
			if districts {
				row.Response = responseRows(q, facts, cell, devices, life, byDist, techs, i, seen)
			}
			res.Rows = append(res.Rows, row)
		}
	}
	// Totals: the same computation over the pooled facts of every municipality asked.
	// The store answered for q's municipalities (all of them: every municipality it holds);
	// the cells hold only those asked.
	pooled := devs.span(0, muns.n)
	whole := Bucket{p.From, p.To}
	months := 0.0
	for _, b := range buckets {
		months += cal.monthsOf(b)
	}
	for i, b := range append(buckets, whole) {
		t := AlertTotal{AlertRow: AlertRow{Start: b.Start, End: b.End}, Municipalities: len(q.Municipalities), WholePeriod: i == len(buckets)}
		if t.WholePeriod && len(buckets) == 1 {
			// A period of one interval (the comparison's) is that interval: the same alerts,
			// citizens, months and rows, so the same figures; the row's figures are not
			// changed after, so it shares them, but not its map.
			t.AlertRow, t.SuppressedRows = res.Totals[0].AlertRow, res.Totals[0].SuppressedRows
			t.ByType = maps.Clone(t.ByType)
			res.Totals = append(res.Totals, t)
			continue
		}
		citz := watched(devices, life, pooled, techs, min(i, len(buckets)-1), seen) // the whole period ends with the last interval
		pool, m := al.span(0, len(buckets)*muns.n), months
		if !t.WholePeriod {
			pool, m = al.span(i*muns.n, (i+1)*muns.n), cal.monthsOf(b)
		}
		for _, r := range res.Rows {
			if r.Suppressed && (t.WholePeriod || r.Start.Equal(b.Start)) {
				t.SuppressedRows++
			}
		}
		if q.Suppress && anySmall(citz) {
			t.Suppressed = true
		} else {
			fillAlertRow(&t.AlertRow, q, pool, citz, m, &scratch)
		}
		res.Totals = append(res.Totals, t)
	}
	return res, nil
}

// watched counts the citizens with a device (devices[sel]) of one of techs installed at
// the end of interval i.
func watched(devices []DeviceFact, life []lifetime, sel []int32, techs *techSet, i int, seen *distinct) int {
	seen.gen++
	n := 0
	for _, k := range sel {
		if techs[devices[k].Technology] && life[k].installedAt(i) {
			if idx := seen.of[k]; idx >= 0 && seen.marks[0][idx] != seen.gen {
				seen.marks[0][idx] = seen.gen
				n++
			}
		}
	}
	return n
}

// alertScratch is the buffers one request reuses for the times it takes percentiles of.
type alertScratch struct{ ack, resolve, arrivals []float64 }

// fillAlertRow computes a row's figures from the alerts recs, all raised in its interval:
// counts as q releases them (rounded when protected), rates and shares from the released
// counts, and the arrival of its critical and high alarms (response.go).
func fillAlertRow(row *AlertRow, q Query, recs []alertRec, citizens int, months float64, scratch *alertScratch) {
	var (
		n, resolved, falseAlarm, noVisit, escalations, escalated, within60, within180, urgentN int
	)
	ack, resolve := scratch.ack[:0], scratch.resolve[:0]
	arrival := response{arrivals: scratch.arrivals[:0]}
	var types [math.MaxUint8 + 1]int
	for k := range recs {
		f := &recs[k]
		n++
		types[f.typ]++
		escalations += f.escalations
		if f.escalations > 0 {
			escalated++
		}
		if f.has(recResolved) {
			resolved++
			if f.has(recFalseAlarm) {
				falseAlarm++
			}
			if f.has(recWithoutVisit) {
				noVisit++
			}
		}
		if urgent(f.prio) {
			arrival.add(f)
		}
		if f.prio == vagt.PriorityTechnical {
			continue
		}
		urgentN++
		if f.has(recAcked) {
			d := f.ack
			ack = append(ack, d.Seconds())
			if d <= 60*time.Second {
				within60++
			}
			if d <= 180*time.Second {
				within180++
			}
		}
		if f.has(recResolved) {
			resolve = append(resolve, f.resolve.Seconds())
		}
	}
	scratch.ack, scratch.resolve, scratch.arrivals = ack, resolve, arrival.arrivals
	byType := map[vagt.AlarmType]TypeCount{}
	for t, c := range types {
		if c > 0 {
			byType[vagt.AlarmType(t)] = TypeCount{Alarms: c}
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
	row.AckedWithin60s, row.AckedWithin180s = q.share(within60, urgentN), q.share(within180, urgentN)
	// A time is given when the count it is taken from is released as more than 0: a time
	// beside "0 alarms" would say there was one.
	if rel(len(ack)) > 0 {
		row.AckP50, row.AckP90 = nearestRank(ack, 50), nearestRank(ack, 90)
	}
	if rel(len(resolve)) > 0 {
		row.ResolveP50, row.ResolveP90 = nearestRank(resolve, 50), nearestRank(resolve, 90)
	}
	row.FalseAlarmShare, row.WithoutVisitShare = q.share(falseAlarm, resolved), q.share(noVisit, resolved)
	row.ArrivedWithin30m, row.ArrivalP50 = arrival.arrival(q)
}

// percentile is the nearest-rank percentile (the smallest value with at least p% of the
// values at or below it); nil for no values.
func percentile(vs []float64, p float64) *float64 {
	if len(vs) == 0 {
		return nil
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return ptr(round(s[max(i, 0)], 3))
}
