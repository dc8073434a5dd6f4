package stats

// Statistical disclosure control for the views seen outside the municipality (the national
// role): primary suppression of counts that describe 1-4 citizens, and deterministic
// rounding of every other released count to a multiple of RoundingBase, with rates and
// estimates computed from the released figures. docs/statistics.md has the threat model
// and why this, rather than complementary suppression alone, was chosen.

// RoundingBase is the base released counts are rounded to in a protected answer.
const RoundingBase = 5

// Disclosure says how an answer's figures were protected; it is returned with them, as
// the benefit model is returned with its estimate.
type Disclosure struct {
	Method          string   `json:"method"` // "exact" or "suppress_and_round"
	SuppressedBelow int      `json:"suppressed_below,omitempty"`
	RoundingBase    int      `json:"rounding_base"` // 1: exact
	Rules           []string `json:"rules"`
}

// disclosure describes q's protection.
func (q Query) disclosure() Disclosure {
	if !q.Suppress {
		return Disclosure{Method: "exact", RoundingBase: 1, Rules: []string{
			"Exact figures: the municipality's own manager, or an admin, who may read the registry itself."}}
	}
	return Disclosure{Method: "suppress_and_round", SuppressedBelow: SuppressBelow, RoundingBase: RoundingBase, Rules: []string{
		"A count that describes 1-4 citizens is suppressed (null); so are the counts of devices and alarms behind them.",
		"Every other count is rounded to the nearest multiple of 5 (0 stays 0; 5-7 become 5, 8-12 become 10); the same true count always gives the same figure.",
		"Rates (per 1,000 citizens aged 65+, per citizen per month, shares) and benefit estimates are computed from the rounded figures.",
		"Totals, differences between intervals, technologies or overlapping periods may therefore differ by a few from the sum of the rows: this is what keeps a suppressed count from being recovered by subtraction.",
		"A total (totals) is computed from the exact figures of every row it covers, suppressed ones included, and then protected as a cell of its own; where that would let a suppressed row be recovered by subtraction, it is the sum of the released rows instead and named in incomplete.",
	}}
}

// released is n as a protected answer releases it: rounded to RoundingBase when q
// protects, exact otherwise. Suppression is decided by the caller on the citizens behind n.
func (q Query) released(n int) int {
	if !q.Suppress {
		return n
	}
	return roundBase(n, RoundingBase)
}

// roundBase rounds a count to the nearest multiple of base (counts are integers, and base
// odd, so there is no tie).
func roundBase(n, base int) int {
	if n < 0 {
		return -roundBase(-n, base)
	}
	return (n + base/2) / base * base
}

// share is num/den from the released counts; nil when the released denominator is 0.
func (q Query) share(num, den int) *float64 {
	rn, rd := q.released(num), q.released(den)
	if rd == 0 {
		return nil
	}
	return ptr(round(float64(rn)/float64(rd), 4))
}

// A total beside its parts. A total released as a cell of its own (rounded from the exact
// sum) can still give a hidden part away: subtract the released parts from it, and when
// their rounding errors all lean one way only one value may be left for what was hidden
// (a total of 20, parts of 15 and 10 and one hidden: the hidden part is 1 when the truths
// are 22, 13 and 8). So before a total is released it is audited as an adversary would
// read it; when the hidden parts would be left fewer than two possible values, the total is
// released as the sum of the parts as released instead, marked incomplete (a sum that
// lacks what is hidden, which tells nothing the parts do not).

// span is what a released count says about the truth: lo ≤ true ≤ hi.
type span struct{ lo, hi int }

// countSpan is the truth behind a released count of a protected answer: 0 is 0, any other
// figure the counts of SuppressBelow or more that round to it.
func countSpan(v int) span {
	if v == 0 {
		return span{0, 0}
	}
	return span{max(SuppressBelow, v-RoundingBase/2), v + RoundingBase/2}
}

// totalSafe reports whether total may be released beside parts (nil: suppressed, each
// then 1-4): whether the hidden parts' sum keeps at least two values an adversary cannot
// tell apart. The adversary's prior for k hidden parts is k to 4k; a hidden count of
// devices may be larger, which only widens what they cannot exclude.
func totalSafe(total int, parts []*int) bool {
	k, rest := 0, span{}
	for _, p := range parts {
		if p == nil {
			k++
			continue
		}
		s := countSpan(*p)
		rest.lo, rest.hi = rest.lo+s.lo, rest.hi+s.hi
	}
	if k == 0 {
		return true
	}
	t := countSpan(total)
	lo, hi := max(t.lo-rest.hi, k), min(t.hi-rest.lo, (SuppressBelow-1)*k)
	return hi-lo >= 1
}

// auditTotal releases the total *dst beside parts: unchanged when safe, otherwise the sum
// of the released parts; it reports whether it is that incomplete sum.
func auditTotal(q Query, dst **int, parts []*int) (incomplete bool) {
	if !q.Suppress || *dst == nil || totalSafe(**dst, parts) {
		return false
	}
	sum := 0
	for _, p := range parts {
		if p != nil {
			sum += *p
		}
	}
	*dst = ptr(sum)
	return true
}
