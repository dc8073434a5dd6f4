package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt/api"
)

// DefaultStatsConcurrency is how many statistics computations run at once by default: one.
// A national view costs about half a CPU-second on two cores (docs/measurements.md), and
// the api that computes it also commits alarms and serves the staff's streams: 98
// managers opening the comparison at once would otherwise hold every core for tens of
// seconds, and an alarm's goroutines would wait their turn among a hundred.
const DefaultStatsConcurrency = 1

// DefaultStatsWait is how long a statistics request waits for its turn before it is
// refused with 503 and Retry-After.
const DefaultStatsWait = 30 * time.Second

// statsRetryAfter is the Retry-After, in seconds, of a statistics request refused as busy.
const statsRetryAfter = 10

var errStatsBusy = fmt.Errorf("%w: the statistics are busy; try again in %d s", api.ErrUnavailable, statsRetryAfter)

// statsSlots bounds the statistics computations running at once; the rest wait in line.
type statsSlots struct {
	slots chan struct{}
	wait  time.Duration
}

func newStatsSlots(n int, wait time.Duration) *statsSlots {
	if n <= 0 {
		n = DefaultStatsConcurrency
	}
	if wait <= 0 {
		wait = DefaultStatsWait
	}
	return &statsSlots{slots: make(chan struct{}, n), wait: wait}
}

// take waits for a turn (at most the configured wait, or until the request ends) and
// returns its release; a request that gets none is answered 503 with Retry-After.
func (s *statsSlots) take(ctx context.Context, w http.ResponseWriter) (release func(), err error) {
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-t.C:
	case <-ctx.Done():
	}
	w.Header().Set("Retry-After", strconv.Itoa(statsRetryAfter))
	return nil, errStatsBusy
}
