// Package burst keeps a log readable under bad input: a refusal is logged at the start of
// a burst of refusals and then at most once per interval while the burst lasts, with how
// many were left out; the end of a burst (a good message from the same source) is logged
// once with the burst's size. The counters, not the log, carry every refusal. The idea is
// ingest's rejectLog (ingest/reject.go), keyed by a source of our choosing.
package burst

import (
	"sync"
	"time"
)

// maxKeys bounds the memory: past it, sources quiet for an interval are forgotten.
const maxKeys = 1000

// Limiter decides which refusals are logged. Safe for concurrent use.
type Limiter struct {
	interval time.Duration

	mu   sync.Mutex
	keys map[string]*state
}

type state struct {
	loggedAt   time.Time
	suppressed int // refusals not logged since loggedAt
	total      int // refusals in this burst
}

// New returns a Limiter that logs a source at most once per interval.
func New(interval time.Duration) *Limiter {
	return &Limiter{interval: interval, keys: map[string]*state{}}
}

// Refused records a refusal from key at now. log says whether to log it; suppressed is how
// many refusals of key were not logged since the last one that was.
func (l *Limiter) Refused(key string, now time.Time) (log bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= maxKeys {
			l.prune(now)
		}
		s = &state{}
		l.keys[key] = s
	}
	s.total++
	if ok && now.Sub(s.loggedAt) < l.interval && now.Sub(s.loggedAt) >= 0 {
		s.suppressed++
		return false, 0
	}
	suppressed, s.suppressed, s.loggedAt = s.suppressed, 0, now
	return true, suppressed
}

// Good records that key sent something good. ended says a burst of refusals just ended,
// and refused how many it held.
func (l *Limiter) Good(key string) (ended bool, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.keys[key]
	if !ok {
		return false, 0
	}
	delete(l.keys, key)
	return true, s.total
}

func (l *Limiter) prune(now time.Time) {
	for k, s := range l.keys {
		if now.Sub(s.loggedAt) >= l.interval {
			delete(l.keys, k)
		}
	}
}
