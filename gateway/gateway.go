package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/burst"
	"github.com/vagt-dk/vagt/gateway/rules"
	"github.com/vagt-dk/vagt/gateway/serial"
	"github.com/vagt-dk/vagt/gateway/spool"
	"github.com/vagt-dk/vagt/gateway/uplink"
	"github.com/vagt-dk/vagt/gateway/zigbee"
)

// Clock tells the time (the rules' and the spool's); tests may pass a fake one.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// stateEpisodes names the open alarm episodes in the spool.
const stateEpisodes = "rule_episodes"

// clockStepLimit: the pipeline ticks the rules every second, so a clock that moves more
// than this between two calls was set (NTP on a box without RTC), not left running.
const clockStepLimit = 5 * time.Minute

// Software is what the status message says the gateway runs.
var Software = "vagt-gateway " + vagt.Version

// input is what an input goroutine hands the pipeline.
type input struct {
	readings []vagt.Reading
	seen     vagt.DeviceID // a device heard from (also without readings)
	online   *bool         // an availability report
	ack      *serial.Frame // an alarm frame to acknowledge once its alarm is spooled
	unmapped string        // the Zigbee name of a device not in the device map that sends alarms
	done     func()        // a Zigbee message to acknowledge once what it carried is spooled
	// message identifies the Zigbee message (zero for other inputs); redelivered: the home
	// broker sent it before and did not hear our PUBACK.
	message     spool.MessageKey
	redelivered bool
}

// zigbeeInput is what a Zigbee update is to the pipeline.
func zigbeeInput(u zigbee.Update) input {
	return input{readings: u.Readings, seen: u.Device, online: u.Online, unmapped: u.Unmapped, done: u.Ack,
		message: spool.MessageKey(u.Message), redelivered: u.Redelivered}
}

// link is the gateway's way out to the platform: one uplink, or a pair (a second broker).
type link interface {
	Run(context.Context) error
	Configs() <-chan []byte
	Connected() bool
	Sent() uint64
}

// Gateway is the home agent: inputs → rules → spool → uplink.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	clock  Clock
	spool  *spool.Queue
	engine *rules.Engine
	up     link
	serial *serial.Reader
	zigbee *zigbee.Subscriber
	help   helpDesk       // help confirmed in the home (help.go); restoreHelp readies it
	setter *zigbee.Setter // nil without help.zigbee

	statusLn net.Listener
	times    seriesTimes // owned by the pipeline goroutine
	trust    *clockTrust
	refusals *burst.Limiter // refused readings, logged once per burst of a reason

	mu        sync.Mutex // guards the fields below: the status page and message read them
	home      vagt.HomeConfig
	configErr string
	lastSeen  map[vagt.DeviceID]time.Time
	battery   map[vagt.DeviceID]int
	counts    counters
}

type counters struct {
	Readings            uint64            `json:"readings"`               // spooled
	InvalidReadings     uint64            `json:"invalid_readings"`       // refused, all reasons
	Refused             map[string]uint64 `json:"refused_readings"`       // refused by reason
	AlarmFrames         uint64            `json:"alarm_frames"`           // serial alarm frames acked
	AlarmFramesNotAcked uint64            `json:"alarm_frames_not_acked"` // their alarm was not committed
	ZigbeeNotAcked      uint64            `json:"zigbee_not_acked"`       // Zigbee messages left for redelivery: alarm not committed
	ZigbeeRedelivered   uint64            `json:"zigbee_redelivered"`     // Zigbee messages sent again after their readings were committed: not spooled twice
	ConfigsApplied      uint64            `json:"configs_applied"`
	OpenEpisodes        int               `json:"open_episodes"`
}

// Deps are what a gateway runs with besides its configuration: its logger (nil discards),
// as every component's Logger option, and its clock (nil: the wall clock).
type Deps struct {
	Logger *slog.Logger
	Clock  Clock
}

// New opens the spool and builds the parts; Run starts them.
func New(cfg Config, d Deps) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log, clock := d.Logger, d.Clock
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = wallClock{}
	}
	home, err := cfg.HomeConfig()
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, log: log, clock: clock, lastSeen: map[vagt.DeviceID]time.Time{}, battery: map[vagt.DeviceID]int{},
		refusals: burst.New(time.Minute)}
	g.spool, err = spool.Open(spool.Options{Path: cfg.Spool.Path, Gateway: cfg.Gateway, Municipality: cfg.Municipality,
		MaxBytes: cfg.Spool.MaxBytes, BatchReadings: cfg.Spool.BatchReadings, BatchAge: time.Duration(cfg.Spool.BatchAge),
		Clock: clock, Logger: log.With("component", "spool")})
	if err != nil {
		return nil, err
	}
	// The platform's latest configuration, kept in the spool, beats the file.
	if data, err := g.spool.HomeConfig(); err != nil {
		log.Warn("stored home config unreadable; using the file's", "err", err)
	} else if data != nil {
		if stored, err := vagt.DecodeConfig(data); err == nil && stored.Gateway == cfg.Gateway {
			home = stored
			g.spool.SetMunicipality(stored.Municipality)
		}
	}
	g.trust = newClockTrust(clockStepLimit, keptFloor(g.spool))
	if _, trusted := g.trust.observe(clock.Now(), isSynced(clock)); !trusted {
		log.Warn("clock not trusted: alarms carry the best time the gateway has, marked unsynced", "clock", clock.Now(), "floor", g.trust.stats().Floor)
	}
	if g.engine, err = rules.New(home, rules.Deps{Sink: &alarmSink{next: raiseRecorder{g.spool, &g.help, clock}, clock: clock, trust: g.trust},
		Clock: clock, Logger: log.With("component", "rules")}); err != nil {
		return nil, errors.Join(err, g.spool.Close())
	}
	g.restore()
	g.restoreHelp()
	g.home = home
	g.up, err = newLink(&cfg, log, g.spool, g.status)
	if err != nil {
		return nil, errors.Join(err, g.spool.Close())
	}
	if cfg.Serial.Path != "" {
		g.serial = serial.NewReader(serial.Options{Path: cfg.Serial.Path, Baud: cfg.Serial.Baud, Logger: log.With("component", "serial")})
	}
	if cfg.Zigbee.Broker != "" {
		g.zigbee = zigbee.NewSubscriber(zigbee.Options{Broker: cfg.Zigbee.Broker, BaseTopic: cfg.Zigbee.BaseTopic,
			ClientID: "vagt-gateway-" + string(cfg.Gateway), Username: cfg.Zigbee.Username, Password: cfg.Zigbee.Password,
			Logger: log.With("component", "zigbee"), Now: clock.Now})
		g.zigbee.SetDevices(home.Devices)
	}
	if err := g.confirmAlarms(); err != nil {
		return nil, errors.Join(err, g.spool.Close())
	}
	if g.downlinks() == nil {
		log.Warn("the uplink delivers no downlink: the home will not hear what became of its alarms")
	}
	if cfg.Help.Zigbee != "" {
		g.setter = zigbee.NewSetter(zigbee.Options{Broker: cfg.Zigbee.Broker, BaseTopic: cfg.Zigbee.BaseTopic,
			ClientID: "vagt-gateway-" + string(cfg.Gateway) + "-set", Username: cfg.Zigbee.Username, Password: cfg.Zigbee.Password,
			Logger: log.With("component", "zigbee")})
	}
	if cfg.StatusAddr != "" {
		if g.statusLn, err = net.Listen("tcp", cfg.StatusAddr); err != nil {
			return nil, errors.Join(fmt.Errorf("gateway: status page: %w", err), g.spool.Close())
		}
	}
	return g, nil
}

// newLink builds the uplink, or the pair of uplinks when a secondary broker is configured.
func newLink(cfg *Config, log *slog.Logger, q *spool.Queue, status uplink.StatusFunc) (link, error) {
	u := &cfg.Uplink
	first := uplink.Options{Broker: u.Broker, Gateway: cfg.Gateway, Username: u.Username,
		Password: u.Password, CAFile: u.CAFile, CertFile: u.CertFile, KeyFile: u.KeyFile,
		KeepAlive: time.Duration(u.KeepAlive), Heartbeat: time.Duration(u.Heartbeat),
		MaxBackoff: time.Duration(u.MaxBackoff), DrainRate: u.DrainRate, LaneQoS0: u.LaneQoS == 0, Logger: log.With("component", "uplink")}
	sec := &u.Secondary
	if sec.Broker == "" {
		return uplink.New(first, q, status)
	}
	second := first
	second.Broker, second.Username, second.Password = sec.Broker, sec.Username, sec.Password
	second.CAFile, second.CertFile, second.KeyFile = sec.CAFile, sec.CertFile, sec.KeyFile
	first.Logger, second.Logger = first.Logger.With("link", "primary"), first.Logger.With("link", "secondary")
	return uplink.NewPair(first, second, q, status, uplink.PairOptions{
		AlarmHedge: time.Duration(sec.AlarmHedge), TelemetryFailoverAfter: time.Duration(sec.TelemetryFailoverAfter)})
}

// StatusAddr is the status page's address (useful with port 0), "" without one.
func (g *Gateway) StatusAddr() string {
	if g.statusLn == nil {
		return ""
	}
	return g.statusLn.Addr().String()
}

// Run runs until ctx is done, then shuts down without losing anything: the inputs stop,
// what they delivered is spooled, the pending readings are cut into a batch, the uplink
// says offline and disconnects, and the spool is closed with whatever is not yet
// acknowledged in it.
func (g *Gateway) Run(ctx context.Context) error {
	in := make(chan input, 256)
	upCtx, stopUp := context.WithCancel(context.Background())
	var inputs, others sync.WaitGroup
	send := func(x input) {
		// Blocks rather than drops: the pipeline is a local disk away.
		in <- x
	}
	if g.serial != nil {
		inputs.Go(func() {
			g.serial.Run(ctx, func(f serial.Frame) { g.help.heard(f.Unit); g.fromSerial(f, send) })
		})
	}
	if g.zigbee != nil {
		inputs.Go(func() {
			g.zigbee.Run(ctx, func(u zigbee.Update) {
				send(zigbeeInput(u))
			})
		})
	}
	others.Go(func() { g.up.Run(upCtx) })
	if g.setter != nil {
		others.Go(func() { g.setter.Run(upCtx) })
	}
	var srv *http.Server
	if g.statusLn != nil {
		srv = &http.Server{Handler: g.statusHandler(), ReadHeaderTimeout: 5 * time.Second}
		others.Go(func() {
			if err := srv.Serve(g.statusLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.log.Error("status page", "err", err)
			}
		})
	}
	go func() { inputs.Wait(); close(in) }() // ends when the inputs have, which Run waits for below
	g.log.Info("gateway running", "gateway", g.cfg.Gateway, "serial", g.cfg.Serial.Path, "zigbee", g.cfg.Zigbee.Broker, "uplink", g.cfg.Uplink.Broker, "status", g.StatusAddr())
	g.pipeline(ctx, in)
	inputs.Wait()
	g.keepTimers(true)
	if err := g.trust.keep(g.spool, true); err != nil {
		g.log.Error("keep clock floor", "err", err)
	}
	if _, err := g.spool.Cut(true); err != nil {
		g.log.Error("cut at shutdown", "err", err)
	}
	stopUp()
	if srv != nil {
		shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		srv.Shutdown(shutCtx)
		cancel()
	}
	others.Wait()
	st := g.spool.Stats()
	g.log.Info("gateway stopped", "spool_depth", st.Depth(), "alarms_waiting", st.Alarms)
	return g.spool.Close()
}

// tick watches the clock, runs the timed rules and cuts batches.
func (g *Gateway) tick() {
	g.observeClock()
	if err := g.engine.Tick(); err != nil {
		g.log.Error("rules", "err", err)
	}
	if _, err := g.spool.Cut(false); err != nil {
		g.log.Error("spool cut", "err", err)
	}
	g.setEpisodes()
	g.keepTimers(false)
	g.watchHelp()
	if _, err := g.spool.Resend(time.Now()); err != nil { // monotonic: the clock may step
		g.log.Error("resend unconfirmed alarms", "err", err)
	}
}

// observeClock lets the clock trust see the clock every tick (a step is seen between two
// readings), says when trust changes, and keeps the floor.
func (g *Gateway) observeClock() {
	before := g.trust.stats().Trusted
	now := g.clock.Now()
	if _, trusted := g.trust.observe(now, isSynced(g.clock)); trusted != before {
		level := slog.LevelWarn // alarms from now on are marked unsynced
		if trusted {
			level = slog.LevelInfo
		}
		g.log.Log(context.Background(), level, "clock trust changed", "trusted", trusted, "clock", now, "floor", g.trust.stats().Floor)
	}
	if err := g.trust.keep(g.spool, false); err != nil {
		g.log.Error("keep clock floor", "err", err)
	}
}

// restore reopens the rule episodes and resumes the rule timers kept in the spool. What
// cannot be read is logged and left out: the rules then start as on a new gateway (no
// episode open, every timer from now), which raises nothing false.
func (g *Gateway) restore() {
	if data, err := g.spool.State(stateEpisodes); err != nil {
		g.log.Error("open alarm episodes unreadable; none restored", "err", err)
	} else if data != nil {
		var eps []rules.Episode
		if err := json.Unmarshal(data, &eps); err != nil {
			g.log.Error("open alarm episodes unreadable; none restored", "err", err)
		} else {
			g.engine.Restore(eps)
		}
	}
	data, err := g.spool.RuleTimers()
	if err == nil && data != nil {
		var t rules.Timers
		if t, err = rules.DecodeTimers(data); err == nil {
			g.engine.RestoreTimers(t)
			g.log.Info("rule timers resumed", "saved_at", t.SavedAt, "out_of_bed", len(t.BedOutSince), "cold", len(t.ColdSince))
		}
	}
	if err != nil {
		g.log.Error("rule timers unreadable; they start afresh", "err", err)
	}
	g.engine.DetectClockSteps(clockStepLimit)
}

// fromSerial turns a base-unit frame into an input.
func (g *Gateway) fromSerial(f serial.Frame, send func(input)) {
	now := g.clock.Now()
	x := input{seen: f.DeviceID()}
	switch f.Type {
	case serial.TypeReading:
		x.readings = []vagt.Reading{{Device: f.DeviceID(), Kind: f.Kind, Time: now, Value: f.Value}}
	case serial.TypeAlarm:
		kind, value, _ := serial.AlarmReading(f.Alarm)
		x.readings = []vagt.Reading{{Device: f.DeviceID(), Kind: kind, Time: now, Value: value}}
		x.ack = &f
	case serial.TypeHeartbeat:
		x.readings = []vagt.Reading{{Device: f.DeviceID(), Kind: vagt.KindBattery, Time: now, Value: float64(f.Battery)}}
	default:
		return
	}
	send(x)
}

// pipeline owns the rules engine: it spools what the inputs deliver, feeds the rules,
// ticks them, cuts batches, and applies configurations. It returns when in is closed.
func (g *Gateway) pipeline(ctx context.Context, in <-chan input) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// At once, not a second later: a timer that ran out while the gateway was off fires now.
	g.tick()
	for {
		select {
		case x, ok := <-in:
			if !ok {
				return
			}
			// Take what else is waiting too: one fsync for all of it.
			group := []input{x}
		more:
			for len(group) < 64 {
				select {
				case y, ok := <-in:
					if !ok {
						break more
					}
					group = append(group, y)
				default:
					break more
				}
			}
			g.process(group)
			g.unmapped(group)
		case <-tick.C:
			g.tick()
		case data := <-g.up.Configs():
			g.applyConfig(data)
		case data := <-g.downlinks():
			g.applyDownlink(data)
		case <-ctx.Done():
			// Keep draining until the inputs have stopped and in is closed.
			ctx = context.Background()
		}
	}
}
