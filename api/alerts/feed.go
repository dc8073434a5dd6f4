package alerts

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/api"
)

// EventSource reads committed events in id order.
type EventSource interface {
	EventsAfter(ctx context.Context, after int64, limit int) ([]Event, error)
	LastEventID(ctx context.Context) (int64, error)
}

// Feed fans committed events out to live subscribers (the SSE streams of this replica).
// It reads the store, not the writers' memory, so an event committed by another replica
// arrives too once somebody calls Wake (PostgreSQL NOTIFY) or the poll comes round.
type Feed struct {
	src    EventSource
	log    *slog.Logger
	buffer int
	poll   time.Duration
	wake   chan struct{}
	start  chan struct{} // closed once Run knows where the log ends

	mu   sync.Mutex
	subs map[*Subscription]struct{}
	lane *LaneState // nil until SetLane: nothing to say

	delivered, dropped prometheus.Counter
	clients            prometheus.Gauge
	byDistrict         *prometheus.GaugeVec // streams covering each district (coverage)
}

// FeedOptions tune a Feed.
type FeedOptions struct {
	// Buffer is how many events a subscriber may lag behind before it is dropped; default
	// DefaultBuffer. A dropped client reconnects with Last-Event-ID and reads what it missed
	// from the store, so the buffer only needs to cover a burst between two writes.
	Buffer     int
	Poll       time.Duration // look for events without a Wake this often; default 1 s
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
}

// NewFeed returns a feed over src; start it with Run.
func NewFeed(src EventSource, o FeedOptions) *Feed {
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Feed{
		src: src, log: o.Logger, buffer: o.Buffer, poll: o.Poll,
		wake:  make(chan struct{}, 1),
		start: make(chan struct{}),
		subs:  map[*Subscription]struct{}{},
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "vagt_api_stream_events_total",
			Help: "Events sent to live stream subscribers."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "vagt_api_stream_dropped_total",
			Help: "Live stream subscribers dropped because they fell behind."}),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vagt_api_stream_clients",
			Help: "Live stream subscribers connected."}),
		byDistrict: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vagt_api_streams_by_district",
			Help: `Live streams by the districts their scope covers (district "all": the whole municipality; municipality "all": every one).`},
			[]string{"municipality", "district"}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(f.delivered, f.dropped, f.clients, f.byDistrict)
	}
	return f
}

// DefaultBuffer is a subscriber's buffer: the events of a burst of alarms (a whole
// district's at once) while its socket takes one write. It was 1024 events, most of the
// ≈ 88 KiB a stream cost (issue 22); BenchmarkStreamMemory measures what one costs now.
const DefaultBuffer = 64

// EventLane is the kind of the stream event that says whether alarms can arrive (LaneState).
// It has no id: it is this replica's state, not a change in the event log.
const EventLane EventKind = "lane"

// LaneState says whether this replica's alarm lane is subscribed, so that a console never
// says "live" while alarms cannot arrive.
type LaneState struct {
	Subscribed bool      `json:"subscribed"`
	Reason     string    `json:"reason,omitempty"` // why not: broker, subscribe, store, connecting, not_configured
	Since      time.Time `json:"since"`
}

// SetLane records the lane's state and, when it changed, tells every subscriber at once,
// whatever their scope.
func (f *Feed) SetLane(st LaneState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lane != nil && f.lane.Subscribed == st.Subscribed && f.lane.Reason == st.Reason {
		return
	}
	f.lane = &st
	ev := st.Event()
	for s := range f.subs {
		f.send(s, ev)
	}
}

// Lane returns the lane's state, false when nobody set one.
func (f *Feed) Lane() (LaneState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lane == nil {
		return LaneState{}, false
	}
	return *f.lane, true
}

// Event is the stream event that carries st.
func (st LaneState) Event() Event {
	b, _ := json.Marshal(st) // cannot fail
	return Event{Kind: EventLane, At: st.Since, Data: b}
}

// Wake makes Run look for new events now. It never blocks.
func (f *Feed) Wake() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Subscription receives the events its scope allows. C is closed when the subscriber was
// dropped for falling behind or the feed stopped.
type Subscription struct {
	C     <-chan Event
	c     chan Event
	scope api.Scope
	feed  *Feed
	once  sync.Once
	// watching: the subscriber receives the events but cannot act on them (a manager),
	// so it does not count among Listeners.
	watching bool
}

// Started is closed once Run has read where the event log ends. A subscriber that came
// earlier could miss the events committed before that read; the stream waits for it.
func (f *Feed) Started() <-chan struct{} { return f.start }

// Subscribe registers a subscriber for every event delivered from now on.
func (f *Feed) Subscribe(scope api.Scope) *Subscription { return f.subscribe(scope, false) }

// SubscribeWatching is Subscribe for somebody who may watch alerts but not acknowledge or
// take them (a manager): their stream is not somebody on a tier listening (Listeners).
func (f *Feed) SubscribeWatching(scope api.Scope) *Subscription { return f.subscribe(scope, true) }

func (f *Feed) subscribe(scope api.Scope, watching bool) *Subscription {
	c := make(chan Event, f.buffer)
	s := &Subscription{C: c, c: c, scope: scope, feed: f, watching: watching}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	f.clients.Inc()
	f.cover(scope, 1)
	return s
}

// cover counts a stream under each district its scope covers, so an operator sees a district
// with alerts and nobody listening (deploy/prometheus, VagtDistrictWithoutStaff).
func (f *Feed) cover(scope api.Scope, delta float64) {
	mun := strconv.Itoa(int(scope.Municipality))
	switch {
	case scope.All:
		f.byDistrict.WithLabelValues("all", "all").Add(delta)
	case len(scope.Districts) == 0:
		f.byDistrict.WithLabelValues(mun, "all").Add(delta)
	default:
		for _, d := range scope.Districts {
			f.byDistrict.WithLabelValues(mun, strconv.FormatInt(d, 10)).Add(delta)
		}
	}
}

// Listeners counts this replica's live streams by user name (Scope.User): who would hear an
// alert now and can act on it (not SubscribeWatching's). The escalator beats it into the
// store each tick (ListenerStore).
func (f *Feed) Listeners() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.subs))
	for s := range f.subs {
		if s.scope.User != "" && !s.watching {
			out[s.scope.User]++
		}
	}
	return out
}

// Close unsubscribes.
func (s *Subscription) Close() {
	s.feed.mu.Lock()
	s.closeLocked()
	s.feed.mu.Unlock()
}

func (s *Subscription) closeLocked() {
	s.once.Do(func() {
		delete(s.feed.subs, s)
		close(s.c)
		s.feed.clients.Dec()
		s.feed.cover(s.scope, -1)
	})
}

// Run delivers events until ctx is done, then closes every subscription.
func (f *Feed) Run(ctx context.Context) error {
	defer func() {
		f.mu.Lock()
		for s := range f.subs {
			s.closeLocked()
		}
		f.mu.Unlock()
	}()
	var last int64
	for {
		id, err := f.src.LastEventID(ctx)
		if err == nil {
			last = id
			close(f.start)
			break
		}
		f.log.Warn("feed: read last event id", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.poll):
		}
	}
	t := time.NewTicker(f.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.wake:
		case <-t.C:
		}
		for {
			evs, err := f.src.EventsAfter(ctx, last, 500)
			if err != nil {
				if ctx.Err() == nil {
					f.log.Warn("feed: read events", "after", last, "err", err)
				}
				break
			}
			for _, ev := range evs {
				f.broadcast(ev)
				last = ev.ID
			}
			if len(evs) < 500 {
				break
			}
		}
	}
}

// broadcast never blocks: a subscriber whose buffer is full is dropped, so one stuck
// client cannot delay the others.
func (f *Feed) broadcast(ev Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		if !s.scope.Reaches(ev.Municipality, ev.District, ev.Audience) {
			continue
		}
		f.send(s, ev)
	}
}

// send hands ev to s, or drops s when its buffer is full. f.mu is held.
func (f *Feed) send(s *Subscription, ev Event) {
	select {
	case s.c <- ev:
		f.delivered.Inc()
	default:
		f.dropped.Inc()
		f.log.Warn("feed: dropping a subscriber that fell behind", "event", ev.ID)
		s.closeLocked()
	}
}
