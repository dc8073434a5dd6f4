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
