// Package downlink tells each gateway what became of its alarms (docs/wire.md,
// "downlink"): received by the platform, acknowledged by staff, resolved. It reads the
// committed alert event log — never anything before the SQL store committed it — and
// publishes one message per change of an alert that holds the gateway's alarm events, on
// the gateway's downlink lane with QoS 1. Its cursor moves past an event only once the
// broker acknowledged the message, so a broker outage delays the news and loses none of it
// while the api runs.
package downlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/internal/outage"
)

// Store is what the notifier reads: the alert event log and the gateway event seqs of an
// alert (api/sqlstore implements it).
type Store interface {
	EventsAfter(ctx context.Context, after int64, limit int) ([]alerts.Event, error)
	LastEventID(ctx context.Context) (int64, error)
	AlertRaiseSeqs(ctx context.Context, alert int64, limit int) ([]uint64, error)
	Alert(ctx context.Context, id int64) (alerts.Alert, error) // for Retell
	// GatewayEventsSince: for RetellGateway, the latest event of each of the gateway's
	// alerts open or resolved since, that changed after since; newest first, at most limit.
	GatewayEventsSince(ctx context.Context, gw vagt.GatewayID, since time.Time, limit int) ([]alerts.Event, error)
	// GatewayChangesSince: the latest change of each gateway's alerts in the newest events
	// back to from (at most limit), and from when that is complete; RetellGateway's note
	// starts from it.
	GatewayChangesSince(ctx context.Context, from time.Time, limit int) (map[vagt.GatewayID]time.Time, time.Time, error)
}

// Publisher sends a payload with QoS 1, not retained, and returns once the broker
// acknowledged it.
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
}

// Options tune a Notifier.
type Options struct {
	Poll       time.Duration // look for events without a Wake this often; default 1 s
	Retry      time.Duration // after a failed publish or read; default 1 s
	Clock      api.Clock     // the time RetellGateway's note starts from; default the system clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
}

// Notifier publishes downlinks for committed alert events.
type Notifier struct {
	store Store
	pub   Publisher
	o     Options
	wake  chan struct{}
	start chan struct{}

	primed bool // Prime set the cursor
	cursor int64

	mu       sync.Mutex
	retell   map[int64]struct{}           // alerts to tell again (Retell)
	gateways map[vagt.GatewayID]time.Time // gateways back online, and since when to tell (RetellGateway)
	news     gatewayNews                  // when each gateway's alerts last changed (RetellGateway's fast path)

	gatewayFailures int // rounds of retellGateways failed in a row (Run's goroutine only)

	published, failed, retold prometheus.Counter
	gatewayRetells            *prometheus.CounterVec // by outcome: told, nothing, dropped
}

// New returns a notifier; Run starts it. Register Wake with the store's OnCommit.
func New(store Store, pub Publisher, o Options) *Notifier {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = api.SystemClock{}
	}
	n := &Notifier{store: store, pub: pub, o: o, wake: make(chan struct{}, 1), start: make(chan struct{}),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "vagt_api_downlink_published_total",
			Help: "Downlink messages (help received, acknowledged, on the way, arrived, resolved) the broker acknowledged."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "vagt_api_downlink_publish_failures_total",
			Help: "Downlink publishes that failed and are retried."}),
		retold: prometheus.NewCounter(prometheus.CounterOpts{Name: "vagt_api_downlink_retold_total",
			Help: "Downlink messages published again because a gateway redelivered an alarm the platform had, or came back online (its news may have been lost)."}),
		gatewayRetells: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vagt_api_downlink_gateway_retells_total",
			Help: "Gateways back online (an online status) checked for news they may have missed while away, by outcome: told (something published again), nothing (nothing open or recent), dropped (the queue of such checks was full)."},
			[]string{"outcome"}),
	}
	for _, o := range []string{"told", "nothing", "dropped"} {
		n.gatewayRetells.WithLabelValues(o)
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(n.published, n.failed, n.retold, n.gatewayRetells)
	}
	return n
}

// Wake makes Run look for new events now. It never blocks.
func (n *Notifier) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Started is closed once Run knows where the event log ends: events committed after it
// are told.
func (n *Notifier) Started() <-chan struct{} { return n.start }

// Prime sets where Run starts: the end of the event log now. Call it before anything can
// commit (the api does, before its alarm lane consumes what queued while it was down), so
// the alarms committed between then and Run are told too. Without it Run starts at the end
// of the log when it starts.
func (n *Notifier) Prime(ctx context.Context) error {
	from := n.o.Clock.Now()
	id, err := n.store.LastEventID(ctx)
	if err != nil {
		return fmt.Errorf("downlink: read last event id: %w", err)
	}
	n.cursor, n.primed = id, true
	n.noteFrom(ctx, from)
	return nil
}

// Run publishes until ctx is done. It starts where Prime left it, or at the end of the
// event log: what was committed before the api started is not told again.
func (n *Notifier) Run(ctx context.Context) error {
	last := n.cursor
	failures := &outage.Log{Logger: n.o.Logger, Loop: "downlink: read the event log"}
	for !n.primed {
		from := n.o.Clock.Now()
		id, err := n.store.LastEventID(ctx)
		if err == nil {
			failures.OK()
			last = id
			n.noteFrom(ctx, from)
			break
		}
		failures.Failed(err)
		if !sleep(ctx, n.o.Retry) {
			return nil
		}
	}
	close(n.start)
	t := time.NewTicker(n.o.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.wake:
		case <-t.C:
		}
		for ctx.Err() == nil {
			evs, err := n.store.EventsAfter(ctx, last, 500)
			if err != nil {
				failures.Failed(fmt.Errorf("events after %d: %w", last, err))
				break
			}
			failures.OK()
			for _, ev := range evs {
				if !n.tell(ctx, ev) {
					return nil
				}
				last = ev.ID
			}
			if len(evs) < 500 {
				break
			}
		}
		if !n.retellAll(ctx) || !n.retellGateways(ctx) {
			return nil
		}
	}
}

// tell publishes the downlink of one event, retrying until the broker takes it; false
// when ctx ended first. An event that says nothing to a gateway is passed over.
func (n *Notifier) tell(ctx context.Context, ev alerts.Event) bool {
	for failures := 0; ; failures++ {
		err := n.publish(ctx, ev)
		if err == nil {
			if failures > 0 {
				n.o.Logger.Info("downlink: published again", "event", ev.ID, "failures", failures)
			}
			return true
		}
		if errors.Is(err, errPermanent) {
			n.o.Logger.Error("downlink: event not told", "event", ev.ID, "err", err)
			return true
		}
		n.failed.Inc()
		if failures == 0 { // once per outage, not per attempt
			n.o.Logger.Warn("downlink: publish failed; retrying", "event", ev.ID, "err", err)
		}
		if !sleep(ctx, n.o.Retry) {
			return false
		}
	}
}

var errPermanent = errors.New("permanent")

// States told for an event's change; other changes (cleared, note, escalated, released,
// overdue) say nothing new to the home.
var states = map[string]vagt.HelpState{
	"raised":       vagt.HelpReceived,
	"repeated":     vagt.HelpReceived,
	"reraised":     vagt.HelpReceived, // a press opened an acknowledged alert again
	"acknowledged": vagt.HelpAcknowledged,
	"taken":        vagt.HelpAcknowledged,
	"enroute":      vagt.HelpOnTheWay,
	"arrived":      vagt.HelpArrived,
	"resolved":     vagt.HelpResolved,
}

func (n *Notifier) publish(ctx context.Context, ev alerts.Event) error {
	var d alerts.EventData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return fmt.Errorf("%w: event data: %v", errPermanent, err)
	}
	n.note(d.Alert.Gateway, ev.At)
	state, ok := states[d.Change]
	if !ok || d.Alert.ID <= 0 {
		return nil
	}
	if state == vagt.HelpReceived {
		// A press that joined an alert staff already acknowledged, or are on their way to:
		// the home hears how far help has come (presence.go).
		state, _ = helpNow(d.Alert)
	}
	seqs, err := n.store.AlertRaiseSeqs(ctx, d.Alert.ID, vagt.MaxDownlinkEvents)
	if err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil // an alert the platform raised itself (gateway offline): no press to answer
	}
	msg := vagt.Downlink{Gateway: d.Alert.Gateway, Events: seqs, State: state, Time: ev.At, Alert: uint64(d.Alert.ID)}
	data, err := vagt.EncodeDownlink(&msg)
	if err != nil {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	if err := n.pub.Publish(ctx, vagt.Topic(msg.Gateway, vagt.LaneDownlink), data); err != nil {
		return err
	}
	n.published.Inc()
	n.o.Logger.Debug("downlink", "gateway", msg.Gateway, "alert", msg.Alert, "state", state, "events", len(seqs))
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
