// Package stats is the statistics welfare-technology managers and the national role read:
// adoption per municipality × technology × interval (the registry in the SQL store, and
// which devices reported, from InfluxDB through api/influx), alert statistics (the SQL store),
// the benefit model's estimate, comparison per 1,000 citizens aged 65+, suppression of
// small counts, and the CSV forms. Every InfluxDB query it makes is bounded in time by a
// validated Period.
package stats

import (
	"fmt"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Statistics are cut in vagt.Copenhagen: a municipality's March, week 12 or Q1 runs from
// local midnight to local midnight (CET +01:00, CEST +02:00).

// Interval is the step of a statistics series.
type Interval string

// The intervals: ISO calendar weeks (from Monday), months and quarters, in Danish time.
const (
	Week    Interval = "week"
	Month   Interval = "month"
	Quarter Interval = "quarter"
	// Whole is the period as one interval (the comparison's figures); not a request value.
	Whole Interval = "whole"
)

// MaxIntervals caps how many intervals one request may span: a year of weeks, three years
// of months, five years of quarters.
var MaxIntervals = map[Interval]int{Week: 53, Month: 36, Quarter: 20}

// Period is a validated, bounded time range [From, To) cut into intervals.
type Period struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Interval Interval  `json:"interval"`
}

// Bucket is one interval of a period.
type Bucket struct{ Start, End time.Time }

// ParsePeriod validates from, to (YYYY-MM-DD, a Danish date meaning its local midnight, or
// RFC 3339, an instant; both required) and interval
// (default month). A period must not be reversed or empty, nor span more than
// MaxIntervals of its interval. Each refusal is an *api.FieldError (400) naming from, to
// or interval and why.
func ParsePeriod(from, to, interval string) (Period, error) {
	var p Period
	if from == "" {
		return p, periodError("from", "required: a period must be bounded (from and to)")
	}
	if to == "" {
		return p, periodError("to", "required: a period must be bounded (from and to)")
	}
	var err error
	if p.From, err = parseTime(from); err != nil {
		return p, periodError("from", fmt.Sprintf("not a date (YYYY-MM-DD) or RFC 3339 time: %q", from))
	}
	if p.To, err = parseTime(to); err != nil {
		return p, periodError("to", fmt.Sprintf("not a date (YYYY-MM-DD) or RFC 3339 time: %q", to))
	}
	if p.From.Equal(p.To) {
		return p, periodError("to", fmt.Sprintf("the period is empty: to (%s) equals from", to))
	}
	if p.To.Before(p.From) {
		return p, periodError("to", fmt.Sprintf("the period is reversed: to (%s) is before from (%s)", to, from))
	}
	p.Interval = Interval(interval)
	if interval == "" {
		p.Interval = Month
	}
	limit, ok := MaxIntervals[p.Interval]
	if !ok {
		return p, periodError("interval", fmt.Sprintf("must be week, month or quarter, not %q", interval))
	}
	if n := len(p.Buckets()); n > limit {
		return p, periodError("to", fmt.Sprintf("the period spans %d %ss; at most %d per request", n, p.Interval, limit))
	}
	return p, nil
}

// CheckPeriod is the one check of the period of every statistics request (adoption and its
// funnel, alerts and their district rows, benefits, night checks, their CSV forms, and the
// comparison): ParsePeriod, then CheckAt at now against the retention.
func CheckPeriod(from, to, interval string, now time.Time, retention time.Duration) (Period, error) {
	p, err := ParsePeriod(from, to, interval)
	if err != nil {
		return p, err
	}
	return p, p.CheckAt(now, retention)
}

// periodError is an invalid period: which field, and why.
func periodError(field, reason string) error { return &api.FieldError{Field: field, Reason: reason} }

// ParseBounded validates a period for a raw telemetry read (a citizen's export): both ends
// required, not reversed, at most max long.
func ParseBounded(from, to string, max time.Duration) (time.Time, time.Time, error) {
	if from == "" || to == "" {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: from and to are required", api.ErrInvalid)
	}
	f, err := parseTime(from)
	if err != nil {
		return f, f, fmt.Errorf("%w: from: %v", api.ErrInvalid, err)
	}
	t, err := parseTime(to)
	if err != nil {
		return f, t, fmt.Errorf("%w: to: %v", api.ErrInvalid, err)
	}
	if !f.Before(t) {
		return f, t, fmt.Errorf("%w: from must be before to", api.ErrInvalid)
	}
	if t.Sub(f) > max {
		return f, t, fmt.Errorf("%w: at most %s per request", api.ErrInvalid, max)
	}
	return f, t, nil
}

// parseTime reads a date as its Danish midnight and an RFC 3339 instant as itself; both
// come back in Danish time.
func parseTime(s string) (time.Time, error) {
	if !strings.Contains(s, "T") {
		return time.ParseInLocation(time.DateOnly, s, vagt.Copenhagen)
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.In(vagt.Copenhagen), err
}

// start returns the start of the interval that contains t: a Danish midnight.
func (iv Interval) start(t time.Time) time.Time {
	t = t.In(vagt.Copenhagen)
	y, m, d := t.Date()
	switch iv {
	case Week:
		day := time.Date(y, m, d, 0, 0, 0, 0, vagt.Copenhagen)
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	case Quarter:
		return time.Date(y, ((m-1)/3)*3+1, 1, 0, 0, 0, 0, vagt.Copenhagen)
	}
	return time.Date(y, m, 1, 0, 0, 0, 0, vagt.Copenhagen)
}

// next is the start of the following interval. AddDate works on the wall clock, and
// Danish clocks never skip midnight, so this is again a local midnight.
func (iv Interval) next(t time.Time) time.Time {
	switch iv {
	case Week:
		return t.AddDate(0, 0, 7)
	case Quarter:
		return t.AddDate(0, 3, 0)
	}
	return t.AddDate(0, 1, 0)
}

// Months is how many months an interval counts as in per-month figures: a whole month is
// 1 whether it has 743, 744 or 745 hours, a quarter 3, a week 7/30.4375.
func (iv Interval) Months(b Bucket) float64 {
	switch iv {
	case Whole:
		// Whole months of the wall clock, and the days left over at 30.4375 a month.
		months := 0.0
		for s := b.Start; s.Before(b.End); {
			e := Month.next(Month.start(s))
			if e.After(b.End) {
				e = b.End
			}
			months += Month.Months(Bucket{s, e})
			s = e
		}
		return months
	case Week:
		return b.Days() / 30.4375
	case Quarter:
		return 3 * b.Days() / daysIn(iv, b.Start)
	}
	return b.Days() / daysIn(iv, b.Start)
}

// Days is the bucket's length in Danish calendar days: the wall-clock time between its ends,
// so the day the clocks change counts as one day, not 23 or 25 hours.
func (b Bucket) Days() float64 { return wallClock(b.End).Sub(wallClock(b.Start)).Hours() / 24 }

// wallClock is the Danish wall-clock reading of t as if it were UTC.
func wallClock(t time.Time) time.Time {
	t = t.In(vagt.Copenhagen)
	y, m, d := t.Date()
	return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// calendar is, within one request, the months (Interval.Months) and days (Bucket.Days) of
// its buckets, each computed once: a whole period's months are a walk over its calendar
// months, and a national answer asks them of every row (980 benefit rows). Not for
// concurrent use.
type calendar struct {
	iv           Interval
	months, days map[Bucket]float64
}

func newCalendar(iv Interval) *calendar {
	return &calendar{iv: iv, months: map[Bucket]float64{}, days: map[Bucket]float64{}}
}

func (c *calendar) monthsOf(b Bucket) float64 {
	v, ok := c.months[b]
	if !ok {
		v = c.iv.Months(b)
		c.months[b] = v
	}
	return v
}

func (c *calendar) daysOf(b Bucket) float64 {
	v, ok := c.days[b]
	if !ok {
		v = b.Days()
		c.days[b] = v
	}
	return v
}

func daysIn(iv Interval, start time.Time) float64 {
	s := iv.start(start)
	return Bucket{s, iv.next(s)}.Days()
}

// Buckets cuts the period at interval boundaries; the first and last may be partial
// (clipped to From and To).
func (p Period) Buckets() []Bucket {
	if p.Interval == Whole {
		return []Bucket{{p.From, p.To}}
	}
	var out []Bucket
	for s := p.Interval.start(p.From); s.Before(p.To); s = p.Interval.next(s) {
		b := Bucket{Start: s, End: p.Interval.next(s)}
		if b.Start.Before(p.From) {
			b.Start = p.From
		}
		if b.End.After(p.To) {
			b.End = p.To
		}
		out = append(out, b)
		if len(out) > 1000 {
			break // ParsePeriod refuses this anyway; never loop unboundedly
		}
	}
	return out
}

// DefaultRetention is how far back statistics reach by default: the alert records' default
// keep (retention.Policy.KeepAlerts). Nothing older is kept to count.
const DefaultRetention = 10 * 365 * 24 * time.Hour

// CheckAt refuses a period that lies wholly in the future (it starts at or after now:
// nothing to count yet), starts before now − retention (nothing that old is kept), or is
// longer than the retention (it could not all be kept at once). Its refusals are
// *api.FieldError, as ParsePeriod's.
func (p Period) CheckAt(now time.Time, retention time.Duration) error {
	if !p.From.Before(now) {
		return periodError("from", fmt.Sprintf("the period lies wholly in the future: it starts %s, after now", p.From.Format(time.DateOnly)))
	}
	days := int(retention.Hours() / 24)
	if retention > 0 && p.From.Before(now.Add(-retention)) {
		return periodError("from", fmt.Sprintf("the period starts before the retention of %d days: nothing that old is kept", days))
	}
	if retention > 0 && p.To.Sub(p.From) > retention {
		return periodError("to", fmt.Sprintf("the period is longer than the retention of %d days", days))
	}
	return nil
}
