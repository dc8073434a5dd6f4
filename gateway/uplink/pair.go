package uplink

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/spool"
)

// PairOptions say how a Pair splits the work between its two links. Zero durations take
// the defaults named.
type PairOptions struct {
	// AlarmHedge is how long an alarm may wait for the primary's PUBACK (while the primary
	// looks up) before the secondary sends it too; default 3s. A dead link is often seen
	// only after the keep-alive, so an alarm does not wait for that.
	AlarmHedge time.Duration
	// TelemetryFailoverAfter is how long the primary must have been down before telemetry
	// goes out on the secondary; 0 means at once. Telemetry goes back to the primary as
	// soon as it is up again.
	TelemetryFailoverAfter time.Duration
}

// Pair is a gateway's two ways out to the platform: a primary and a secondary broker (a
// second mobile operator, a second data centre), each an Uplink with its own session,
// status and will, sending from one spool. Alarms go out on whichever link is up — the
// primary always tries, the secondary when the primary is down or has not had a PUBACK for
// the alarm within AlarmHedge. Telemetry goes on the primary, and on the secondary only
// while the primary has been down for TelemetryFailoverAfter. An item acknowledged by
// either broker leaves the spool and is sent on neither link again; an item in flight on
// one link may also go out on the other (consumers fold duplicates by gateway and seq).
type Pair struct {
	links     [2]*Uplink
	shared    *shared
	configs   chan []byte
	downlinks chan []byte // both links' downlink messages, every one (downlink.go)
}

// Link roles in a Pair.
const (
	primary   = 0
	secondary = 1
)

// NewPair builds the two links over one spool; Run connects them.
func NewPair(first, second Options, q Queue, status StatusFunc, po PairOptions) (*Pair, error) {
	if po.AlarmHedge <= 0 {
		po.AlarmHedge = 3 * time.Second
	}
	if po.TelemetryFailoverAfter < 0 {
		return nil, errors.New("uplink: telemetry failover time is negative")
	}
	if first.Broker == second.Broker {
		return nil, errors.New("uplink: the secondary broker is the primary's")
	}
	s := &shared{q: q, po: po, now: time.Now, claims: map[itemKey]*claim{}, acks: map[itemKey]bool{}}
	start := s.now()
	p := &Pair{shared: s, configs: make(chan []byte, 1), downlinks: make(chan []byte, downlinkBuffer)}
	for role, o := range []Options{first, second} {
		v := &view{s: s, role: role, ready: make(chan struct{}, 1)}
		s.views[role] = v
		s.downSince[role] = start // not yet connected counts as down since the start
		u, err := New(o, v, status)
		if err != nil {
			return nil, err
		}
		p.links[role] = u
		s.links[role] = u
	}
	return p, nil
}

// Primary and Secondary return the two links (for their state on the status page).
func (p *Pair) Primary() *Uplink   { return p.links[primary] }
func (p *Pair) Secondary() *Uplink { return p.links[secondary] }

// Connected reports whether either link is up.
func (p *Pair) Connected() bool {
	return p.links[primary].Connected() || p.links[secondary].Connected()
}

// Sent returns how many items the brokers acknowledged since start, over both links.
func (p *Pair) Sent() uint64 { return p.links[primary].Sent() + p.links[secondary].Sent() }

// DownlinksDropped is how many downlink messages either link dropped, nobody taking them.
func (p *Pair) DownlinksDropped() uint64 {
	return p.links[primary].DownlinksDropped() + p.links[secondary].DownlinksDropped()
}

// Subscriptions is both links' SubscribeState together: subscribed while a link that is
// up has both lanes granted; the lanes either link's broker refused; the failures of both.
func (p *Pair) Subscriptions() SubscribeState {
	var s SubscribeState
	var errs []string
	for _, u := range p.links {
		l := u.Subscriptions()
		s.Subscribed = s.Subscribed || (l.Subscribed && u.Connected())
		s.Failures += l.Failures
		for _, r := range l.Refused {
			if !slices.Contains(s.Refused, r) {
				s.Refused = append(s.Refused, r)
			}
		}
		if l.Error != "" {
			errs = append(errs, u.opts.Broker+": "+l.Error)
		}
	}
	slices.Sort(s.Refused)
	s.Error = strings.Join(errs, "; ")
	return s
}

// Configs delivers home configurations from the config lane of either link. Both brokers
// may carry the same version: the receiver ignores a version it runs (configs are
// idempotent by version).
func (p *Pair) Configs() <-chan []byte { return p.configs }

// Downlinks delivers the downlink messages of both links, every one, each link's in its
// order (not latest-wins as Configs: each message names its own events). Both brokers may
// carry the same message (the api publishes where it is heard, a bridge copies it); the
// receiver applies them idempotently per event and state, so the second copy is a repeat.
func (p *Pair) Downlinks() <-chan []byte { return p.downlinks }

// Run runs both links until ctx is done; each says offline on its broker and disconnects.
func (p *Pair) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, u := range p.links {
		wg.Go(func() { u.Run(ctx) })
	}
	// The spool signals one waiter; both links must hear of a new item at once.
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-p.shared.q.Ready():
				p.shared.wakeAll()
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-p.links[primary].Configs():
				p.handOver(c)
			case c := <-p.links[secondary].Configs():
				p.handOver(c)
			}
		}
	})
	wg.Go(func() { p.forwardDownlinks(ctx) })
	wg.Wait()
	return nil
}

// forwardDownlinks hands on both links' downlink messages. It waits for the receiver
// rather than drop one; meanwhile each link's own buffer holds what arrives (and drops
// only after that, as a single link does).
func (p *Pair) forwardDownlinks(ctx context.Context) {
	for {
		var d []byte
		select {
		case <-ctx.Done():
			return
		case d = <-p.links[primary].Downlinks():
		case d = <-p.links[secondary].Downlinks():
		}
		select {
		case p.downlinks <- d:
		case <-ctx.Done():
			return
		}
	}
}

// handOver passes a config on without blocking: the newest wins over one not yet taken,
// unless it is an older version than that one (the two brokers need not agree in time).
func (p *Pair) handOver(c []byte) {
	for {
		select {
		case p.configs <- c:
			return
		default:
		}
		select {
		case old := <-p.configs:
			if configVersion(old) > configVersion(c) {
				c = old
			}
		default:
		}
	}
}

func configVersion(data []byte) uint64 {
	c, err := vagt.DecodeConfig(data)
	if err != nil {
		return 0 // the receiver reports it; any valid config beats it
	}
	return c.Version
}

// shared is the spool as the two links see it: it decides which link sends what now.
type shared struct {
	q     Queue
	po    PairOptions
	now   func() time.Time
	views [2]*view
	links [2]*Uplink

	mu        sync.Mutex
	up        [2]bool
	downSince [2]time.Time
	claims    map[itemKey]*claim
	batch     [2]bool // a batch in flight on that link: its next alarm waits for the PUBACK
	// suspect: the secondary delivered an alarm the primary was sending and had no PUBACK
	// for — the primary's link may be dead without knowing it yet. Until the primary has a
	// PUBACK again (or reconnects), the secondary sends alarms without the hedge wait.
	suspect  bool
	acks     map[itemKey]bool // acknowledged on either link, kept a while (ackOrder bounds it)
	ackOrder []itemKey
}

// claim is what the links know of an item at the head of the spool.
type claim struct {
	seen time.Time // first handed to either link's check: the hedge counts from here
	by   [2]bool   // in flight on that link
}

const keepAcks = 4096

func (s *shared) wakeAll() {
	for _, v := range s.views {
		v.wake()
	}
}

// view is one link's Queue.
type view struct {
	s     *shared
	role  int
	ready chan struct{}

	timerMu sync.Mutex
	timer   *time.Timer // one pending wake-up, the earliest asked for
	due     time.Time
}

var _ Queue = (*view)(nil)

func (v *view) wake() {
	select {
	case v.ready <- struct{}{}:
	default:
	}
}

// wakeAfter wakes the link after d, when a decision may change by itself (the hedge or the
// failover time passes). One timer per view: a link declining the same item on every
// spool signal must not pile up timers.
func (v *view) wakeAfter(d time.Duration) {
	due := time.Now().Add(d)
	v.timerMu.Lock()
	defer v.timerMu.Unlock()
	if v.timer != nil && !v.due.Before(time.Now()) && !v.due.After(due) {
		return // an earlier wake-up is pending; the link decides again then
	}
	if v.timer != nil {
		v.timer.Stop()
	}
	v.due = due
	v.timer = time.AfterFunc(d, v.wake)
}

func (v *view) Ready() <-chan struct{} { return v.ready }

// Next returns the spool's next item if this link is to send it now; ok is false when it
// is not (the link is woken when that may change).
func (v *view) Next() (spool.Item, bool, error) {
	s := v.s
	it, ok, err := s.q.Next()
	if err != nil || !ok {
		return it, ok, err
	}
	k, other, now := keyOf(it), 1-v.role, s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acks[k] {
		return spool.Item{}, false, nil // acknowledged on the other link a moment ago
	}
	c := s.claims[k]
	if c == nil {
		c = &claim{seen: now}
		s.claims[k] = c
	}
	take, wait := false, time.Duration(0)
	switch {
	case it.Lane == vagt.LaneAlarm && v.role == primary:
		take = true
	case it.Lane == vagt.LaneAlarm:
		// The primary busy with a batch: the alarm must not wait behind it.
		age := now.Sub(c.seen)
		take = !s.up[primary] || s.batch[primary] || s.suspect || age >= s.po.AlarmHedge
		wait = s.po.AlarmHedge - age
	case c.by[other]:
		// A batch in flight on the other link: its ack or release wakes us.
	case v.role == primary:
		take = s.up[primary]
	default:
		down := now.Sub(s.downSince[primary])
		take = !s.up[primary] && down >= s.po.TelemetryFailoverAfter
		if !s.up[primary] {
			wait = s.po.TelemetryFailoverAfter - down
		}
	}
	if take {
		c.by[v.role] = true
		if it.Lane == vagt.LaneTelemetry {
			s.batch[v.role] = true
		}
		return it, true, nil
	}
	if it.Lane == vagt.LaneTelemetry && !c.by[other] {
		s.q.Release(it) // nobody sends it now: a full spool may drop it
		delete(s.claims, k)
	}
	if wait > 0 {
		v.wakeAfter(wait)
	}
	return spool.Item{}, false, nil
}

// Ack records the item as delivered before deleting it, so that the other link, which may
// be looking at it, does not send it.
func (v *view) Ack(it spool.Item) error {
	s, k := v.s, keyOf(it)
	s.mu.Lock()
	if !s.acks[k] {
		s.acks[k] = true
		s.ackOrder = append(s.ackOrder, k)
		if len(s.ackOrder) > keepAcks {
			delete(s.acks, s.ackOrder[0])
			s.ackOrder = s.ackOrder[1:]
		}
	}
	if c := s.claims[k]; v.role == secondary && c != nil && c.by[primary] {
		s.suspect = true
	} else if v.role == primary {
		s.suspect = false
	}
	delete(s.claims, k)
	if it.Lane == vagt.LaneTelemetry {
		s.batch[v.role] = false
	}
	s.mu.Unlock()
	err := s.q.Ack(it)
	if err != nil {
		// Still in the spool: it is sent and acknowledged again (an exact redelivery)
		// rather than skipped by both links for ever.
		s.mu.Lock()
		delete(s.acks, k)
		s.mu.Unlock()
	}
	s.views[1-v.role].wake()
	return err
}

// Release gives up this link's claim; the spool forgets the item is being sent only when
// neither link sends it.
func (v *view) Release(it spool.Item) {
	s, k := v.s, keyOf(it)
	s.mu.Lock()
	if it.Lane == vagt.LaneTelemetry {
		s.batch[v.role] = false
	}
	if c := s.claims[k]; c != nil {
		c.by[v.role] = false
		if !c.by[1-v.role] {
			s.q.Release(it)
			if it.Lane == vagt.LaneTelemetry {
				delete(s.claims, k)
			}
		}
	} else {
		s.q.Release(it)
	}
	s.mu.Unlock()
	s.views[1-v.role].wake()
}

// linkChanged is told by this view's Uplink when its connection comes up or goes down.
func (v *view) linkChanged(up bool) {
	s := v.s
	s.mu.Lock()
	was := s.up[v.role]
	s.up[v.role] = up
	if v.role == primary {
		s.suspect = false
	}
	if !up && was {
		s.downSince[v.role] = s.now()
	}
	s.mu.Unlock()
	s.wakeAll()
	if v.role == primary && !up {
		// Telemetry may move to the secondary once the primary has been down long enough.
		s.views[secondary].wakeAfter(s.po.TelemetryFailoverAfter)
	}
	if up || !was {
		return
	}
	// This link fell and its broker will fire its will (offline) within 1.5 × keep-alive.
	// Where the platform hears both brokers, the other link says online right away and
	// again after that will, so the last word is online while the gateway is reachable.
	other := s.links[1-v.role]
	if other == nil {
		return
	}
	other.requestStatus()
	time.AfterFunc(v.s.links[v.role].opts.KeepAlive*3/2+5*time.Second, other.requestStatus)
}

// acked reports whether the item was acknowledged on either link.
func (v *view) acked(k itemKey) bool {
	v.s.mu.Lock()
	defer v.s.mu.Unlock()
	return v.s.acks[k]
}
