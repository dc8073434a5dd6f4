// Package alarmlane consumes the alarm and status lanes of every gateway from the platform
// broker (paho, MQTT 3.1.1, a persistent session with a direct subscription by default, or
// one in a shared subscription group such as vagt-alerts) and hands each event to the
// alert store. A message is acknowledged only after the store committed what it means,
// and acknowledgements leave in arrival order, as MQTT wants them: paho does not keep that
// order itself, so a sequencer (internal/inorder, shared with ingest) does. When the
// store is down nothing is acknowledged; what is pending is retried, and the broker
// redelivers whatever a stopped consumer never acknowledged.
package alarmlane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/internal/backoff"
	"github.com/vagt-dk/vagt/internal/inorder"
	"github.com/vagt-dk/vagt/internal/mqttsub"
)

// Group is the shared subscription group for API replicas that split the lane (opt-in,
// for brokers that keep shared subscriptions across restarts).
const Group = "vagt-alerts"

// Sink commits alarm events and statuses. An error means "not committed": the message
// stays unacknowledged and is retried. A committed alarm may come back with a flag, a
// reason it is worth counting and logging (FlagSeqReused).
type Sink interface {
	Alarm(ctx context.Context, a *vagt.Alarm) (flag string, err error)
	Status(ctx context.Context, s *vagt.Status) error
}

// FlagSeqReused: the gateway sent different content under a seq it had used before (a
// wiped spool, a clock reset); the store took it as an alarm of its own.
const FlagSeqReused = "seq_reused"

// Reasons the lane is not subscribed (State).
const (
	DownConnecting = "connecting"        // not connected to the broker yet
	DownBroker     = "broker"            // the connection to the broker was lost
	DownSubscribe  = "subscribe"         // the broker did not answer the subscription (or the attempt failed)
	DownRefused    = "subscribe_refused" // the broker refused the subscription (SUBACK 0x80: its ACL, a consumer limit)
	DownStore      = "store"             // the store does not take what arrives
	DownStopped    = "stopped"
)

// Options configure a Lane.
type Options struct {
	Broker             string // tcp://host:1883 or ssl://...
	ClientID           string // stable per replica: the broker keeps its session
	Username, Password string
	TLS                *tls.Config // for ssl:// brokers: CA and client certificate; nil: system roots
	// Group is a shared subscription group (e.g. Group), or "-" (vagt.NoGroup, the
	// default): subscribe directly. Then every replica takes every alarm and the store's
	// idempotency makes the copies no-ops — no alarm waits in the queue of a replica that
	// is down, and the persistent session keeps the subscription across a broker restart,
	// which Mosquitto 2.0.11 does not do for $share ones (see docs/alerts.md).
	Group      string
	Workers    int // parallel committers, default 4; one gateway always uses one
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
	// RetryMin and RetryMax bound the backoff between attempts to commit; default 50 ms, 5 s.
	RetryMin, RetryMax time.Duration
	// LogEvery is how often one kind of rejection or flag is logged (the counters count
	// each); default 1 min. Now is the clock for it; default time.Now.
	LogEvery time.Duration
	Now      func() time.Time
	// MaxHeldBytes bounds the status payloads the lane holds before they are committed;
	// default DefaultMaxHeldBytes. A status past it is refused as it arrives (counted,
	// reason over_budget; the gateway sends another with its next heartbeat). Alarms are
	// never refused for it: at most the broker's in-flight window of MaxAlarmBytes each.
	MaxHeldBytes int64
	// SubscribeRetryMax bounds the back-off between attempts to subscribe while the broker
	// refuses or does not answer (the connection stays up); default 30 s.
	SubscribeRetryMax time.Duration
	// OnChange is called (from paho's or a worker's goroutine; it must not block) when
	// State may have changed.
	OnChange func()
}

// DefaultMaxHeldBytes is the default MaxHeldBytes.
const DefaultMaxHeldBytes = 16 << 20

// Lane is the consumer.
type Lane struct {
	sink Sink
	o    Options
	log  *slog.Logger

	seq     *inorder.Sequencer[mqtt.Message] // acknowledges in arrival order
	queues  []*queue
	arrived atomic.Int64
	up      atomic.Bool
	down    atomic.Value // string: why not up
	storeOK atomic.Bool  // the last commit attempt succeeded (or none failed yet)
	held    atomic.Int64 // payload bytes queued or being committed
	bursts  *burstLog

	received, committed *prometheus.CounterVec
	rejected, flagged   *prometheus.CounterVec
	storeErrors         prometheus.Counter
	subscribeFailures   *prometheus.CounterVec
}

// Reasons of vagt_api_lane_subscribe_failures_total.
const (
	subscribeRefused  = "refused"   // SUBACK 0x80
	subscribeNoAnswer = "no_answer" // no SUBACK in time
	subscribeError    = "error"     // the attempt failed (the connection went)
)

// New returns a lane that commits to sink; Run starts it.
func New(sink Sink, o Options) (*Lane, error) {
	if o.Broker == "" || o.ClientID == "" {
		return nil, errors.New("alarmlane: broker and client id are required")
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Group == "" {
		o.Group = vagt.NoGroup // see vagt.LaneSubscription: a shared group does not survive a Mosquitto restart
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 50 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LogEvery <= 0 {
		o.LogEvery = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxHeldBytes <= 0 {
		o.MaxHeldBytes = DefaultMaxHeldBytes
	}
	if o.SubscribeRetryMax <= 0 {
		o.SubscribeRetryMax = 30 * time.Second
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	l := &Lane{sink: sink, o: o, log: o.Logger.With("component", "alarmlane"),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vagt_api_lane_received_total",
			Help: "Messages received on the alarm and status lanes."}, []string{"lane"}),
		committed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vagt_api_lane_committed_total",
			Help: "Messages committed to the store and acknowledged."}, []string{"lane"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vagt_api_lane_rejected_total",
			Help: "Messages rejected as invalid (acknowledged, not stored), by reason."}, []string{"lane", "reason"}),
		flagged: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vagt_api_lane_flagged_total",
			Help: "Messages committed that are worth a look, by reason (seq_reused: different content under a seq seen before, taken as its own alert)."}, []string{"lane", "reason"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "vagt_api_lane_store_errors_total",
			Help: "Failed attempts to commit a message (it is retried, not acknowledged)."}),
	}
	l.subscribeFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vagt_api_lane_subscribe_failures_total",
		Help: "Attempts to subscribe to the alarm and status lanes that failed, by reason (refused: SUBACK 0x80, the broker's ACL or a limit; no_answer; error)."}, []string{"reason"})
	l.bursts = newBurstLog(l.log, o.Now, o.LogEvery)
	l.down.Store(DownConnecting)
	l.storeOK.Store(true)
	l.seq = inorder.New(1, mqtt.Message.Ack) // arrivals are numbered from 1
	for range o.Workers {
		l.queues = append(l.queues, newQueue())
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(l.received, l.committed, l.rejected, l.flagged, l.storeErrors, l.subscribeFailures,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vagt_api_lane_held_bytes",
				Help: "Payload bytes the lane holds, queued or being committed."}, func() float64 { return float64(l.held.Load()) }))
	}
	return l, nil
}

// Connected reports whether the lane is connected and subscribed (readiness).
func (l *Lane) Connected() bool { return l.up.Load() }

// State reports whether alarms can become alerts through this lane: connected, subscribed
// and the store taking what arrives; else why not (DownBroker, ...). The store's state is
// known from the last commit: a caller that wants to know it without traffic pings it.
func (l *Lane) State() (subscribed bool, reason string) {
	if !l.up.Load() {
		return false, l.down.Load().(string)
	}
	if !l.storeOK.Load() {
		return false, DownStore
	}
	return true, ""
}

func (l *Lane) setUp(up bool, reason string) {
	if !up {
		l.down.Store(reason)
	}
	l.up.Store(up)
	l.o.OnChange()
}

func (l *Lane) setStoreOK(ok bool) {
	if l.storeOK.Swap(ok) != ok {
		l.o.OnChange()
	}
}

// Flagged returns how many committed messages were flagged for reason on lane.
func (l *Lane) Flagged(lane vagt.Lane, reason string) float64 {
	return counterValue(l.flagged.WithLabelValues(string(lane), reason))
}

// Rejected returns how many messages were rejected for reason on lane (tests, metrics).
func (l *Lane) Rejected(lane vagt.Lane, reason string) float64 {
	return counterValue(l.rejected.WithLabelValues(string(lane), reason))
}

// StoreErrors returns how many attempts to commit failed.
func (l *Lane) StoreErrors() float64 { return counterValue(l.storeErrors) }

// Run consumes until ctx is done, then disconnects without acknowledging what it has not
// committed.
func (l *Lane) Run(ctx context.Context) error {
	opts := mqtt.NewClientOptions().AddBroker(l.o.Broker).SetClientID(l.o.ClientID).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(10 * time.Second).
		SetKeepAlive(30 * time.Second).SetAutoAckDisabled(true).SetOrderMatters(true).
		SetDefaultPublishHandler(l.arrive) // messages of the stored session arrive before we subscribe
	if l.o.TLS != nil {
		opts.SetTLSConfig(l.o.TLS)
	}
	if l.o.Username != "" {
		opts.SetUsername(l.o.Username).SetPassword(l.o.Password)
	}
	filters := map[string]byte{
		vagt.LaneSubscription(l.o.Group, vagt.LaneAlarm):  1,
		vagt.LaneSubscription(l.o.Group, vagt.LaneStatus): 1,
	}
	// Each connection gets a number; a subscription loop of a connection that is gone (or
	// of a lane that stopped) changes no state.
	var conn atomic.Uint64
	retry := backoff.New(time.Second, l.o.SubscribeRetryMax, l.o.ClientID)
	opts.SetOnConnectHandler(func(c mqtt.Client) { // paho calls this in its own goroutine
		mine := conn.Add(1)
		live := func() bool { return conn.Load() == mine && ctx.Err() == nil && c.IsConnectionOpen() }
		failures := 0
		ok := mqttsub.Until(ctx.Done(), live, retry, func() error {
			return mqttsub.Check(c.SubscribeMultiple(filters, l.arrive), 30*time.Second)
		}, func(err error) {
			failures++
			l.subscribeFailed(err, failures, live)
		})
		if ok && live() {
			l.setUp(true, "")
			if failures > 0 {
				l.log.Info("subscribed after the broker refused or did not answer", "failed_attempts", failures, "filters", len(filters))
			} else {
				l.log.Info("subscribed", "filters", len(filters))
			}
		}
	})
	// Before each reconnect attempt, on paho's reconnect goroutine, so always before the
	// next connection's handler: the lost connection's retries stop and the lane is down.
	// The connection-lost handler runs on a goroutine of its own that may run after the
	// reconnect subscribed: it only logs.
	opts.SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
		conn.Add(1)
		l.setUp(false, DownBroker)
	})
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		l.log.Warn("connection lost", "err", err)
	})
	client := mqtt.NewClient(opts)
	client.Connect() // with ConnectRetry it keeps trying in the background

	var wg sync.WaitGroup
	for _, q := range l.queues {
		wg.Go(func() { l.work(ctx, q) })
	}
	<-ctx.Done()
	conn.Add(1)
	for _, q := range l.queues {
		q.close()
	}
	wg.Wait()
	l.setUp(false, DownStopped)
	client.Disconnect(250)
	return nil
}

// subscribeFailed counts a failed attempt to subscribe and says why the lane is down. The
// first failure of a burst is logged as an error naming the filters refused (the broker's
// ACL or a limit: an operator must act), the next ones once per LogEvery.
func (l *Lane) subscribeFailed(err error, attempt int, live func() bool) {
	reason, down := subscribeError, DownSubscribe
	switch {
	case errors.Is(err, mqttsub.ErrRefused):
		reason, down = subscribeRefused, DownRefused
	case errors.Is(err, mqttsub.ErrNoAnswer):
		reason = subscribeNoAnswer
	}
	l.subscribeFailures.WithLabelValues(reason).Inc()
	if live() {
		l.setUp(false, down)
	}
	l.bursts.error("subscribe/"+reason, "subscription refused or unanswered: no alarm reaches this replica; asking again while connected (logged once per burst)",
		"topics", mqttsub.Refused(err), "reason", reason, "attempt", attempt, "err", err)
}

// item is a message with its arrival number.
type item struct {
	n   uint64
	msg mqtt.Message
}

// arrive runs on paho's router: it must not block, so it only numbers the message and
// queues it for the worker of its gateway (which keeps one gateway's events in order).
func (l *Lane) arrive(_ mqtt.Client, m mqtt.Message) {
	n := uint64(l.arrived.Add(1))
	// Refuse early what no lane message can be: the queues then hold at most the broker's
	// in-flight window of messages of at most MaxStatusBytes each (docs/alerts.md).
	_, lane, _ := vagt.ParseTopic(m.Topic())
	if lane != vagt.LaneAlarm && lane != vagt.LaneStatus {
		lane = "unknown"
	}
	size := int64(len(m.Payload()))
	if max := maxBytes(m.Topic()); size > int64(max) {
		l.reject(lane, m, fmt.Errorf("%w: %d bytes, at most %d", vagt.ErrTooLarge, size, max))
		l.seq.Done(n, m)
		return
	}
	if lane != vagt.LaneAlarm && l.held.Load()+size > l.o.MaxHeldBytes {
		l.rejectReason(lane, m, "over_budget", fmt.Errorf("the lane holds %d bytes, at most %d", l.held.Load(), l.o.MaxHeldBytes))
		l.seq.Done(n, m)
		return
	}
	l.held.Add(size)
	gw := m.Topic()
	if id, _, err := vagt.ParseTopic(gw); err == nil {
		gw = string(id)
	}
	h := fnv.New32a()
	h.Write([]byte(gw))
	l.queues[int(h.Sum32())%len(l.queues)].push(item{n, m})
}

func (l *Lane) work(ctx context.Context, q *queue) {
	for {
		it, ok := q.pop()
		if !ok {
			return
		}
		done := l.handle(ctx, it.msg)
		l.held.Add(-int64(len(it.msg.Payload())))
		if done {
			l.seq.Done(it.n, it.msg)
		}
	}
}

// handle commits one message and reports whether it may be acknowledged: true when it was
// committed or rejected as invalid, false when ctx ended first.
func (l *Lane) handle(ctx context.Context, m mqtt.Message) bool {
	gw, lane, err := vagt.ParseTopic(m.Topic())
	if err != nil || (lane != vagt.LaneAlarm && lane != vagt.LaneStatus) {
		if err == nil {
			err = fmt.Errorf("%w: lane %s is not consumed here", vagt.ErrInvalidID, lane)
		}
		l.reject("unknown", m, err)
		return true
	}
	l.received.WithLabelValues(string(lane)).Inc()
	var commit func() error
	switch lane {
	case vagt.LaneAlarm:
		a, err := vagt.DecodeAlarm(m.Payload())
		if err == nil {
			err = vagt.CheckGateway(gw, a.Gateway)
		}
		if err != nil {
			l.reject(lane, m, err)
			return true
		}
		commit = func() error {
			flag, err := l.sink.Alarm(ctx, &a)
			if err == nil && flag != "" {
				l.flagged.WithLabelValues(string(lane), flag).Inc()
				l.bursts.warn("flagged/"+string(lane)+"/"+flag, "alarm taken as its own: different content under a seq seen before (logged once per burst)",
					"gateway", string(a.Gateway), "seq", a.Seq, "device", string(a.Device), "type", a.Type.String(), "reason", flag)
			}
			return err
		}
	case vagt.LaneStatus:
		s, err := vagt.DecodeStatus(m.Payload())
		if err == nil {
			err = vagt.CheckGateway(gw, s.Gateway)
		}
		if err != nil {
			l.reject(lane, m, err)
			return true
		}
		commit = func() error { return l.sink.Status(ctx, &s) }
	}
	wait := l.o.RetryMin
	for {
		err := commit()
		if err == nil {
			l.setStoreOK(true)
			l.committed.WithLabelValues(string(lane)).Inc()
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		l.setStoreOK(false)
		l.storeErrors.Inc()
		l.bursts.warn("commit-failed", "commit failed; not acknowledged, retrying (logged once per burst)", "topic", m.Topic(), "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, l.o.RetryMax)
	}
}

// maxBytes is the largest payload a lane message on topic may have.
func maxBytes(topic string) int {
	if _, lane, err := vagt.ParseTopic(topic); err == nil && lane == vagt.LaneAlarm {
		return vagt.MaxAlarmBytes
	}
	return vagt.MaxStatusBytes
}

// reject counts every rejection and logs one line per lane and reason per burst.
func (l *Lane) reject(lane vagt.Lane, m mqtt.Message, err error) {
	l.rejectReason(lane, m, vagt.Reason(err), err)
}

func (l *Lane) rejectReason(lane vagt.Lane, m mqtt.Message, reason string, err error) {
	l.rejected.WithLabelValues(string(lane), reason).Inc()
	l.bursts.warn("rejected/"+string(lane)+"/"+reason, "message rejected (logged once per burst)",
		"lane", string(lane), "topic", m.Topic(), "reason", reason, "bytes", len(m.Payload()), "err", err)
}
