package stats

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api/alerts"
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
		{"", "2026-01-01", "month", "from and to are required"},
		{"2026-01-01", "", "month", "from and to are required"},
		{"2026-02-01", "2026-01-01", "month", "must be before"},
		{"2026-01-01", "2026-01-01", "month", "must be before"},
		{"2026-01-01", "2026-02-01", "day", "interval must be week, month or quarter"},
		{"yesterday", "2026-02-01", "month", "from:"},
	} {
		p, err := ParsePeriod(c.from, c.to, c.interval)
		var got string
		if err != nil {
			if !errors.Is(err, alerts.ErrInvalid) {
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
	feb := Bucket{time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	halfJan := Bucket{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 16, 12, 0, 0, 0, time.UTC)}
	q1 := Bucket{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	week := Bucket{time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)}
	for _, c := range []struct {
		iv   Interval
		b    Bucket
		want float64
	}{{Month, feb, 1}, {Month, halfJan, 0.5}, {Quarter, q1, 3}, {Week, week, 7 / 30.4375}} {
		if got := c.iv.Months(c.b); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("%s %v: %v months, want %v", c.iv, c.b, got, c.want)
		}
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
