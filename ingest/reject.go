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
	last map[string]*rejectState
}

type rejectState struct {
	at         time.Time
	suppressed int
}

// maxRejectEntries bounds the map; past it, entries older than the interval are pruned.
const maxRejectEntries = 10000

func newRejectLog(logger *slog.Logger, now func() time.Time, interval time.Duration) *rejectLog {
	return &rejectLog{logger: logger, now: now, interval: interval, last: make(map[string]*rejectState)}
}

// log reports a rejection of a message from gw ("" when the topic named none).
func (r *rejectLog) log(gw vagt.GatewayID, source string, err error) {
	suppressed, ok := r.allow("gw " + string(gw))
	if !ok {
		return
	}
	r.logger.Warn("message rejected", "gateway", string(gw), "source", source, "reason", vagt.Reason(err),
		"error", err, "suppressed_since_last", suppressed)
}

// allow reports whether a line about key may be logged now (at most once per interval),
// and how many were suppressed since the last one.
func (r *rejectLog) allow(key string) (int, bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.last[key]
	if ok && now.Sub(s.at) < r.interval {
		s.suppressed++
		return 0, false
	}
	suppressed := 0
	if ok {
		suppressed = s.suppressed
		s.at, s.suppressed = now, 0
	} else {
		if len(r.last) >= maxRejectEntries {
			r.pruneLocked(now)
		}
		if len(r.last) >= maxRejectEntries {
			return 0, false // a flood of distinct keys: stay quiet rather than grow
		}
		r.last[key] = &rejectState{at: now}
	}
	return suppressed, true
}

func (r *rejectLog) pruneLocked(now time.Time) {
	for gw, s := range r.last {
		if now.Sub(s.at) >= r.interval {
			delete(r.last, gw)
		}
	}
}
