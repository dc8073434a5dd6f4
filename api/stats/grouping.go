package stats

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// How a national request stays within a second (issue 18 item 5; docs/statistics.md,
// "Speed"): the store's facts are read once and never copied per cell. They are grouped
// once by a counting sort into index lists (cells), distinct citizens are counted by
// marking a dense index per citizen instead of filling a map per count, and percentiles
// are found by selection instead of a sort. Each gives exactly the figure of the
// straightforward computation, which reference_test.go keeps as the oracle of
// TestFastPathMatchesReference.

// cells are indexes into a slice of facts grouped by a key in 0..n-1: cell k is
// idx[start[k]:start[k+1]], in the facts' order. Facts with no key (-1) are left out.
type cells struct {
	idx   []int32
	start []int
}

// groupBy sorts the indexes 0..len-1 into n cells by key (a stable counting sort).
func groupBy(length, n int, key func(i int) int) cells {
	keys := make([]int32, length)
	start := make([]int, n+1)
	for i := range length {
		k := key(i)
		keys[i] = int32(k)
		if k >= 0 {
			start[k+1]++
		}
	}
	for k := range n {
		start[k+1] += start[k]
	}
	idx := make([]int32, start[n])
	next := slices.Clone(start[:n])
	for i, k := range keys {
		if k >= 0 {
			idx[next[k]] = int32(i)
			next[k]++
		}
	}
	return cells{idx: idx, start: start}
}

// cell is the indexes of cell k.
func (c cells) cell(k int) []int32 { return c.idx[c.start[k]:c.start[k+1]] }

// span is the indexes of cells from..to-1 (contiguous).
func (c cells) span(from, to int) []int32 { return c.idx[c.start[from]:c.start[to]] }

// munIndex is the position of each municipality of a query in its list (the first, when
// listed twice), -1 for one not asked.
type munIndex struct {
	pos []int32 // by code + 1; 0: not asked
	n   int
}

func newMunIndex(muns []vagt.MunicipalityCode) munIndex {
	x := munIndex{pos: make([]int32, math.MaxUint16+1)}
	for _, m := range muns {
		if x.pos[m] == 0 {
			x.n++
			x.pos[m] = int32(x.n)
		}
	}
	return x
}

func (x munIndex) of(m vagt.MunicipalityCode) int { return int(x.pos[m]) - 1 }

// techSet is which technologies a query asks for.
type techSet [math.MaxUint8 + 1]bool

func newTechSet(ts []vagt.Technology) *techSet {
	var s techSet
	for _, t := range ts {
		s[t] = true
	}
	return &s
}

// lifetime is a device's life in the intervals of a period, found once by binary search,
// so that counting a cell compares small integers instead of times: it is installed at the
// end of interval i for from ≤ i < to (installed before that end, not removed before it:
// both hold from some interval on, since the ends increase), was installed in interval
// added and removed in interval removed (-1: in none), and removed within ChurnWindow of
// its installation (churn); settled: installed at or before the time lifetimes was given
// (the funnel's "still active" asks it of every device, and the fact's time is far away in
// memory).
type lifetime struct {
	from, to, added, removed int16
	churn, settled           bool
}

func (l lifetime) installedAt(i int) bool { return int(l.from) <= i && i < int(l.to) }

// lifetimes are the lifetime of each device in buckets (in order, contiguous, at most
// MaxIntervals), settled if installed at or before settledBy.
func lifetimes(devices []DeviceFact, buckets []Bucket, settledBy time.Time) []lifetime {
	endAfter := func(t time.Time) int {
		return sort.Search(len(buckets), func(i int) bool { return t.Before(buckets[i].End) })
	}
	in := func(t time.Time) int16 {
		if i := endAfter(t); i < len(buckets) && !t.Before(buckets[i].Start) {
			return int16(i)
		}
		return -1
	}
	out := make([]lifetime, len(devices))
	for k := range devices {
		d := &devices[k]
		l := lifetime{from: int16(endAfter(d.InstalledAt)), to: int16(len(buckets)), added: in(d.InstalledAt), removed: -1,
			settled: !d.InstalledAt.After(settledBy)}
		if d.RemovedAt != nil {
			l.to, l.removed, l.churn = int16(endAfter(*d.RemovedAt)), in(*d.RemovedAt), d.RemovedAt.Sub(d.InstalledAt) < ChurnWindow
		}
		out[k] = l
	}
	return out
}

// nearestRank is percentile found by selection: the same value, in linear time. It
// reorders vs, which must be the caller's own.
func nearestRank(vs []float64, p float64) *float64 {
	if len(vs) == 0 {
		return nil
	}
	i := int(math.Ceil(p/100*float64(len(vs)))) - 1
	return ptr(round(selectKth(vs, max(i, 0)), 3))
}

// selectKth reorders vs so that vs[k] is the value a sort would put there, and returns it
// (Hoare's quickselect with a median-of-three pivot; past 2·log₂ n rounds, as adversarial
// input could cause, it sorts what is left, so it never takes quadratic time). vs holds no
// NaN (durations and rates).
func selectKth(vs []float64, k int) float64 {
	lo, hi := 0, len(vs)-1
	for budget := 2 * bits.Len(uint(len(vs))); lo < hi; budget-- {
		if budget == 0 {
			slices.Sort(vs[lo : hi+1])
			break
		}
		mid := lo + (hi-lo)/2
		if vs[mid] < vs[lo] {
			vs[mid], vs[lo] = vs[lo], vs[mid]
		}
		if vs[hi] < vs[lo] {
			vs[hi], vs[lo] = vs[lo], vs[hi]
		}
		if vs[hi] < vs[mid] {
			vs[hi], vs[mid] = vs[mid], vs[hi]
		}
		pivot := vs[mid]
		i, j := lo, hi
		for i <= j {
			for vs[i] < pivot {
				i++
			}
			for vs[j] > pivot {
				j--
			}
			if i <= j {
				vs[i], vs[j] = vs[j], vs[i]
				i++
				j--
			}
		}
		// vs[lo..j] ≤ pivot ≤ vs[i..hi], and what lies between equals the pivot.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return vs[k]
		}
	}
	return vs[k]
}

// alertRec is what the statistics read of an alert, taken from its record once and laid
// out in the order of the request's cells, so that every later pass reads memory in order.
type alertRec struct {
	ack, resolve, arrival time.Duration // since raised; when the flag says there is one
	escalations           int
	district              int64
	fact                  int32 // the record's index (its district's name)
	typ                   vagt.AlarmType
	prio                  vagt.Priority
	flags                 uint8
}

const (
	recAcked uint8 = 1 << iota
	recResolved
	recArrived
	recFalseAlarm
	recWithoutVisit // the outcome says nobody went (whether or not resolved)
)

func (r *alertRec) has(flag uint8) bool { return r.flags&flag != 0 }

// needsVisit is NeedsVisit of the alert.
func (r *alertRec) needsVisit() bool {
	return r.has(recArrived) || !r.has(recResolved) || !r.has(recWithoutVisit)
}

// outcomeFlags are, by string of an AlertRecords, the flags its outcome gives a record.
func outcomeFlags(strs []string) []uint8 {
	out := make([]uint8, len(strs))
	for i, s := range strs {
		o := alerts.Outcome(s)
		if o == alerts.OutcomeFalseAlarm {
			out[i] |= recFalseAlarm
		}
		if isWithoutVisit(o) {
			out[i] |= recWithoutVisit
		}
	}
	return out
}

func newAlertRec(f *AlertRecord, k int, outcome []uint8) alertRec {
	r := alertRec{escalations: int(f.Escalations), district: f.District, fact: int32(k), typ: f.Type, prio: f.Priority, flags: outcome[f.Outcome]}
	if f.Has&HasAcked != 0 {
		r.ack, r.flags = time.Duration(f.AckedAt-f.RaisedAt), r.flags|recAcked
	}
	if f.Has&HasResolved != 0 {
		r.resolve, r.flags = time.Duration(f.ResolvedAt-f.RaisedAt), r.flags|recResolved
	}
	if f.Has&HasArrived != 0 {
		r.arrival, r.flags = time.Duration(f.ArrivedAt-f.RaisedAt), r.flags|recArrived
	}
	return r
}

// alertCells are a request's alerts as records grouped by a key in 0..n-1 (a stable
// counting sort): cell k is recs[start[k]:start[k+1]], in the store's order.
type alertCells struct {
	recs  []alertRec
	start []int
}

func groupAlerts(facts AlertRecords, n int, key func(k int) int) alertCells {
	keys := make([]int32, len(facts.Records))
	start := make([]int, n+1)
	for k := range facts.Records {
		c := key(k)
		keys[k] = int32(c)
		if c >= 0 {
			start[c+1]++
		}
	}
	for c := range n {
		start[c+1] += start[c]
	}
	// The records are read in the store's order, and each written to its place.
	outcome := outcomeFlags(facts.Strings)
	recs := make([]alertRec, start[n])
	next := slices.Clone(start[:n])
	for k, c := range keys {
		if c >= 0 {
			recs[next[c]] = newAlertRec(&facts.Records[k], k, outcome)
			next[c]++
		}
	}
	return alertCells{recs: recs, start: start}
}

func (c alertCells) cell(k int) []alertRec { return c.recs[c.start[k]:c.start[k+1]] }

func (c alertCells) span(from, to int) []alertRec { return c.recs[c.start[from]:c.start[to]] }
