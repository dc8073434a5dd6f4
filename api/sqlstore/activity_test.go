package sqlstore_test

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/rollup"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestActivityRollup: a day's rewrite makes the day exactly the reporters given (bits of
// other days untouched, rows without a bit gone), a re-run changes no row, two at once
// agree, reads select by day and municipality, and retention forgets a municipality's days
// before a day and no one else's.
func TestActivityRollup(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		a := rollup.Reporter{Municipality: 766, Gateway: "gw-1", Device: "md-1"}
		b := rollup.Reporter{Municipality: 615, Gateway: "gw-2", Device: "md-2"}
		c := rollup.Reporter{Municipality: 766, Gateway: "gw-3", Device: "md-3"}
		replace := func(day int, rs ...rollup.Reporter) {
			t.Helper()
			if err := s.ReplaceActivityDay(ctx, day, rs, 0, t0); err != nil {
				t.Fatal(err)
			}
		}
		active := func(muns []vagt.MunicipalityCode, days ...int) string {
			t.Helper()
			m, err := s.ActiveInDays(ctx, muns, days)
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(slices.Sorted(func(yield func(string) bool) {
				for d := range maps.Keys(m) {
					if !yield(string(d)) {
						return
					}
				}
			}), ",")
		}
		rows := func() string {
			t.Helper()
			r, err := s.ActivityRowsForTest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(r, "\n")
		}
		replace(20260329, a, b)
		replace(20260330, a)
		replace(20260331, c)
		replace(20260401, a)
		want := "202603 615 gw-2 md-2 10000000000000000000000000000\n" +
			"202603 766 gw-1 md-1 110000000000000000000000000000\n" +
			"202603 766 gw-3 md-3 1000000000000000000000000000000\n" +
			"202604 766 gw-1 md-1 1"
		if got := rows(); got != want {
			t.Fatalf("rows:\n%s\nwant:\n%s", got, want)
		}
		replace(20260329, a, b)
		if got := rows(); got != want {
			t.Errorf("a re-run changed rows:\n%s\nwant:\n%s", got, want)
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { replace(20260330, a) })
		}
		wg.Wait()
		if got := rows(); got != want {
			t.Errorf("two rewrites at once:\n%s\nwant:\n%s", got, want)
		}
		for _, q := range []struct {
			muns []vagt.MunicipalityCode
			days []int
			want string
		}{
			{nil, []int{20260329}, "md-1,md-2"},
			{nil, []int{20260330}, "md-1"},
			{nil, []int{20260331, 20260401}, "md-1,md-3"},
			{[]vagt.MunicipalityCode{615}, []int{20260329, 20260330}, "md-2"},
			{[]vagt.MunicipalityCode{766, 101}, []int{20260331}, "md-3"},
			{nil, []int{20260328, 20260402}, ""},
			{nil, nil, ""},
		} {
			if got := active(q.muns, q.days...); got != q.want {
				t.Errorf("active %v %v: %q, want %q", q.muns, q.days, got, q.want)
			}
		}
		days, err := s.RolledUpDays(ctx, 20260330, 20260401)
		if err != nil || len(days) != 3 || !days[20260401].Equal(t0) {
			t.Errorf("rolled-up days: %v %v", days, err)
		}

		// A late rewrite with fewer reporters takes the others' bit of that day only.
		replace(20260329, b)
		if got := active(nil, 20260329); got != "md-2" {
			t.Errorf("after the rewrite 29th: %q", got)
		}
		if got := active(nil, 20260330); got != "md-1" {
			t.Errorf("after the rewrite 30th: %q", got)
		}
		replace(20260331)
		if got := rows(); strings.Contains(got, "md-3") {
			t.Errorf("a row without a day is left:\n%s", got)
		}
		if err := s.ReplaceActivityDay(ctx, 20260300, nil, 0, t0); err == nil {
			t.Error("day 00 accepted")
		}

		// Retention of Hedensted from the 30th: its 29th goes, Horsens's stays.
		replace(20260329, a, b)
		if err := s.ForgetActivityBefore(ctx, 766, 20260330); err != nil {
			t.Fatal(err)
		}
		if got := active(nil, 20260329); got != "md-2" {
			t.Errorf("after retention, 29th: %q, want md-2", got)
		}
		if got := active(nil, 20260330, 20260401); got != "md-1" {
			t.Errorf("after retention, 30th-1st: %q, want md-1", got)
		}
		if err := s.ForgetActivityBefore(ctx, 766, 20260501); err != nil {
			t.Fatal(err)
		}
		if got := rows(); got != "202603 615 gw-2 md-2 10000000000000000000000000000" {
			t.Errorf("after retention of all of Hedensted's:\n%s", got)
		}
	})
}
