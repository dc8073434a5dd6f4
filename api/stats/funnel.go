package stats

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
	for _, k := range sel {
		idx := seen.of[k]
		seen.mark(0, idx, &st.installed)
		if ds.masks[k] != 0 {
			seen.mark(1, idx, &st.active)
		}
		if l := ds.life[k]; last >= 0 && ds.masks[k]&(1<<last) != 0 && l.to > int16(last) && l.settled {
			seen.mark(2, idx, &st.still)
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
