// Package uplink connects the gateway to the platform broker (paho, MQTT 3.1.1): it sends
// what the spool holds, one item at a time and alarms first, and deletes an item only when
// the broker's PUBACK came back. It keeps a retained status (online, inventory, spool
// depth) with a retained will that says offline, publishes a heartbeat, and hands the
// home configuration from the config lane to the gateway. A Pair runs two of them over
// one spool, for a gateway with a second platform broker (pair.go).
package uplink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/burst"
	"github.com/vagt-dk/vagt/gateway/spool"
	"github.com/vagt-dk/vagt/internal/backoff"
)

// Queue is what the uplink needs of the spool.
type Queue interface {
	Next() (spool.Item, bool, error)
	Ack(spool.Item) error
	Release(spool.Item)
	Ready() <-chan struct{}
}

// Options configure the uplink. Zero durations take the defaults named.
type Options struct {
	Broker   string // tcp://host:1883 or ssl://host:8883
	Gateway  vagt.GatewayID
	Username string // default the gateway id (the broker ACL keys on it)
	Password string
	CAFile   string // PEM; empty: the system roots
	CertFile string // PEM client certificate, optional (with KeyFile)
	KeyFile  string

	KeepAlive  time.Duration // default 30s; the will fires after 1.5× this
	Heartbeat  time.Duration // status republished this often; default 60s
	MaxBackoff time.Duration // reconnect backoff ceiling; default 2m
	// NoJitter waits the full exponential back-off instead of a random part of it (full
	// jitter, internal/backoff): only for measuring the reconnect storm without jitter.
	NoJitter       bool
	PublishTimeout time.Duration // no PUBACK by then: send the item again; default 30s
	// DrainRate caps telemetry in readings per second, so that after an outage a village
	// of gateways does not flatten the platform; alarms are never held back. 0: no cap.
	DrainRate float64
	// LaneQoS0 subscribes the config and downlink lanes with QoS 0 instead of 1: the broker
	// keeps no queue (on NATS no JetStream consumer) for them, and a downlink sent while the
	// gateway is away is lost; the api tells it again when the gateway's online status
	// comes (docs/gateway.md, "Lane QoS"). The online status then waits for the lanes.
	LaneQoS0 bool
	Logger   *slog.Logger
}

// StatusFunc returns the gateway's current status; the uplink sets Online and Time.
type StatusFunc func() vagt.Status

// Uplink is one connection to the platform broker.
type Uplink struct {
	opts    Options
	queue   Queue
	status  StatusFunc
	log     *slog.Logger
	client  mqtt.Client
	limiter *limiter

	subscriptions // the config and downlink lanes granted or not (subscribe.go)

	// A token per (re)connect for each of the two loops that wait for one.
	upMaintain, upSend chan struct{}
	configs            chan []byte // the latest config payload, latest wins
	downlinks          chan []byte // downlink payloads in arrival order (downlink.go)
	downlinksDropped   atomic.Uint64
	downlinkDrops      *burst.Limiter // logs the drops once per burst

	mu   sync.Mutex
	up   bool
	sent atomic.Uint64 // items acknowledged by the broker

	store   *copyStore
	backoff *backoff.Backoff
	tries   atomic.Bool   // a connection was attempted: later attempts wait their back-off
	quit    chan struct{} // closed when Run's context ends: a back-off wait stops
	quitter sync.Once
	refresh chan struct{} // republish the status now (a Pair asks when the other link fell)
	// published maps the packet id of a publish without PUBACK yet to its item (see track).
	publishedMu sync.Mutex
	published   map[uint16]itemKey
}

// itemKey names a spool item across lanes (alarm and batch seqs are separate counters),
// and an alarm's resend apart from its first sending (the platform did not confirm it).
type itemKey struct {
	lane    vagt.Lane
	seq     uint64
	attempt int
}

func keyOf(it spool.Item) itemKey { return itemKey{it.Lane, it.Seq, it.Attempt} }

// linkWatcher is implemented by a queue shared between two links (Pair's): it learns when
// the link it feeds comes up or goes down, and which items were acknowledged elsewhere.
type linkWatcher interface {
	linkChanged(up bool)
	acked(itemKey) bool
}

// New builds the uplink; Run connects it.
func New(opts Options, queue Queue, status StatusFunc) (*Uplink, error) {
	if err := opts.Gateway.Validate(); err != nil {
		return nil, fmt.Errorf("uplink: %w", err)
	}
	if opts.Broker == "" {
		return nil, errors.New("uplink: no broker URL")
	}
	if opts.Username == "" {
		opts.Username = string(opts.Gateway)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.KeepAlive, 30*time.Second)
	def(&opts.Heartbeat, 60*time.Second)
	def(&opts.MaxBackoff, 2*time.Minute)
	def(&opts.PublishTimeout, 30*time.Second)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	u := &Uplink{opts: opts, queue: queue, status: status, log: opts.Logger,
		upMaintain: make(chan struct{}, 1), upSend: make(chan struct{}, 1), configs: make(chan []byte, 1),
		refresh: make(chan struct{}, 1), published: map[uint16]itemKey{}}
	// Base 1 s (the old fixed first retry), capped by MaxBackoff; seeded per gateway and
	// link, so a Pair's two links do not wait in step either.
	u.backoff = backoff.New(min(time.Second, opts.MaxBackoff), opts.MaxBackoff, string(opts.Gateway)+"|"+opts.Broker)
	u.backoff.NoJitter = opts.NoJitter
	u.quit = make(chan struct{})
	u.store = newCopyStore()
	u.store.keep = u.resumable
	if opts.DrainRate > 0 {
		u.limiter = newLimiter(opts.DrainRate, max(1, int(opts.DrainRate))) // a second's worth at once
	}
	u.downlinks = make(chan []byte, downlinkBuffer)
	u.downlinkDrops = burst.New(time.Minute)
	tlsConf, err := TLSConfig(opts.CAFile, opts.CertFile, opts.KeyFile)
	if err != nil {
		return nil, err
	}
	will, err := vagt.EncodeStatus(&vagt.Status{Gateway: opts.Gateway, Online: false, Time: wireTime(time.Now())})
	if err != nil {
		return nil, fmt.Errorf("uplink: will: %w", err)
	}
	mo := mqtt.NewClientOptions().
		AddBroker(opts.Broker).
		SetClientID(string(opts.Gateway)). // fixed: the broker keeps our session under it
		SetCleanSession(false).
		SetStore(u.store).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		SetKeepAlive(opts.KeepAlive).
		SetPingTimeout(10*time.Second).
		SetConnectTimeout(20*time.Second).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		// paho's own waits are fixed or exponential without jitter: keep them negligible
		// and wait the jittered back-off before each attempt instead (onConnectAttempt).
		SetConnectRetryInterval(10*time.Millisecond).
		SetMaxReconnectInterval(10*time.Millisecond).
		SetConnectionAttemptHandler(u.onConnectAttempt).
		SetBinaryWill(vagt.Topic(opts.Gateway, vagt.LaneStatus), will, 1, true).
		SetOnConnectHandler(func(mqtt.Client) { u.backoff.Reset(); u.setUp(true) }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			u.setUp(false)
			u.log.Warn("uplink lost", "err", err)
		})
	if tlsConf != nil {
		mo.SetTLSConfig(tlsConf)
	}
	u.client = mqtt.NewClient(mo)
	return u, nil
}

// TLSConfig builds the TLS configuration from PEM files; nil when none is given.
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	c, err := vagt.ClientTLS(caFile, certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("uplink: %w", err)
	}
	return c, nil
}

// onConnectAttempt runs on paho's connecting goroutine before each attempt: the first
// attempt of the process goes at once, every later one (the first after a lost connection
// included) waits its jittered back-off, or until Run ends.
func (u *Uplink) onConnectAttempt(_ *url.URL, tc *tls.Config) *tls.Config {
	if u.tries.Swap(true) {
		u.backoff.Wait(u.quit)
	}
	return tc
}

func (u *Uplink) setUp(up bool) {
	u.mu.Lock()
	u.up = up
	u.mu.Unlock()
	if !up {
		u.subMu.Lock()
		u.subOK = false // the next connection subscribes anew
		u.subMu.Unlock()
	}
	if w, ok := u.queue.(linkWatcher); ok {
		w.linkChanged(up)
	}
	if up {
		for _, c := range []chan struct{}{u.upMaintain, u.upSend} {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
}

// Connected reports whether the connection is up now.
func (u *Uplink) Connected() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.up
}

// Sent returns how many items the broker acknowledged since start.
func (u *Uplink) Sent() uint64 { return u.sent.Load() }

// Configs delivers home configuration payloads from the config lane, latest first; the
// receiver decodes and decides.
func (u *Uplink) Configs() <-chan []byte { return u.configs }

// onConfig runs on paho's router: it only copies and hands over, never blocks.
func (u *Uplink) onConfig(_ mqtt.Client, m mqtt.Message) {
	p := append([]byte(nil), m.Payload()...)
	for {
		select {
		case u.configs <- p:
			return
		default:
		}
		select {
		case <-u.configs: // an older one nobody took yet: the newest wins
		default:
		}
	}
}

// Run connects (retrying for ever with backoff) and sends until ctx is done. Then it
// publishes the offline status itself — a clean disconnect does not fire the will — and
// disconnects. What was not acknowledged stays in the spool.
func (u *Uplink) Run(ctx context.Context) error {
	u.client.AddRoute(vagt.Topic(u.opts.Gateway, vagt.LaneConfig), u.onConfig)
	u.client.AddRoute(vagt.Topic(u.opts.Gateway, vagt.LaneDownlink), u.onDownlink)
	u.client.Connect() // with ConnectRetry it keeps trying in the background
	stopWaiting := context.AfterFunc(ctx, func() { u.quitter.Do(func() { close(u.quit) }) })
	defer func() { stopWaiting(); u.quitter.Do(func() { close(u.quit) }) }()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); u.maintain(ctx) }()
	go func() { defer wg.Done(); u.send(ctx) }()
	wg.Wait()
	if u.client.IsConnectionOpen() {
		u.publishStatus(false, 2*time.Second)
	}
	u.client.Disconnect(500)
	return nil
}

// maintain subscribes to the config and downlink lanes and publishes the status on every
// connect, and the heartbeat status in between. A subscription the broker refuses or does
// not answer is asked for again, with back-off, while the connection stays up.
//
// With QoS 0 lanes the online status waits until both lanes are granted: the api answers
// it by telling again what the gateway missed (docs/gateway.md, "Lane QoS"), and a
// downlink published before the broker holds the subscription reaches nobody. So no
// online status (nor heartbeat) goes out while the lanes are not granted, and the first
// goes out the moment they are.
func (u *Uplink) maintain(ctx context.Context) {
	tick := time.NewTicker(u.opts.Heartbeat)
	defer tick.Stop()
	retry := backoff.New(min(time.Second, u.opts.MaxBackoff), u.opts.MaxBackoff, string(u.opts.Gateway)+"|subscribe|"+u.opts.Broker)
	var again <-chan time.Time
	subscribe := func() bool {
		again = nil
		if u.subscribeLanes(ctx) {
			return true
		}
		if ctx.Err() == nil {
			again = time.After(retry.Next())
		}
		return false
	}
	online := func() {
		if u.opts.LaneQoS0 && !u.Subscriptions().Subscribed {
			return // said once the lanes are granted
		}
		u.publishStatus(true, u.opts.PublishTimeout)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.upMaintain:
			u.log.Info("uplink connected", "broker", u.opts.Broker)
			retry.Reset()
			subscribe()
			online()
		case <-again:
			if !u.Connected() {
				again = nil // the next connect subscribes
			} else if subscribe() && u.opts.LaneQoS0 {
				online() // held until now
			}
		case <-tick.C:
			if u.Connected() {
				online()
			}
		case <-u.refresh:
			if u.Connected() {
				online()
			}
		}
	}
}

func (u *Uplink) publishStatus(online bool, timeout time.Duration) {
	s := u.status()
	s.Gateway, s.Online = u.opts.Gateway, online
	if s.Time.IsZero() { // the gateway gives its best time (a clock at 1970 would not encode)
		s.Time = wireTime(time.Now())
	}
	if online {
		s.Heartbeat = u.opts.Heartbeat.Truncate(time.Second)
	} else {
		s.Heartbeat = 0
	}
	data, err := vagt.EncodeStatus(&s)
	if err != nil {
		u.log.Error("uplink: status does not encode", "err", err)
		return
	}
	tok := u.client.Publish(vagt.Topic(u.opts.Gateway, vagt.LaneStatus), 1, true, data)
	if !tok.WaitTimeout(timeout) || tok.Error() != nil {
		u.log.Warn("uplink: status not acknowledged", "online", online, "err", tok.Error())
	}
}

// wireTime is t, or the start of the wire's range when t is outside it (a box without RTC
// boots at 1970): a status that does not encode would keep the gateway "offline".
func wireTime(t time.Time) time.Time {
	if y := t.Year(); y < 2020 || y >= 2100 {
		return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return t
}

func waitToken(ctx context.Context, tok mqtt.Token, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// send moves the spool to the broker, one item in flight, so the broker sees alarms and
// batches in the spool's order. An item is acked in the spool only after its PUBACK.
func (u *Uplink) send(ctx context.Context) {
	retry := time.Second
	for ctx.Err() == nil {
		if !u.Connected() {
			select {
			case <-ctx.Done():
				return
			case <-u.upSend:
			case <-time.After(time.Second):
			}
			continue
		}
		it, ok, err := u.queue.Next()
		if err != nil {
			u.log.Error("uplink: spool", "err", err)
			sleep(ctx, retry)
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-u.queue.Ready():
			case <-time.After(time.Second):
			}
			continue
		}
		if it.Lane == vagt.LaneTelemetry && u.limiter != nil {
			if d := u.limiter.wait(time.Now(), it.Readings); d > 0 {
				// Held back by the drain rate: wait, but wake for anything new in the
				// spool, which may be an alarm that must not wait behind telemetry.
				u.queue.Release(it)
				select {
				case <-ctx.Done():
					return
				case <-u.queue.Ready():
				case <-time.After(d):
				}
				continue
			}
			u.limiter.take(time.Now(), it.Readings)
		}
		tok := u.client.Publish(vagt.Topic(u.opts.Gateway, it.Lane), 1, false, it.Payload)
		mid := u.track(tok, it)
		done, elsewhere := u.await(ctx, tok, it)
		if elsewhere {
			// The other link's broker has it: stop waiting (paho will not resend it).
			u.queue.Release(it)
			continue
		}
		if !done || tok.Error() != nil {
			// Not acknowledged: the item stays and goes again (an exact redelivery at
			// worst, which consumers recognise by gateway and seq). paho may resend it
			// on reconnect, so it stays tracked.
			u.queue.Release(it)
			if ctx.Err() == nil {
				u.log.Warn("uplink: publish not acknowledged", "lane", it.Lane, "seq", it.Seq, "err", tok.Error())
				sleep(ctx, retry)
			}
			continue
		}
		u.untrack(mid)
		if err := u.queue.Ack(it); err != nil {
			u.log.Error("uplink: ack in spool", "err", err)
			continue
		}
		u.sent.Add(1)
	}
}

// await waits for the publish's PUBACK (done), for at most the publish timeout. In a Pair
// it also stops waiting (elsewhere) when the item is acknowledged on the other link
// meanwhile — a silent link would otherwise hold this link's next item for the timeout.
//
// A completed token is not always a PUBACK: when paho resends a stored publish after a
// reconnect it completes the old token at once, and the new one only carries the PUBACK.
// paho deletes a publish from its store when the PUBACK arrives, so while the store still
// holds it, the broker has not acknowledged it and the spool must keep the item.
func (u *Uplink) await(ctx context.Context, tok mqtt.Token, it spool.Item) (done, elsewhere bool) {
	w, shared := u.queue.(linkWatcher)
	var ready <-chan struct{}
	if shared {
		ready = u.queue.Ready() // the other link's ack wakes this one
	}
	t := time.NewTimer(u.opts.PublishTimeout)
	defer t.Stop()
	completed := tok.Done()
	var puback <-chan struct{}
	for {
		select {
		case <-completed:
			if tok.Error() != nil {
				return true, false
			}
			pt, ok := tok.(*mqtt.PublishToken)
			if !ok {
				return true, false
			}
			completed, puback = nil, u.store.whenGone(fmt.Sprintf("o.%d", pt.MessageID()))
		case <-puback:
			return true, false
		case <-ctx.Done():
			return false, false
		case <-t.C:
			return false, false
		case <-ready:
			if w.acked(keyOf(it)) {
				return false, true
			}
		}
	}
}

// requestStatus asks the maintain loop to republish the status now (if connected).
func (u *Uplink) requestStatus() {
	select {
	case u.refresh <- struct{}{}:
	default:
	}
}

// track remembers which item a publish carries, by packet id, until its PUBACK, so that
// resumable can keep paho from resending it on reconnect once the item was acknowledged
// on the other link. Only for a Pair: with one link paho's resend is as before.
func (u *Uplink) track(tok mqtt.Token, it spool.Item) uint16 {
	pt, ok := tok.(*mqtt.PublishToken)
	if _, shared := u.queue.(linkWatcher); !shared || !ok || pt.MessageID() == 0 {
		return 0
	}
	u.publishedMu.Lock()
	defer u.publishedMu.Unlock()
	if len(u.published) >= 1024 { // ids paho completed by a resend are never untracked: bound it
		clear(u.published)
	}
	u.published[pt.MessageID()] = keyOf(it)
	return pt.MessageID()
}

func (u *Uplink) untrack(mid uint16) {
	if mid == 0 {
		return
	}
	u.publishedMu.Lock()
	delete(u.published, mid)
	u.publishedMu.Unlock()
}

// resumable tells the store whether paho may resend the stored publish with this packet
// id on reconnect: not when it is an item already acknowledged on the other link — that
// would send again what the platform has. (paho keeps that id's old token; one id of
// 65535 per such event, which only a drop in mid-flight on one link and an ack on the
// other causes.)
func (u *Uplink) resumable(mid uint16) bool {
	w, ok := u.queue.(linkWatcher)
	if !ok {
		return true
	}
	u.publishedMu.Lock()
	k, found := u.published[mid]
	u.publishedMu.Unlock()
	if found && w.acked(k) {
		u.untrack(mid)
		u.log.Info("uplink: not resending what the other link delivered", "lane", k.lane, "seq", k.seq)
		return false
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
