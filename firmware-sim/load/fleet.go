package load

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/internal/backoff"
	"github.com/vagt-dk/vagt/internal/mqttsub"
)

// FleetConfig says how to play gateways with one real MQTT connection each — unlike Run,
// which multiplexes many gateway ids over a few connections. A fleet measures what the
// broker pays per connection: memory, TLS handshakes, and the reconnect storm after a
// restart.
type FleetConfig struct {
	Brokers []string // every gateway lists them all, rotated by its index so they spread
	// BrokersFor, when set, gives gateway i's broker list instead.
	BrokersFor func(i int) []string
	Gateways   int
	Prefix     string // gateway ids are {Prefix}-{000001}; default "load"
	// First is the index of the fleet's first gateway: a fleet split over processes (each
	// holds at most its file limit of connections) gives each part its own range. The
	// callbacks below and the ids take the index First+k of the fleet's k-th gateway.
	First int
	// TLS returns gateway i's TLS configuration (its own client certificate); nil: plain.
	TLS func(i int) *tls.Config
	// Username returns gateway i's user name and password; nil: none (certificates).
	Username func(i int) (user, password string)

	KeepAlive  time.Duration // default 30s, as the gateway
	MaxBackoff time.Duration // default 2m, as the gateway
	NoJitter   bool          // plain exponential back-off instead of full jitter
	Parallel   int           // connects in flight while the fleet starts; default 100
	// Subscribe makes each gateway subscribe to its config and downlink lanes (QoS 1) on
	// every connect, as the real gateway does; the broker then keeps two subscriptions per
	// gateway in its session.
	Subscribe bool
	// LaneQoS0 subscribes the lanes with QoS 0 instead, as the gateway's --lane-qos 0: on
	// NATS a QoS 0 subscription is no JetStream consumer, only a line in the session record.
	LaneQoS0 bool
	// Sensors and Samples shape the telemetry batches of Batch (defaults 10 and 1).
	Sensors, Samples int
}

// Fleet is a running set of gateways with a connection each.
type Fleet struct {
	cfg      FleetConfig
	batchCfg *Config
	gws      []*fleetGateway
	up       atomic.Int64
	// subscribeFailures counts SUBSCRIBEs the broker refused (0x80) or did not answer; a
	// measurement that has them did not measure the real gateway's load.
	subscribeFailures atomic.Int64
}

type fleetGateway struct {
	index    int // First + its place in the fleet
	id       vagt.GatewayID
	mun      vagt.MunicipalityCode
	client   mqtt.Client
	backoff  *backoff.Backoff
	tried    atomic.Bool
	quit     chan struct{}
	up       atomic.Bool
	conn     atomic.Uint64 // numbers connections: an older one's subscription retries stop
	upAt     atomic.Int64  // unix ns of the last connect
	granted  atomic.Uint32 // the last lane SUBACK: config code << 8 | downlink code, +1 each (0: none yet)
	alarmSeq atomic.Uint64
	mu       sync.Mutex // serialises batches
	batches  *gateway
}

// StartFleet connects every gateway, Parallel at a time, and returns when all are
// connected (or ctx ends, with an error and the fleet so far, which the caller closes).
func StartFleet(ctx context.Context, cfg FleetConfig) (*Fleet, error) {
	if len(cfg.Brokers) == 0 || cfg.Gateways < 1 {
		return nil, errors.New("load: a fleet needs brokers and gateways")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "load"
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 2 * time.Minute
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 100
	}
	if cfg.Sensors <= 0 {
		cfg.Sensors = 10
	}
	if cfg.Samples <= 0 {
		cfg.Samples = 1
	}
	f := &Fleet{cfg: cfg, gws: make([]*fleetGateway, cfg.Gateways)}
	f.batchCfg = &Config{Sensors: cfg.Sensors, Samples: cfg.Samples, Prefix: cfg.Prefix, Start: time.Now().Truncate(time.Second), Step: time.Second}
	muns := vagt.Municipalities()
	for k := range f.gws {
		i := cfg.First + k
		f.gws[k] = f.newGateway(i, muns[i%len(muns)].Code)
	}
	sem := make(chan struct{}, cfg.Parallel)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, g := range f.gws {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if tok := g.client.Connect(); !tok.WaitTimeout(2*time.Minute) || tok.Error() != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil || failed.Load() > 0 {
		return f, fmt.Errorf("load: %d of %d gateways did not connect: %v", f.Gateways()-f.Connected(), f.Gateways(), ctx.Err())
	}
	return f, nil
}

func (f *Fleet) newGateway(i int, mun vagt.MunicipalityCode) *fleetGateway {
	id := GatewayID(f.cfg.Prefix, i)
	g := &fleetGateway{index: i, id: id, mun: mun, quit: make(chan struct{}),
		backoff: backoff.New(min(time.Second, f.cfg.MaxBackoff), f.cfg.MaxBackoff, string(id))}
	g.backoff.NoJitter = f.cfg.NoJitter
	g.batches = newGateway(f.batchCfg, i)
	o := mqtt.NewClientOptions().SetClientID(string(id)).SetCleanSession(false).
		SetKeepAlive(f.cfg.KeepAlive).SetPingTimeout(10 * time.Second).SetConnectTimeout(20 * time.Second).
		SetAutoReconnect(true).SetConnectRetry(false).
		// As the gateway's uplink does: paho's own waits negligible, the jittered back-off
		// before each reconnect attempt.
		SetMaxReconnectInterval(10 * time.Millisecond).
		SetConnectionAttemptHandler(func(_ *url.URL, tc *tls.Config) *tls.Config {
			if g.tried.Swap(true) {
				g.backoff.Wait(g.quit)
			}
			return tc
		}).
		SetOnConnectHandler(func(c mqtt.Client) {
			mine := g.conn.Add(1)
			config, downlink := vagt.Topic(id, vagt.LaneConfig), vagt.Topic(id, vagt.LaneDownlink)
			subscribe := func() error {
				tok := c.SubscribeMultiple(map[string]byte{config: f.laneQoS(), downlink: f.laneQoS()}, nil)
				err := mqttsub.Check(tok, time.Minute)
				if st, ok := tok.(*mqtt.SubscribeToken); ok && err == nil {
					r := st.Result()
					g.granted.Store(uint32(r[config]+1)<<8 | uint32(r[downlink]+1))
				}
				return err
			}
			var err error
			if f.cfg.Subscribe {
				if err = subscribe(); err != nil {
					f.subscribeFailures.Add(1)
				}
			}
			g.backoff.Reset()
			g.upAt.Store(time.Now().UnixNano())
			if !g.up.Swap(true) {
				f.up.Add(1)
			}
			if err != nil { // as the real gateway: asked again while connected
				live := func() bool { return g.conn.Load() == mine && c.IsConnectionOpen() }
				retry := backoff.New(min(time.Second, f.cfg.MaxBackoff), f.cfg.MaxBackoff, string(id)+"|subscribe")
				mqttsub.Until(g.quit, live, retry, subscribe, func(error) { f.subscribeFailures.Add(1) })
			}
		}).
		SetConnectionLostHandler(func(mqtt.Client, error) {
			if g.up.Swap(false) {
				f.up.Add(-1)
			}
		})
	if f.cfg.BrokersFor != nil {
		for _, b := range f.cfg.BrokersFor(i) {
			o.AddBroker(b)
		}
	} else {
		for k := range f.cfg.Brokers {
			o.AddBroker(f.cfg.Brokers[(i+k)%len(f.cfg.Brokers)])
		}
	}
	if f.cfg.TLS != nil {
		o.SetTLSConfig(f.cfg.TLS(i))
	}
	if f.cfg.Username != nil {
		u, p := f.cfg.Username(i)
		o.SetUsername(u).SetPassword(p)
	}
	g.client = mqtt.NewClient(o)
	return g
}

func (f *Fleet) laneQoS() byte {
	if f.cfg.LaneQoS0 {
		return 0
	}
	return 1
}

// SetJitter switches every gateway's back-off between full jitter and plain exponential.
func (f *Fleet) SetJitter(on bool) {
	for _, g := range f.gws {
		g.backoff.SetJitter(on)
	}
}

// Gateways is the fleet's size; Connected how many have a connection now.
func (f *Fleet) Gateways() int  { return len(f.gws) }
func (f *Fleet) Connected() int { return int(f.up.Load()) }

// SubscribeFailures is how many SUBSCRIBEs of the config and downlink lanes the brokers
// refused (SUBACK 0x80: an ACL, a consumer limit) or did not answer. Each is asked again
// while connected, as the real gateway does; a run with any did not load the broker as
// real gateways would, and its report must say so.
func (f *Fleet) SubscribeFailures() int64 { return f.subscribeFailures.Load() }

// GrantedLaneQoS is the QoS the broker granted gateway i's config and downlink lanes in
// the last SUBACK that granted both; ok is false before the first.
func (f *Fleet) GrantedLaneQoS(i int) (config, downlink byte, ok bool) {
	v := f.gws[i].granted.Load()
	if v == 0 {
		return 0, 0, false
	}
	return byte(v>>8) - 1, byte(v) - 1, true
}

// ID is gateway i's id.
func (f *Fleet) ID(i int) vagt.GatewayID { return f.gws[i].id }

// IsConnected reports whether gateway i has a connection now.
func (f *Fleet) IsConnected(i int) bool { return f.gws[i].up.Load() }

// ConnectedAt is when gateway i last connected.
func (f *Fleet) ConnectedAt(i int) time.Time { return time.Unix(0, f.gws[i].upAt.Load()) }

// Alarm raises gateway i's next alarm (QoS 1). While the gateway is reconnecting paho keeps
// it and sends it once connected, as the gateway's spool would; the token completes with
// the broker's PUBACK. It returns the alarm's sequence number.
func (f *Fleet) Alarm(i int, at time.Time) (uint64, mqtt.Token, error) {
	g := f.gws[i]
	seq := g.alarmSeq.Add(1)
	typ := alarmTypes[int(seq)%len(alarmTypes)]
	payload, err := vagt.EncodeAlarm(&vagt.Alarm{Gateway: g.id, Seq: seq, Municipality: g.mun, Time: at,
		Device: vagt.DeviceID(fmt.Sprintf("0x00158d00%08x", g.index)), Type: typ, Priority: typ.Priority()})
	if err != nil {
		return 0, nil, err
	}
	return seq, g.client.Publish(vagt.Topic(g.id, vagt.LaneAlarm), 1, false, payload), nil
}

// Batch publishes gateway i's next telemetry batch (QoS 1; held while reconnecting, like
// an alarm) and returns how many readings it holds.
func (f *Fleet) Batch(i int) (int, mqtt.Token, error) {
	g := f.gws[i]
	g.mu.Lock()
	defer g.mu.Unlock()
	payload, n, err := g.batches.nextBatch()
	if err != nil {
		return 0, nil, err
	}
	return n, g.client.Publish(g.batches.telemetry, 1, false, payload), nil
}

// Close disconnects every gateway.
func (f *Fleet) Close() {
	var wg sync.WaitGroup
	for _, g := range f.gws {
		close(g.quit)
		wg.Go(func() { g.client.Disconnect(100) })
	}
	wg.Wait()
}
