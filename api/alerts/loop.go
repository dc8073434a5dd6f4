package alerts

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/internal/outage"
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
	// Unheard, when set, moves on at once an alert whose tier has nobody listening (no
	// live stream of a person on its shift, its backup): "nobody is listening" is the
	// dangerous case. Listeners are this replica's streams, beaten into the store under
	// Replica (unique per process) at Wall's time (default the system clock: streams are
	// real connections, also when Clock is a ManualClock).
	Unheard   UnheardStore
	Listeners ListenerCounter
	Replica   string
	Wall      api.Clock
}

// Tick escalates what is due now, then, with Unheard set, records who listens on this
// replica and moves on at once what nobody on its tier hears.
func (e *Escalator) Tick(ctx context.Context) (int, error) {
	now := e.Clock.Now()
	n, err := e.Store.EscalateDue(ctx, now)
	if e.Unheard != nil {
		wall := api.SystemClock{}.Now()
		if e.Wall != nil {
			wall = e.Wall.Now()
		}
		var beatErr error
		if e.Listeners != nil {
			beatErr = e.Unheard.BeatStreams(ctx, e.Replica, e.Listeners.Listeners(), wall)
		}
		// A failed beat still looks: this replica's listeners then count as gone, and
		// the alert moves on, the safe side.
		m, uerr := e.Unheard.EscalateUnheard(ctx, now, wall.Add(-e.heardWithin()))
		n += m
		err = errors.Join(err, beatErr, uerr)
	}
	if n > 0 && e.Changed != nil {
		e.Changed()
	}
	return n, err
}

// heardWithin is how old a replica's beat may be and still count: three looks, at least
// five seconds, so a slow tick does not make everybody look gone.
func (e *Escalator) heardWithin() time.Duration {
	every := e.Every
	if every <= 0 {
		every = time.Second
	}
	return max(3*every, 5*time.Second)
}

// UnheardStore records each replica's listeners and escalates the alerts whose tier has
// nobody listening (sqlstore.Store).
type UnheardStore interface {
	BeatStreams(ctx context.Context, replica string, users map[string]int, at time.Time) error
	EscalateUnheard(ctx context.Context, now, heardSince time.Time) (int, error)
}

// ListenerCounter says who has a live stream on this replica (Feed).
type ListenerCounter interface {
	Listeners() map[string]int
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
// a test with a ManualClock decides what is due and only waits for the next look. A store
// that does not answer is logged when it goes and when it is back (outage.Log), not at
// every look.
func every(ctx context.Context, period time.Duration, log *slog.Logger, name string, tick func(context.Context) (int, error)) error {
	if period <= 0 {
		period = time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	failures := &outage.Log{Logger: log, Loop: name}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			failures.Failed(err)
		case err == nil:
			failures.OK()
		}
		if n > 0 {
			log.Info("alerts changed", "loop", name, "alerts", n)
		}
	}
}
