// Package load plays many home gateways against the platform broker: each publishes real
// CBOR telemetry batches (and now and then an alarm) on its own topics, QoS 1, and the
// generator reports exactly what the broker acknowledged, per gateway, so a checker can
// verify that the store holds precisely that.
//
// A few MQTT connections carry many gateway ids (topics and payload ids match; the broker
// ACL that binds a connection to one id is not what a load test exercises). Reading times
// are virtual — sample k of a gateway is at Start + k×Step — so that every reading is a
// distinct point (series and time) however fast the generator runs.
package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
)

// Config says what to play.
type Config struct {
	Broker   string
	Username string
	Password string
	ClientID string // prefix of the connections' client ids; default "vagt-load"

	Homes    int           // gateways
	Sensors  int           // devices per home, each reporting one kind
	Samples  int           // readings per sensor per batch; default 1
	Interval time.Duration // each gateway sends a batch this often; 0: as fast as the broker takes them
	Duration time.Duration // stop starting batches after this long; 0: until Batches or ctx
	Batches  int           // stop after this many batches per gateway; 0: no limit
	// AlarmEvery sends one alarm per this many batches of a gateway, the homes staggered so
	// that the alarms spread over the rounds; 0: none.
	AlarmEvery int
	Conns      int           // MQTT connections; default 4
	Window     int           // unacknowledged publishes per connection; default 256
	Prefix     string        // gateway ids are {Prefix}-{000001}; default "load"
	Start      time.Time     // virtual time of the first sample; default now
	Step       time.Duration // virtual time between samples of a sensor; default 1s

	// Trackers plays this many GPS trackers (tracker.go), one fix each per round, each on
	// its own connection logged in as its id with TrackerPassword; their fixes' times
	// advance by Step from Start.
	Trackers        int
	TrackerPassword string
	TrackerWalk     float64 // metres a tracker walks out from its home and back; default 500

	// Prepare encodes every message of the run before the first publish (needs Batches and
	// no Interval), so that what follows measures the broker and its consumers, not the
	// encoding: a gateway encodes on its own hardware, not on the machine under test. The
	// run's payloads are held in memory meanwhile.
	Prepare bool
	// Ready, when set, is called once, when every gateway connection is open (and, with
	// Prepare, every message encoded), just before the first publish: where a benchmark
	// starts its clock.
	Ready func()

	Logger *slog.Logger // nil discards
}

// GatewayCount is what one gateway got acknowledged by the broker.
type GatewayCount struct {
	Batches  uint64 `json:"batches"`
	Readings uint64 `json:"readings"`
	Alarms   uint64 `json:"alarms"`
}

// Report is what was sent and acknowledged.
type Report struct {
	Gateways   int                     `json:"gateways"`
	Batches    uint64                  `json:"batches"`
	Readings   uint64                  `json:"readings"`
	Alarms     uint64                  `json:"alarms"`
	Positions  uint64                  `json:"positions"` // tracker positions acknowledged
	Failed     uint64                  `json:"failed"`    // publishes the broker did not acknowledge: not counted above
	Elapsed    time.Duration           `json:"elapsed_ns"`
	PerGateway map[string]GatewayCount `json:"per_gateway"`
}

// Defaults fills in what is unset.
func (c *Config) Defaults() {
	if c.ClientID == "" {
		c.ClientID = "vagt-load"
	}
	if c.Samples <= 0 {
		c.Samples = 1
	}
	if c.Conns <= 0 {
		c.Conns = 4
	}
	if c.Window <= 0 {
		c.Window = 256
	}
	if c.Prefix == "" {
		c.Prefix = "load"
	}
	if c.Start.IsZero() {
		c.Start = time.Now().Truncate(time.Second)
	}
	if c.Step <= 0 {
		c.Step = time.Second
	}
	if c.TrackerWalk <= 0 {
		c.TrackerWalk = 500
	}
	c.Conns = min(c.Conns, max(c.Homes, 1))
}

// Validate checks the configuration, after Defaults.
func (c *Config) Validate() error {
	switch {
	case c.Broker == "":
		return errors.New("load: broker is required")
	case c.Homes < 0 || c.Trackers < 0 || c.Homes+c.Trackers < 1:
		return errors.New("load: give at least one home or tracker")
	case c.Homes > 0 && c.Sensors < 1:
		return errors.New("load: sensors must be at least 1")
	case c.Sensors*c.Samples > vagt.MaxBatchReadings || c.Sensors > vagt.MaxBatchDevices:
		return fmt.Errorf("load: %d sensors × %d samples exceeds a batch (%d readings)", c.Sensors, c.Samples, vagt.MaxBatchReadings)
	case c.Duration <= 0 && c.Batches <= 0:
		return errors.New("load: give a duration or a number of batches")
	case c.Prepare && (c.Batches <= 0 || c.Interval > 0):
		return errors.New("load: prepare needs a number of batches and no interval")
	}
	return nil
}

// GatewayID is the id of home i (0-based) under prefix.
func GatewayID(prefix string, i int) vagt.GatewayID {
	return vagt.GatewayID(fmt.Sprintf("%s-%06d", prefix, i+1))
}

// Run plays the load until Duration or Batches is reached or ctx ends, waits for the
// broker's acknowledgements of what it published, and reports. It returns an error, with
// the report so far, when a connection fails.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	counts := make([]GatewayCount, cfg.Homes)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	// Every gateway connection arrives once it is open and prepared (or has failed); the
	// last one lets them all begin.
	conns := 0
	if cfg.Homes > 0 {
		conns = cfg.Conns
	}
	var (
		arrived sync.WaitGroup
		start   time.Time
	)
	arrived.Add(conns)
	begin := make(chan struct{})
	go func() {
		arrived.Wait()
		if cfg.Ready != nil {
			cfg.Ready()
		}
		start = time.Now()
		close(begin)
	}()
	positions := make([]uint64, cfg.Trackers)
	for i := range cfg.Trackers {
		wg.Go(func() {
			if err := runTracker(ctx, &cfg, i, positions); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	for w := range cfg.Conns {
		if cfg.Homes == 0 {
			break
		}
		wg.Go(func() {
			if err := runConn(ctx, &cfg, w, counts, logger, arrived.Done, begin); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	<-begin // start is set
	r := Report{Gateways: cfg.Homes, Elapsed: time.Since(start), PerGateway: make(map[string]GatewayCount, cfg.Homes)}
	for i, c := range counts {
		r.PerGateway[string(GatewayID(cfg.Prefix, i))] = c
		r.Batches += c.Batches
		r.Readings += c.Readings
		r.Alarms += c.Alarms
	}
	for _, n := range positions {
		r.Positions += n
	}
	for _, err := range errs {
		var pe *publishError
		if errors.As(err, &pe) {
			r.Failed += pe.failed
		}
	}
	return r, errors.Join(errs...)
}

type publishError struct {
	failed uint64
	err    error
}

func (e *publishError) Error() string {
	return fmt.Sprintf("load: %d publishes not acknowledged: %v", e.failed, e.err)
}
func (e *publishError) Unwrap() error { return e.err }

// pending is a publish waiting for the broker's PUBACK, and what to count when it comes.
type pending struct {
	tok      mqtt.Token
	gw       int
	readings uint64
	alarm    bool
}

// message is one publish of a prepared run.
type message struct {
	topic   string
	payload []byte
	p       pending
}

// runConn plays the gateways w, w+Conns, w+2×Conns, ... on one connection. It calls arrive
// once, when it is connected and prepared or has failed, and publishes once begin is closed.
func runConn(ctx context.Context, cfg *Config, w int, counts []GatewayCount, logger *slog.Logger, arrive func(), begin <-chan struct{}) error {
	var arriveOnce sync.Once
	defer arriveOnce.Do(arrive)
	opts := mqtt.NewClientOptions().AddBroker(cfg.Broker).
		SetClientID(fmt.Sprintf("%s-%d", cfg.ClientID, w)).
		SetUsername(cfg.Username).SetPassword(cfg.Password).
		SetCleanSession(true).SetAutoReconnect(false).
		SetWriteTimeout(30 * time.Second)
	client := mqtt.NewClient(opts)
	if t := client.Connect(); !t.WaitTimeout(30*time.Second) || t.Error() != nil {
		return fmt.Errorf("load: connect %s: %v", cfg.Broker, t.Error())
	}
	defer client.Disconnect(250)

	var gws []*gateway
	for i := w; i < cfg.Homes; i += cfg.Conns {
		gws = append(gws, newGateway(cfg, i))
	}
	var (
		window []pending
		failed uint64
		last   error
	)
	settle := func(p pending) {
		p.tok.Wait()
		if err := p.tok.Error(); err != nil {
			failed++
			last = err
			return
		}
		c := &counts[p.gw]
		if p.alarm {
			c.Alarms++
			return
		}
		c.Batches++
		c.Readings += p.readings
	}
	publish := func(topic string, payload []byte, p pending) {
		if len(window) == cfg.Window {
			settle(window[0])
			window = window[1:]
		}
		p.tok = client.Publish(topic, 1, false, payload)
		window = append(window, p)
	}
	// round encodes a batch of every gateway and the alarms due, handing each message to
	// emit; it stops early, with false, when emit says so.
	round := func(emit func(topic string, payload []byte, p pending) bool) (bool, error) {
		for _, g := range gws {
			payload, n, err := g.nextBatch()
			if err != nil {
				return false, err
			}
			if !emit(g.telemetry, payload, pending{gw: g.index, readings: uint64(n)}) {
				return false, nil
			}
			if cfg.AlarmEvery > 0 && (g.seq+uint64(g.index))%uint64(cfg.AlarmEvery) == 0 { // staggered by home, not all in one round
				payload, err := g.nextAlarm()
				if err != nil {
					return false, err
				}
				if !emit(g.alarm, payload, pending{gw: g.index, alarm: true}) {
					return false, nil
				}
			}
		}
		return true, nil
	}
	send := func(topic string, payload []byte, p pending) bool {
		if ctx.Err() != nil || !client.IsConnectionOpen() {
			return false
		}
		publish(topic, payload, p)
		return true
	}
	var prepared []message
	if cfg.Prepare {
		keep := func(topic string, payload []byte, p pending) bool {
			prepared = append(prepared, message{topic, payload, p})
			return true
		}
		for range cfg.Batches {
			if _, err := round(keep); err != nil {
				return err
			}
		}
	}
	arriveOnce.Do(arrive)
	select {
	case <-begin:
	case <-ctx.Done():
	}
	if cfg.Prepare {
		for _, m := range prepared {
			if !send(m.topic, m.payload, m.p) {
				break
			}
		}
	} else {
		began := time.Now()
	loop:
		for r := 0; cfg.Batches == 0 || r < cfg.Batches; r++ {
			if cfg.Interval > 0 {
				select {
				case <-ctx.Done():
					break loop
				case <-time.After(time.Until(began.Add(time.Duration(r) * cfg.Interval))):
				}
			}
			more, err := round(send)
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	for _, p := range window {
		settle(p)
	}
	if failed > 0 {
		return &publishError{failed: failed, err: last}
	}
	if !client.IsConnectionOpen() {
		return errors.New("load: connection lost")
	}
	logger.Debug("connection done", "conn", w, "gateways", len(gws))
	return nil
}
