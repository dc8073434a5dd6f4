package stats

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

func TestParsePeriodBuckets(t *testing.T) {
	for _, c := range []struct {
		from, to, interval string
		want               string // buckets as start..end, or the error's text
	}{
		{"2026-01-01", "2026-04-01", "", "2026-01-01..2026-02-01 2026-02-01..2026-03-01 2026-03-01..2026-04-01"},
		{"2026-01-15", "2026-03-10", "month", "2026-01-15..2026-02-01 2026-02-01..2026-03-01 2026-03-01..2026-03-10"},
		// 2026-01-01 is a Thursday: the first week is clipped, weeks start on Monday.
		{"2026-01-01", "2026-01-20", "week", "2026-01-01..2026-01-05 2026-01-05..2026-01-12 2026-01-12..2026-01-19 2026-01-19..2026-01-20"},
		{"2026-02-10", "2026-08-01", "quarter", "2026-02-10..2026-04-01 2026-04-01..2026-07-01 2026-07-01..2026-08-01"},
		{"2026-01-01T12:00:00+01:00", "2026-01-02", "month", "2026-01-01..2026-01-02"},
		{"2025-01-06", "2026-01-05", "week", "52 buckets"},
		{"2025-01-01", "2026-01-05", "week", "53 buckets"},
		{"2025-01-01", "2026-01-06", "week", "spans 54 weeks; at most 53"},
		{"2023-01-01", "2026-01-01", "month", "36 buckets"},
		{"2023-01-01", "2026-01-02", "month", "spans 37 months; at most 36"},
		{"2021-01-01", "2026-01-01", "quarter", "20 buckets"},
		{"", "2026-01-01", "month", "from: required"},
		{"2026-01-01", "", "month", "to: required"},
		{"2026-02-01", "2026-01-01", "month", "to: the period is reversed"},
		{"2026-01-01", "2026-01-01", "month", "to: the period is empty"},
		{"2026-01-01", "2026-02-01", "day", "interval: must be week, month or quarter"},
		{"yesterday", "2026-02-01", "month", "from:"},
	} {
		p, err := ParsePeriod(c.from, c.to, c.interval)
		var got string
		if err != nil {
			if !errors.Is(err, api.ErrInvalid) {
				t.Errorf("%v: not ErrInvalid: %v", c, err)
			}
			got = err.Error()
		} else if bs := p.Buckets(); strings.HasSuffix(c.want, "buckets") {
			got = strings.Repeat("x", len(bs))
			c.want = strings.Repeat("x", atoi(strings.Fields(c.want)[0]))
		} else {
			var parts []string
			for _, b := range bs {
				parts = append(parts, b.Start.Format("2006-01-02")+".."+b.End.Format("2006-01-02"))
			}
			got = strings.Join(parts, " ")
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%s %s %s: %q, want %q", c.from, c.to, c.interval, got, c.want)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

func TestMonths(t *testing.T) {
	dk := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, vagt.Copenhagen) }
	feb := Bucket{dk(2026, 2, 1, 0), dk(2026, 3, 1, 0)}
	halfJan := Bucket{dk(2026, 1, 1, 0), dk(2026, 1, 16, 12)}
	q1 := Bucket{dk(2026, 1, 1, 0), dk(2026, 4, 1, 0)}
	week := Bucket{dk(2026, 1, 5, 0), dk(2026, 1, 12, 0)}
	// The months and the week with a change of clock: 743 and 745 hours, still whole.
	march := Bucket{dk(2026, 3, 1, 0), dk(2026, 4, 1, 0)}
	october := Bucket{dk(2026, 10, 1, 0), dk(2026, 11, 1, 0)}
	dstWeek := Bucket{dk(2026, 3, 23, 0), dk(2026, 3, 30, 0)}
	halfMarch := Bucket{dk(2026, 3, 1, 0), dk(2026, 3, 16, 12)} // before the change of clock
	lateMarch := Bucket{dk(2026, 3, 16, 12), dk(2026, 4, 1, 0)} // contains the 23-hour day
	for _, c := range []struct {
		iv   Interval
		b    Bucket
		want float64
	}{
		{Month, feb, 1}, {Month, halfJan, 0.5}, {Quarter, q1, 3}, {Week, week, 7 / 30.4375},
		{Month, march, 1}, {Month, october, 1}, {Week, dstWeek, 7 / 30.4375},
		{Month, halfMarch, 0.5}, {Month, lateMarch, 0.5},
	} {
		if got := c.iv.Months(c.b); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("%s %v: %v months, want %v", c.iv, c.b, got, c.want)
		}
	}
	if h := march.End.Sub(march.Start).Hours(); h != 743 {
		t.Errorf("March 2026 in Danish time is %v hours, want 743", h)
	}
	if h := october.End.Sub(october.Start).Hours(); h != 745 {
		t.Errorf("October 2026 in Danish time is %v hours, want 745", h)
	}
}

// TestDanishBoundaries pins where the intervals are cut: at Danish midnight, +02:00 in
// summer and +01:00 in winter, for every interval.
func TestDanishBoundaries(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, c := range []struct {
		iv    Interval
		at    string
		start string // the interval's start, in UTC
	}{
		{Month, "2026-03-31T21:30:00Z", "2026-02-28T23:00:00Z"}, // 23:30 CEST on 31 March: March
		{Month, "2026-03-31T22:30:00Z", "2026-03-31T22:00:00Z"}, // 00:30 CEST on 1 April: April
		{Month, "2026-01-31T22:30:00Z", "2025-12-31T23:00:00Z"}, // 23:30 CET on 31 January: January
		{Month, "2026-01-31T23:30:00Z", "2026-01-31T23:00:00Z"}, // 00:30 CET on 1 February: February
		{Month, "2026-10-31T22:30:00Z", "2026-09-30T22:00:00Z"}, // 23:30 CET on 31 October: October
		{Month, "2026-10-31T23:00:00Z", "2026-10-31T23:00:00Z"}, // midnight CET on 1 November
		{Quarter, "2026-03-31T22:30:00Z", "2026-03-31T22:00:00Z"},
		{Quarter, "2026-03-31T21:59:59Z", "2025-12-31T23:00:00Z"},
		{Quarter, "2025-12-31T23:30:00Z", "2025-12-31T23:00:00Z"}, // 00:30 on 1 January: Q1 2026
		{Week, "2026-03-29T22:30:00Z", "2026-03-29T22:00:00Z"},    // 00:30 CEST Monday 30 March: week 14
		{Week, "2026-03-29T21:30:00Z", "2026-03-22T23:00:00Z"},    // 23:30 CEST Sunday 29 March: week 13, from CET
		{Week, "2026-01-04T23:30:00Z", "2026-01-04T23:00:00Z"},    // 00:30 CET Monday 5 January
	} {
		if got := c.iv.start(at(c.at)).UTC().Format(time.RFC3339); got != c.start {
			t.Errorf("%s containing %s starts %s, want %s", c.iv, c.at, got, c.start)
		}
	}
	// Dates in a period are Danish dates: April 2026 is 22:00 UTC 31 March to 22:00 UTC 30 April.
	p, err := ParsePeriod("2026-03-01", "2026-05-01", "month")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range p.Buckets() {
		got = append(got, b.Start.UTC().Format(time.RFC3339)+".."+b.End.UTC().Format(time.RFC3339)+" "+b.Start.Format("-07:00")+" "+
			strconv.FormatFloat(b.End.Sub(b.Start).Hours(), 'f', -1, 64)+"h")
	}
	if want := "2026-02-28T23:00:00Z..2026-03-31T22:00:00Z +01:00 743h 2026-03-31T22:00:00Z..2026-04-30T22:00:00Z +02:00 720h"; strings.Join(got, " ") != want {
		t.Errorf("buckets: %s\nwant      %s", strings.Join(got, " "), want)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	for _, c := range []struct {
		vs   []float64
		p    float64
		want string
	}{
		{nil, 50, "nil"},
		{[]float64{300, 45, 120}, 50, "120"},
		{[]float64{300, 45, 120}, 90, "300"},
		{[]float64{7}, 90, "7"},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, "9"},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 50, "5"},
	} {
		got := "nil"
		if v := percentile(c.vs, c.p); v != nil {
			got = strconv.FormatFloat(*v, 'f', -1, 64)
		}
		if got != c.want {
			t.Errorf("p%v of %v = %s, want %s", c.p, c.vs, got, c.want)
		}
	}
}
