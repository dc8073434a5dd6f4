package stats

import (
	"math"
)

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

// mark counts the citizen of dense index idx (-1: none) in *n, once per count k since the
// last gen++ (which starts a new count of every k).
func (d *distinct) mark(k int, idx int32, n *int) {
	if idx >= 0 && d.marks[k][idx] != d.gen {
		d.marks[k][idx] = d.gen
		*n++
	}
}

// newDistinct indexes the citizens of devices and then of citizens.
func newDistinct(ds []DeviceFact, citizens []CitizenFact) *distinct {
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
func newCitizenIndex(ds []DeviceFact, citizens []CitizenFact) citizenIndex {
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
func (d *distinct) registered(q Query, muns munIndex, devices []DeviceFact, citizens []CitizenFact) registeredCounts {
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
