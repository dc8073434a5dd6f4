// Package outage is how a background loop of vagt (escalation, offline detection, night
// sweeps, retention, the roll-up, GPS upkeep, the downlink) reports a dependency that does
// not answer: the first failure of an outage is logged, every failure is counted, and the
// recovery is logged with how many runs failed. A database down for an hour under a
// one-second loop makes two log lines, not 3,600, and the count says how long it lasted.
package outage

import (
	"log/slog"
	"sync"
)

// Counter is a metric the failures are added to (a prometheus.Counter).
type Counter interface{ Inc() }

// Log reports one loop's failures. The zero value counts without logging; set Logger and
// Loop (the name that begins the message and is logged as "loop") before the first run.
// Safe for concurrent use.
type Log struct {
	Logger  *slog.Logger
	Loop    string
	Counter Counter // nil: none

	mu      sync.Mutex
	failing int   // failed runs of the current outage
	total   int64 // failed runs, all outages together
}

// Failed notes a failed run; it is logged only when it begins an outage.
func (l *Log) Failed(err error) {
	l.mu.Lock()
	l.failing++
	l.total++
	first := l.failing == 1
	l.mu.Unlock()
	if l.Counter != nil {
		l.Counter.Inc()
	}
	if first && l.Logger != nil {
		l.Logger.Warn(l.Loop+": run failed; retrying every run, logging again when it recovers", "loop", l.Loop, "err", err)
	}
}

// OK notes a run that succeeded; it is logged only when it ends an outage.
func (l *Log) OK() {
	l.mu.Lock()
	n := l.failing
	l.failing = 0
	l.mu.Unlock()
	if n > 0 && l.Logger != nil {
		l.Logger.Info(l.Loop+": recovered", "loop", l.Loop, "failed_runs", n)
	}
}

// Failures is how many runs failed, all outages together.
func (l *Log) Failures() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}
