package stats

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/registry"
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

// Alerts computes alert statistics per municipality × interval.
func (s *Service) Alerts(ctx context.Context, q Query) (AlertStats, error) {
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
	byMun := map[vagt.MunicipalityCode][]registry.AlertFact{}
	for _, f := range facts {
		byMun[f.Municipality] = append(byMun[f.Municipality], f)
	}
	devByMun := map[vagt.MunicipalityCode][]registry.DeviceFact{}
	for _, d := range devices {
		devByMun[d.Municipality] = append(devByMun[d.Municipality], d)
	}
	names := municipalityInfo()
	seen := newDistinct(devices)
	buckets := p.Buckets()
	for _, m := range q.Municipalities {
		// The municipality's alerts by interval, once: each row then reads its own.
		mine := byInterval(byMun[m], buckets)
		for i, b := range buckets {
			row := AlertRow{Municipality: m, MunicipalityName: names[m].Name, Start: b.Start, End: b.End}
			citz := watched(devByMun[m], q.Technologies, b, seen)
			if q.Suppress && anySmall(citz) {
				row.Suppressed = true
				res.Rows = append(res.Rows, row)
				continue
			}
			fillAlertRow(&row, q, mine[i], b, citz, p.Interval.Months(b))
			fillArrival(&row, q, mine[i], b)
			row.Response = responseRows(q, mine[i], devByMun[m], b)
			res.Rows = append(res.Rows, row)
		}
	}
	// Totals: the same computation over the pooled facts of every municipality asked.
	// The store answered for q's municipalities (all of them: every municipality it holds),
	// so its answers are the pool, once anything outside q is left out.
	all, devs := onlyMuns(facts, q.Municipalities, func(f registry.AlertFact) vagt.MunicipalityCode { return f.Municipality }),
		onlyMuns(devices, q.Municipalities, func(d registry.DeviceFact) vagt.MunicipalityCode { return d.Municipality })
	whole := Bucket{p.From, p.To}
	months := 0.0
	for _, b := range buckets {
		months += p.Interval.Months(b)
	}
	// The pooled alerts by interval: each total reads its own, not every alert again.
	inIv := byInterval(all, buckets)
	for i, b := range append(buckets, whole) {
		t := AlertTotal{AlertRow: AlertRow{Start: b.Start, End: b.End}, Municipalities: len(q.Municipalities), WholePeriod: i == len(buckets)}
		citz := watched(devs, q.Technologies, b, seen)
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
			fillAlertRow(&t.AlertRow, q, pool, b, citz, months)
			fillArrival(&t.AlertRow, q, pool, b)
		} else {
			fillAlertRow(&t.AlertRow, q, pool, b, citz, p.Interval.Months(b))
			fillArrival(&t.AlertRow, q, pool, b)
		}
		res.Totals = append(res.Totals, t)
	}
	return res, nil
}

func techIn(t vagt.Technology, ts []vagt.Technology) bool { return slices.Contains(ts, t) }

// watched counts the citizens with a device of one of techs installed at b's end.
func watched(ds []registry.DeviceFact, techs []vagt.Technology, b Bucket, seen *distinct) int {
	seen.gen++
	n := 0
	for _, d := range ds {
		if d.InstalledAt.Before(b.End) && (d.RemovedAt == nil || !d.RemovedAt.Before(b.End)) && techIn(d.Technology, techs) {
			if idx, ok := seen.index[d.Citizen]; ok && seen.marks[0][idx] != seen.gen {
				seen.marks[0][idx] = seen.gen
				n++
			}
		}
	}
	return n
}

// fillAlertRow computes a row's figures from the alerts raised in b; counts as q releases
// them (rounded when protected), rates and shares from the released counts.
func fillAlertRow(row *AlertRow, q Query, facts []registry.AlertFact, b Bucket, citizens int, months float64) {
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
	// A time is given when the count it is taken from is released as more than 0: a time
	// beside "0 alarms" would say there was one.
	if rel(len(ack)) > 0 {
		row.AckP50, row.AckP90 = percentile(ack, 50), percentile(ack, 90)
	}
	if rel(len(resolve)) > 0 {
		row.ResolveP50, row.ResolveP90 = percentile(resolve, 50), percentile(resolve, 90)
	}
	row.FalseAlarmShare, row.WithoutVisitShare = q.share(falseAlarm, resolved), q.share(noVisit, resolved)
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

// onlyMuns is xs without those of a municipality not in muns; xs itself when none is.
func onlyMuns[T any](xs []T, muns []vagt.MunicipalityCode, of func(T) vagt.MunicipalityCode) []T {
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

// byInterval splits facts by the interval they were raised in (buckets are in order and do
// not overlap).
func byInterval(facts []registry.AlertFact, buckets []Bucket) [][]registry.AlertFact {
	out := make([][]registry.AlertFact, len(buckets))
	for _, f := range facts {
		i := sort.Search(len(buckets), func(i int) bool { return f.RaisedAt.Before(buckets[i].End) })
		if i < len(buckets) && inBucket(f, buckets[i]) {
			out[i] = append(out[i], f)
		}
	}
	return out
}
