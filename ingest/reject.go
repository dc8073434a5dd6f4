package ingest

import (
	"log/slog"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
)

// rejectLog logs a rejected message at most once per gateway per interval, with how many
// were suppressed since, so a gateway sending garbage cannot flood the log.
type rejectLog struct {
	logger   *slog.Logger
	now      func() time.Time
	interval time.Duration

	mu   sync.Mutex
	last map[vagt.GatewayID]*rejectState
}

type rejectState struct {
	at         time.Time
	suppressed int
}

// maxRejectEntries bounds the map; past it, entries older than the interval are pruned.
const maxRejectEntries = 10000

func newRejectLog(logger *slog.Logger, now func() time.Time, interval time.Duration) *rejectLog {
	return &rejectLog{logger: logger, now: now, interval: interval, last: make(map[vagt.GatewayID]*rejectState)}
}

// log reports a rejection of a message from gw ("" when the topic named none).
func (r *rejectLog) log(gw vagt.GatewayID, source string, err error) {
	now := r.now()
	r.mu.Lock()
	s, ok := r.last[gw]
	if ok && now.Sub(s.at) < r.interval {
		s.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := 0
	if ok {
		suppressed = s.suppressed
		s.at, s.suppressed = now, 0
	} else {
		if len(r.last) >= maxRejectEntries {
			r.pruneLocked(now)
		}
		r.last[gw] = &rejectState{at: now}
	}
	r.mu.Unlock()
	r.logger.Warn("message rejected", "gateway", string(gw), "source", source, "reason", vagt.Reason(err),
		"error", err, "suppressed_since_last", suppressed)
}

func (r *rejectLog) pruneLocked(now time.Time) {
	for gw, s := range r.last {
		if now.Sub(s.at) >= r.interval {
			delete(r.last, gw)
		}
	}
}
