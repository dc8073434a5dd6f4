package alerts_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

func TestSeenCheck(t *testing.T) {
	last := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name         string
		seen, count  int
		stale, inval bool
	}{
		{"as seen", 1, 1, false, false},
		{"as seen after repeats", 3, 3, false, false},
		{"a press since", 1, 2, true, false},
		{"two presses since", 1, 3, true, false},
		{"no count", 0, 1, false, true},
		{"negative", -1, 1, false, true},
		{"more than the alert had", 2, 1, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := alerts.Seen{Count: c.seen}.Check(alerts.Alert{ID: 7, Count: c.count, LastAt: last})
			var stale *alerts.StaleError
			switch {
			case c.stale:
				if !errors.As(err, &stale) || !errors.Is(err, api.ErrConflict) || stale.Seen != c.seen || stale.Count != c.count || !stale.LastAt.Equal(last) {
					t.Errorf("seen %d of %d: %v, want a StaleError that is a conflict", c.seen, c.count, err)
				}
			case c.inval:
				if !errors.Is(err, api.ErrInvalid) || errors.As(err, &stale) {
					t.Errorf("seen %d of %d: %v, want invalid", c.seen, c.count, err)
				}
			case err != nil:
				t.Errorf("seen %d of %d: %v, want nil", c.seen, c.count, err)
			}
		})
	}
}
