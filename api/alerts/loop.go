package alerts

import (
	"context"
	"log/slog"
	"time"

	"github.com/vagt-dk/vagt/api"
)

// EscalationStore moves every unacknowledged alert whose deadline has passed one tier up,
// and every taken alert whose assignee missed "on my way" or "arrived" (presence.go),
// recording the step and its event, and returns how many it changed.
type EscalationStore interface {
	EscalateDue(ctx context.Context, now time.Time) (int, error)
}

// OfflineStore raises gateway_offline alerts for gateways silent past the policy, folds a
// gateway going offline again into its open alert, and resolves the alerts of gateways that
// stayed back; it returns how many alerts it changed.
type OfflineStore interface {
	DetectOffline(ctx context.Context, now time.Time) (int, error)
}

// Escalator drives escalation. The deadlines live in the store, so an API restart loses
// none; several replicas may run one each (the store's updates are conditional).
type Escalator struct {
	Store  EscalationStore
	Clock  api.Clock
	Every  time.Duration // how often to look; default 1 s
	Logger *slog.Logger
	// Changed is called after a tick that changed alerts (e.g. Feed.Wake), if set.
	Changed func()
}

// Tick escalates what is due now.
func (e *Escalator) Tick(ctx context.Context) (int, error) {
	n, err := e.Store.EscalateDue(ctx, e.Clock.Now())
	if n > 0 && e.Changed != nil {
		e.Changed()
	}
	return n, err
}

// Run ticks until ctx is done.
func (e *Escalator) Run(ctx context.Context) error {
	return every(ctx, e.Every, e.Logger, "escalate", e.Tick)
}

// OfflineDetector drives offline detection, like Escalator.
type OfflineDetector struct {
	Store   OfflineStore
	Clock   api.Clock
	Every   time.Duration // default 1 s
	Logger  *slog.Logger
	Changed func()
}

// Tick detects what is due now.
func (d *OfflineDetector) Tick(ctx context.Context) (int, error) {
	n, err := d.Store.DetectOffline(ctx, d.Clock.Now())
	if n > 0 && d.Changed != nil {
		d.Changed()
	}
	return n, err
}

// Run ticks until ctx is done.
func (d *OfflineDetector) Run(ctx context.Context) error {
	return every(ctx, d.Every, d.Logger, "offline", d.Tick)
}

// every calls tick on a real-time ticker; the clock the tick reads is the injected one, so
// a test with a ManualClock decides what is due and only waits for the next look.
func every(ctx context.Context, period time.Duration, log *slog.Logger, name string, tick func(context.Context) (int, error)) error {
	if period <= 0 {
		period = time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if n, err := tick(ctx); err != nil && ctx.Err() == nil {
			log.Warn("tick failed; retrying at the next", "loop", name, "err", err)
		} else if n > 0 {
			log.Info("alerts changed", "loop", name, "alerts", n)
		}
	}
}
