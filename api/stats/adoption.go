package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
)

// SuppressBelow is the smallest number of citizens a figure may describe when small counts
// are suppressed (the national role): 1-4 become null.
const SuppressBelow = 5

// ChurnWindow is how soon after installation a removal counts as churn ("given up").
const ChurnWindow = 90 * 24 * time.Hour

// FactStore is what statistics read from the SQL store.
type FactStore interface {
	DeviceFacts(ctx context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]registry.DeviceFact, error)
	CitizenFacts(ctx context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]registry.CitizenFact, error)
	AlertFacts(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) ([]registry.AlertFact, error)
}

// ActivitySource tells which devices reported in a time range (InfluxDB).
type ActivitySource interface {
	ActiveDevices(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.DeviceID]bool, error)
}

// IntervalActivity is an ActivitySource that answers a whole period at once: each device
// that reported in any of the buckets (in order, at most 64), with bit i set when it
// reported in buckets[i] (ActiveDevices of that bucket). The statistics then look each
// device up once instead of once per interval (a national request: 276,000 devices × 8
// quarters); a source builds the answer as it would build its per-interval sets.
// rollup.Activity has it; a source without it is asked interval by interval.
type IntervalActivity interface {
	ActiveInIntervals(ctx context.Context, muns []vagt.MunicipalityCode, buckets []Bucket) (map[vagt.DeviceID]uint64, error)
}

// MaxActivityIntervals is how many buckets one IntervalActivity answer can mark.
const MaxActivityIntervals = 64

// TrackerActivity counts, per municipality, the GPS trackers that sent a position on a
// day in [from, to) (api/sqlstore; positions never reach InfluxDB).
type TrackerActivity interface {
	ActiveTrackers(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.MunicipalityCode]int, error)
}

// Service computes the statistics.
type Service struct {
	Store     FactStore
	Telemetry ActivitySource // nil: statistics that need telemetry answer ErrNoTelemetry
	// Trackers, when set, makes gps_tracker's active counts what the platform recorded
	// (trackers that reported), not only registry devices seen in telemetry.
	Trackers TrackerActivity
	Model    BenefitModel
	// Population gives the citizens aged 65+ per municipality; nil: the shipped,
	// illustrative table (DefaultPopulation).
	Population *Population
	Logger     *slog.Logger
	// Night counts the recorded night checks; nil: the night_supervision benefit row
	// falls back to the model's visits per citizen and week (docs/night-supervision.md).
	Night NightSource
}

func (s *Service) population() *Population {
	if s.Population == nil {
		return DefaultPopulation()
	}
	return s.Population
}

// Query is a validated request: a period, the municipalities (All: every one of the 98,
// which spares the telemetry query a filter), technologies, and whether small counts
// are suppressed.
type Query struct {
	Period         Period
	Municipalities []vagt.MunicipalityCode
	All            bool
	Technologies   []vagt.Technology
	Suppress       bool
}

func (q Query) storeMuns() []vagt.MunicipalityCode {
	if q.All {
		return nil
	}
	return q.Municipalities
}

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

// activity asks the telemetry store, once per interval, which devices reported.
func (s *Service) activity(ctx context.Context, q Query) ([]map[vagt.DeviceID]bool, error) {
	if s.Telemetry == nil {
		return nil, api.ErrNoTelemetry
	}
	buckets := q.Period.Buckets()
	out := make([]map[vagt.DeviceID]bool, len(buckets))
	errs := make([]error, len(buckets))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A few intervals at a time: InfluxDB answers them in parallel, but one request must
	// not take every core it has.
	sem := make(chan struct{}, QueryConcurrency)
	var wg sync.WaitGroup
	for i, b := range buckets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i], errs[i] = s.Telemetry.ActiveDevices(ctx, q.storeMuns(), b.Start, b.End)
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// activityMasks is, beside each device, the intervals of q it reported in as bits
// (interval i: bit i), however many rows, totals and funnel stages then ask: one look-up
// per device when the source is an IntervalActivity, else one per device and interval.
func (s *Service) activityMasks(ctx context.Context, q Query, devices []registry.DeviceFact) ([]uint64, error) {
	masks := make([]uint64, len(devices))
	if src, ok := s.Telemetry.(IntervalActivity); ok {
		buckets := q.Period.Buckets()
		if len(buckets) > MaxActivityIntervals {
			return nil, fmt.Errorf("%w: %d intervals, at most %d", api.ErrInvalid, len(buckets), MaxActivityIntervals)
		}
		active, err := src.ActiveInIntervals(ctx, q.storeMuns(), buckets)
		if err != nil {
			return nil, err
		}
		for k := range devices {
			masks[k] = active[devices[k].Device]
		}
		return masks, nil
	}
	active, err := s.activity(ctx, q)
	if err != nil {
		return nil, err
	}
	for k := range devices {
		for i := range active {
			if active[i][devices[k].Device] {
				masks[k] |= 1 << i
			}
		}
	}
	return masks, nil
}

// QueryConcurrency is how many interval queries one statistics request runs at once.
const QueryConcurrency = 2

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

// distinct counts distinct citizens without a map per count: each citizen gets a dense
// index once per request (of: beside each device, -1 for a home without a citizen), and a
// count marks the indexes it has seen with its own generation (a national request counts
// 200,000 devices × 5 counts × every interval).
type distinct struct {
	index citizenIndex
	of    []int32
	marks [5][]uint32
	gen   uint32
}

// newDistinct indexes the citizens of devices and then of citizens.
func newDistinct(ds []registry.DeviceFact, citizens []registry.CitizenFact) *distinct {
	d := &distinct{index: newCitizenIndex(ds, citizens), of: make([]int32, len(ds))}
	for k := range ds {
		d.of[k] = d.index.add(ds[k].Citizen)
	}
	for k := range citizens {
		d.index.add(citizens[k].ID)
	}
	for i := range d.marks {
		d.marks[i] = make([]uint32, d.index.n)
	}
	return d
}

// citizenIndex gives each citizen id a dense index in the order first added. The ids of a
// store are a sequence (SQL keys), so it is a slice over their range, and a map only when
// they are too sparse for one: hashing 400,000 ids per request was the largest cost left of
// counting distinct citizens.
type citizenIndex struct {
	lo     int64
	byID   []int32 // index + 1 by id - lo; 0: none yet
	sparse map[int64]int32
	n      int
}

// newCitizenIndex makes an empty index for the citizen ids of ds and citizens.
func newCitizenIndex(ds []registry.DeviceFact, citizens []registry.CitizenFact) citizenIndex {
	lo, hi, n := int64(math.MaxInt64), int64(math.MinInt64), 0
	see := func(id int64) {
		if id != 0 {
			lo, hi, n = min(lo, id), max(hi, id), n+1
		}
	}
	for k := range ds {
		see(ds[k].Citizen)
	}
	for k := range citizens {
		see(citizens[k].ID)
	}
	// A slice of at most four entries per id seen (and a little): beyond, a map.
	if n > 0 && hi-lo >= 0 && hi-lo < int64(4*n+1024) {
		return citizenIndex{lo: lo, byID: make([]int32, hi-lo+1)}
	}
	return citizenIndex{sparse: make(map[int64]int32, n)}
}

// add indexes a citizen and returns the index; -1 for 0 (no citizen).
func (x *citizenIndex) add(id int64) int32 {
	if id == 0 {
		return -1
	}
	if x.sparse == nil {
		at := &x.byID[id-x.lo]
		if *at == 0 {
			x.n++
			*at = int32(x.n)
		}
		return *at - 1
	}
	idx, ok := x.sparse[id]
	if !ok {
		idx = int32(x.n)
		x.sparse[id] = idx
		x.n++
	}
	return idx
}

// lookup is the index of a citizen, -1 for one not added.
func (x *citizenIndex) lookup(id int64) int32 {
	if id == 0 {
		return -1
	}
	if x.sparse == nil {
		if id < x.lo || id-x.lo >= int64(len(x.byID)) {
			return -1
		}
		return x.byID[id-x.lo] - 1
	}
	if idx, ok := x.sparse[id]; ok {
		return idx
	}
	return -1
}

// of is the index of a citizen added before.
func (x *citizenIndex) of(id int64) int32 {
	if x.sparse == nil {
		return x.byID[id-x.lo] - 1
	}
	return x.sparse[id]
}

// registeredCounts are the funnel's first stage: per municipality asked (by position) and
// over all of them, the citizens registered or with a device.
type registeredCounts struct {
	of  []int
	all int
}

// registered counts, per municipality of q and over all of them, the distinct citizens
// of citizens and devices (a citizen counts in each municipality they are registered or
// have a device in).
func (d *distinct) registered(q Query, muns munIndex, devices []registry.DeviceFact, citizens []registry.CitizenFact) registeredCounts {
	type entry struct {
		mun int
		idx int32
	}
	entries := make([]entry, 0, len(citizens)+len(devices))
	for _, c := range citizens {
		if j := muns.of(c.Municipality); j >= 0 && c.ID != 0 {
			entries = append(entries, entry{j, d.index.of(c.ID)})
		}
	}
	for k, f := range devices {
		if j := muns.of(f.Municipality); j >= 0 && d.of[k] >= 0 {
			entries = append(entries, entry{j, d.of[k]})
		}
	}
	byMun := groupBy(len(entries), muns.n, func(i int) int { return entries[i].mun })
	out := registeredCounts{of: make([]int, muns.n)}
	count := func(sel []int32) int {
		d.gen++
		n := 0
		for _, i := range sel {
			if idx := entries[i].idx; d.marks[0][idx] != d.gen {
				d.marks[0][idx] = d.gen
				n++
			}
		}
		return n
	}
	for j := range muns.n {
		out.of[j] = count(byMun.cell(j))
	}
	out.all = count(byMun.span(0, muns.n))
	return out
}

// reports are a request's devices and, beside each, the intervals it reported in (bit i:
// interval i; a period has at most 53).
type reports struct {
	devices []registry.DeviceFact
	masks   []uint64
	life    []lifetime
}

// countCell counts the devices ds[sel] in interval i of the period.
func countCell(ds reports, sel []int32, i int, seen *distinct) cellCounts {
	var c cellCounts
	seen.gen++
	g := seen.gen
	mark := func(k int, idx int32, n *int) {
		if idx >= 0 && seen.marks[k][idx] != g {
			seen.marks[k][idx] = g
			*n++
		}
	}
	for _, k := range sel {
		l := ds.life[k]
		idx := seen.of[k] // -1: a home without a citizen: a device, not a citizen
		if l.installedAt(i) {
			c.installed++
			mark(0, idx, &c.citizens)
		}
		if ds.masks[k]&(1<<i) != 0 {
			c.active++
			mark(1, idx, &c.citizensActive)
		}
		if int(l.added) == i {
			c.added++
			mark(2, idx, &c.citizensNew)
		}
		if int(l.removed) == i {
			c.removed++
			mark(3, idx, &c.citizensRemoved)
			if l.churn {
				c.churn++
				mark(4, idx, &c.citizensChurn)
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

// funnelStages counts nested sets of citizens of the devices ds[sel], so the funnel is
// monotone by construction: registered ⊇ installed ⊇ active ⊇ still active. A citizen who
// got the technology is registered, even when the registry record was typed in after a
// back-dated installation (its registered_at is when the record was made): counting only
// registered_at < end drew "registered 0" above "installed 3" (issue 7); registered is
// counted so (distinct.registered).
func funnelStages(q Query, ds reports, sel []int32, registered int, buckets []Bucket, seen *distinct) stageCounts {
	// Still active: installed at least ChurnWindow before the period's end, installed at
	// the end of the last interval (the period's end) and reporting in it.
	// (ds.life's settled: Adoption gave it the period's end less ChurnWindow).
	st := stageCounts{registered: registered}
	last := len(buckets) - 1
	seen.gen++
	g := seen.gen
	mark := func(k int, idx int32, n *int) {
		if idx >= 0 && seen.marks[k][idx] != g {
			seen.marks[k][idx] = g
			*n++
		}
	}
	for _, k := range sel {
		idx := seen.of[k]
		mark(0, idx, &st.installed)
		if ds.masks[k] != 0 {
			mark(1, idx, &st.active)
		}
		if l := ds.life[k]; last >= 0 && ds.masks[k]&(1<<last) != 0 && l.to > int16(last) && l.settled {
			mark(2, idx, &st.still)
		}
	}
	return st
}

// stageCounts are the funnel's stages: distinct citizens.
type stageCounts struct{ registered, installed, active, still int }

// release writes the stages as q releases them, and reports whether one was suppressed.
func (st stageCounts) release(q Query, registered, installed, active, still **int) (suppressed bool) {
	put := func(dst **int, n int) {
		if q.Suppress && n > 0 && n < SuppressBelow {
			suppressed = true
			return
		}
		*dst = ptr(q.released(n))
	}
	put(registered, st.registered) // ⊇ installed: Adoption adds every citizen with a device
	put(installed, st.installed)
	put(active, st.active)
	put(still, st.still)
	return suppressed
}

// set counts distinct citizens; 0 (a home without a citizen) is not one.
type set map[int64]struct{}

func (s set) add(id int64) {
	if id != 0 {
		s[id] = struct{}{}
	}
}

func anySmall(ns ...int) bool {
	for _, n := range ns {
		if n > 0 && n < SuppressBelow {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func municipalityInfo() map[vagt.MunicipalityCode]vagt.Municipality {
	out := map[vagt.MunicipalityCode]vagt.Municipality{}
	for _, m := range vagt.Municipalities() {
		out[m.Code] = m
	}
	return out
}

// trackerActivity returns, per bucket, the GPS trackers active per municipality; nil maps
// when there is no tracker source or gps_tracker is not asked for.
func (s *Service) trackerActivity(ctx context.Context, q Query, buckets []Bucket) ([]map[vagt.MunicipalityCode]int, error) {
	out := make([]map[vagt.MunicipalityCode]int, len(buckets))
	if s.Trackers == nil || !slices.Contains(q.Technologies, vagt.TechGPSTracker) {
		return out, nil
	}
	for i, b := range buckets {
		m, err := s.Trackers.ActiveTrackers(ctx, q.storeMuns(), b.Start, b.End)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}
