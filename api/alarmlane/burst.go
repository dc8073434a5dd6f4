package alarmlane

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// burstLog logs one line per kind of trouble (lane and reason) per interval, with how many
// were left out since, so a gateway sending garbage cannot flood the log. The counters
// count every one.
type burstLog struct {
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration

	mu   sync.Mutex
	last map[string]*burst // few keys: lanes × reasons
}

type burst struct {
	at         time.Time
	suppressed int
}

func newBurstLog(log *slog.Logger, now func() time.Time, interval time.Duration) *burstLog {
	return &burstLog{log: log, now: now, interval: interval, last: map[string]*burst{}}
}

// warn logs msg at warn level unless a line for key was logged within the interval.
func (b *burstLog) warn(key, msg string, attrs ...any) { b.emit(slog.LevelWarn, key, msg, attrs...) }

// error is warn at error level: trouble an operator must mend.
func (b *burstLog) error(key, msg string, attrs ...any) { b.emit(slog.LevelError, key, msg, attrs...) }

func (b *burstLog) emit(level slog.Level, key, msg string, attrs ...any) {
	now := b.now()
	b.mu.Lock()
	s, ok := b.last[key]
	if ok && now.Sub(s.at) < b.interval {
		s.suppressed++
		b.mu.Unlock()
		return
	}
	suppressed := 0
	if ok {
		suppressed, s.at, s.suppressed = s.suppressed, now, 0
	} else {
		b.last[key] = &burst{at: now}
	}
	b.mu.Unlock()
	b.log.Log(context.Background(), level, msg, append(attrs, "suppressed_since_last", suppressed)...)
}
