package stats

import (
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
)

// The response to critical and high alarms: acknowledged within 60 s and 180 s, arrived in
// the home within ArrivalPromise (the municipalities' promise of help within 30 minutes),
// the median time to arrival; per municipality (AlertRow) and per district × priority
// (ResponseRow). docs/statistics.md, "Response and arrival".

// ArrivalPromise is the time within which help should be in the home.
const ArrivalPromise = 30 * time.Minute

// ResponseRow is one district × priority of a municipality's AlertRow. Figures are nil
// when suppressed or when there is nothing to compute them from.
type ResponseRow struct {
	District        int64         `json:"district"` // 0: alarms of gateways not in the registry
	DistrictName    string        `json:"district_name"`
	Priority        vagt.Priority `json:"priority"`
	Citizens        *int          `json:"citizens"` // watched in the district (any priority)
	Alarms          *int          `json:"alarms"`
	AckedWithin60s  *float64      `json:"acked_within_60s_share"`
	AckedWithin180s *float64      `json:"acked_within_180s_share"`
	// NeedingVisit: the alarms whose arrival counts (NeedsVisit).
	NeedingVisit     *int     `json:"needing_visit"`
	ArrivedWithin30m *float64 `json:"arrived_within_30m_share"`
	ArrivalP50       *float64 `json:"arrival_p50_s"`
	Suppressed       bool     `json:"suppressed"`
}

// NeedsVisit reports whether f's arrival counts: every alarm except one resolved with an
// outcome that says nobody went (false alarm, technical fault, other) and no arrival
// recorded. An alarm still open, or resolved as visited without "arrived" being said, counts
// as not arrived in time: the figure is of what staff recorded, and errs on the side of
// showing help late rather than on time.
func NeedsVisit(f AlertFact) bool {
	return f.ArrivedAt != nil || f.ResolvedAt == nil || !isWithoutVisit(f.Outcome)
}

// response is the figures of a set of critical and high alarms.
type response struct {
	alarms, within60, within180, needVisit, arrived30 int
	arrivals                                          []float64
}

func (r *response) add(f *alertRec) {
	r.alarms++
	if f.has(recAcked) {
		if f.ack <= 60*time.Second {
			r.within60++
		}
		if f.ack <= 180*time.Second {
			r.within180++
		}
	}
	if !f.needsVisit() {
		return
	}
	r.needVisit++
	if f.has(recArrived) {
		r.arrivals = append(r.arrivals, f.arrival.Seconds())
		if f.arrival <= ArrivalPromise {
			r.arrived30++
		}
	}
}

// arrival returns the share arrived within the promise and the median time to arrival, as
// q releases them (shares from released counts; a time only beside a count released as
// more than 0). It reorders r.arrivals.
func (r *response) arrival(q Query) (share, p50 *float64) {
	share = q.share(r.arrived30, r.needVisit)
	if q.released(len(r.arrivals)) > 0 {
		p50 = nearestRank(r.arrivals, 50)
	}
	return share, p50
}

func urgent(p vagt.Priority) bool { return p == vagt.PriorityCritical || p == vagt.PriorityHigh }

// inBucket reports whether f was raised in b.
func inBucket(f AlertFact, b Bucket) bool {
	return !f.RaisedAt.Before(b.Start) && f.RaisedAt.Before(b.End)
}

// districtDevices are a municipality's devices of one district, in the store's order.
type districtDevices struct {
	district int64
	devices  []int32
}

// byDistrict splits a municipality's devices (devices[sel]) by district, once per request.
func byDistrict(devices []DeviceFact, sel []int32) []districtDevices {
	var out []districtDevices
	at := map[int64]int{}
	for _, k := range sel {
		d := devices[k].District
		i, ok := at[d]
		if !ok {
			i = len(out)
			at[d] = i
			out = append(out, districtDevices{district: d})
		}
		out[i].devices = append(out[i].devices, k)
	}
	return out
}

// responseRows splits a municipality's critical and high alarms of interval i (recs) by
// district and priority: a row for every district with citizens watched or alarms, for
// each of the two priorities. A district row is suppressed as a municipality row is: 1-4
// citizens watched (for the protected view).
func responseRows(q Query, facts AlertRecords, recs []alertRec, devices []DeviceFact, life []lifetime, districts []districtDevices, techs *techSet, i int, seen *distinct) []ResponseRow {
	type key struct {
		district int64
		prio     vagt.Priority
	}
	names := map[int64]string{}
	citizens := map[int64]int{} // watched in the district; present: a district with a row
	for _, dd := range districts {
		seen.gen++
		n, any := 0, false
		for _, k := range dd.devices {
			d := &devices[k]
			if !techs[d.Technology] || !life[k].installedAt(i) {
				continue
			}
			names[dd.district], any = d.DistrictName, true
			if idx := seen.of[k]; idx >= 0 && seen.marks[0][idx] != seen.gen {
				seen.marks[0][idx] = seen.gen
				n++
			}
		}
		if any {
			citizens[dd.district] = n
		}
	}
	byKey := map[key]*response{}
	lastAlert := map[int64]int32{} // a district's name is its last alert's (store order)
	for k := range recs {
		f := &recs[k]
		if !urgent(f.prio) {
			continue
		}
		lastAlert[f.district] = f.fact
		ky := key{f.district, f.prio}
		if byKey[ky] == nil {
			byKey[ky] = &response{}
		}
		byKey[ky].add(f)
		if _, ok := citizens[f.district]; !ok {
			citizens[f.district] = 0
		}
	}
	for d, k := range lastAlert {
		names[d] = facts.Strings[facts.Records[k].DistrictName]
	}
	districtIDs := make([]int64, 0, len(citizens))
	for d := range citizens {
		districtIDs = append(districtIDs, d)
	}
	slices.Sort(districtIDs)
	var out []ResponseRow
	for _, d := range districtIDs {
		for _, prio := range []vagt.Priority{vagt.PriorityCritical, vagt.PriorityHigh} {
			row := ResponseRow{District: d, DistrictName: names[d], Priority: prio}
			n := citizens[d]
			if q.Suppress && anySmall(n) {
				row.Suppressed = true
				out = append(out, row)
				continue
			}
			r := byKey[key{d, prio}]
			if r == nil {
				r = &response{}
			}
			row.Citizens, row.Alarms, row.NeedingVisit = ptr(q.released(n)), ptr(q.released(r.alarms)), ptr(q.released(r.needVisit))
			row.AckedWithin60s, row.AckedWithin180s = q.share(r.within60, r.alarms), q.share(r.within180, r.alarms)
			row.ArrivedWithin30m, row.ArrivalP50 = r.arrival(q)
			out = append(out, row)
		}
	}
	return out
}
