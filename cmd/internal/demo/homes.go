package demo

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/firmware-sim/zigbee2mqtt"
	"github.com/vagt-dk/vagt/gateway"
)

// simulation owns the village's homes.
type simulation struct {
	cfg    Config
	dir    string
	broker brokerAccess
	log    *slog.Logger
	day    api.Clock // the homes' time of day (the shift clock under --night-speed)
	// announce prints a line for each alarm raised, for the one watching the demo.
	announce func(at time.Time, h demoHome, what vagt.AlarmType)

	mu    sync.Mutex
	homes []*home
}

// home is one running home: the real gateway between an emulated base unit on a
// pseudo-terminal and emulated Zigbee2MQTT devices on the home's bus (a topic tree of the
// embedded broker standing in for the home's own broker).
type home struct {
	demoHome
	gw   *gateway.Gateway
	line *baseunit.Line
	unit *baseunit.Unit
	z2m  *zigbee2mqtt.Bridge
	tick time.Duration
	rnd  *rand.Rand
	log  *slog.Logger
	day  api.Clock

	leaking atomic.Bool // the bathroom floor is wet
}

func (s *simulation) start(ctx context.Context, i int, h demoHome) (*home, error) {
	dir := filepath.Join(s.dir, "homes", string(h.gateway))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	gwUser, gwPassword, err := s.broker.user(string(h.gateway), roleGateway, string(h.gateway))
	if err != nil {
		return nil, err
	}
	z2mUser, z2mPassword, err := s.broker.user("z2m-"+string(h.gateway), roleZigbee, string(h.gateway))
	if err != nil {
		return nil, err
	}
	line, err := baseunit.NewLine(filepath.Join(dir, "tty"))
	if err != nil {
		return nil, err
	}
	base := "z2m/" + string(h.gateway)
	bus, err := url.Parse(s.broker.url)
	if err != nil {
		line.Unplug()
		return nil, err
	}
	if z2mUser != "" {
		bus.User = url.UserPassword(z2mUser, z2mPassword)
	}
	z2m, err := zigbee2mqtt.Connect(bus.String(), base)
	if err != nil {
		line.Unplug()
		return nil, err
	}

	c := gateway.Defaults()
	c.Gateway, c.Municipality = h.gateway, h.municipality
	c.Spool.Path = filepath.Join(dir, "spool.db")
	c.Uplink.Broker, c.Uplink.Username, c.Uplink.Password = s.broker.url, gwUser, gwPassword
	c.Uplink.Heartbeat = gateway.Duration(30 * time.Second)
	c.Serial.Path = line.Path
	c.Zigbee.Broker, c.Zigbee.BaseTopic, c.Zigbee.Username, c.Zigbee.Password = s.broker.url, base, gwUser, gwPassword
	c.StatusAddr = ""
	c.Home.Rules.DoorAtNight = true
	c.Home.Rules.LowBattery = 15
	c.Home.Rules.SilentFactor = 6
	for _, d := range h.devices {
		f := gateway.DeviceFile{Device: d.id, Technology: d.tech, Zigbee: d.zigbee, PanicOnPress: d.panic}
		if d.zigbee != "" {
			f.ReportEvery = gateway.Duration(s.cfg.Tick)
		}
		c.Home.Devices = append(c.Home.Devices, f)
	}
	log := s.log.With("gateway", h.gateway)
	gw, err := gateway.New(c, gateway.Deps{Logger: log})
	if err != nil {
		z2m.Close()
		line.Unplug()
		return nil, err
	}
	hm := &home{demoHome: h, gw: gw, line: line, unit: baseunit.New(h.unit), z2m: z2m, tick: s.cfg.Tick, day: s.day,
		rnd: rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))), log: log}
	s.mu.Lock()
	s.homes = append(s.homes, hm)
	s.mu.Unlock()
	return hm, nil
}

// run runs the gateway, the base unit and the home's daily rhythm until ctx ends.
func (h *home) run(ctx context.Context) error {
	defer h.line.Unplug()
	defer h.z2m.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() { errs <- h.gw.Run(ctx) })
	wg.Go(func() {
		if err := h.unit.Run(ctx, h.line.End()); err != nil && ctx.Err() == nil {
			h.log.Warn("base unit stopped", "err", err)
		}
	})
	wg.Go(func() { h.rhythm(ctx) })
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// rhythm plays a day in the home: climate every tick, motion and the door in the day,
// the bed at night, the base unit's heartbeat. A failed publish only means the home's bus
// is briefly away; the next tick tries again.
func (h *home) rhythm(ctx context.Context) {
	t := time.NewTicker(h.tick)
	defer t.Stop()
	start := time.Now()
	for n := 0; ; n++ {
		now := h.day.Now().In(copenhagen)
		night := now.Hour() >= 22 || now.Hour() < 7
		temp := 20.5 + 1.5*h.rnd.Float64()
		if night {
			temp -= 1
		}
		_ = h.z2m.Climate("living_room", float64(int(temp*10))/10, float64(40+h.rnd.IntN(15)))
		_ = h.z2m.Motion("hall_motion", !night && h.rnd.IntN(3) > 0, 20+h.rnd.IntN(300))
		// A contact sensor reports its state periodically, as real ones do, so a
		// silent one stands out; now and then in the day somebody goes out.
		if !night && h.rnd.IntN(12) == 0 {
			_ = h.z2m.Door("front_door", true)
		}
		_ = h.z2m.Door("front_door", false)
		if h.has(vagt.TechWaterAlarm) {
			_ = h.z2m.Water("bathroom_leak", h.leaking.Load())
		}
		if h.has(vagt.TechBedSensor) {
			_ = h.unit.Reading("bed-1", "bed_occupied", boolValue(night))
		}
		if n%6 == 0 {
			_ = h.unit.Heartbeat(time.Since(start), true, 100)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *home) has(t vagt.Technology) bool {
	for _, d := range h.devices {
		if d.tech == t {
			return true
		}
	}
	return false
}

// raise makes something happen in the home that is an alarm: a pendant press, a fall, a
// leak (which dries up again a minute later). It runs on the village's alarm goroutine, so
// it draws from that goroutine's rnd, not the home's.
func (h *home) raise(rnd *rand.Rand) vagt.AlarmType {
	switch r := rnd.IntN(10); {
	case r < 6:
		h.unit.Alarm("btn", "panic")
		return vagt.AlarmPanic
	case r < 8 && h.has(vagt.TechFallDetector):
		h.unit.Alarm("fall-1", "fall")
		return vagt.AlarmFall
	case h.has(vagt.TechWaterAlarm):
		// The rhythm reports the sensor's state every tick; the floor dries after a minute.
		h.leaking.Store(true)
		_ = h.z2m.Water("bathroom_leak", true)
		time.AfterFunc(time.Minute, func() { h.leaking.Store(false) })
		return vagt.AlarmWaterLeak
	}
	h.unit.Alarm("btn", "panic")
	return vagt.AlarmPanic
}

// alarms raises an alarm somewhere in the village: the first soon after the start, then
// on average every AlarmEvery.
func (s *simulation) alarms(ctx context.Context) {
	rnd := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	wait := s.cfg.FirstAlarm
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		// Alarms happen where the printed staff token works (Hedensted); Aarhus's homes
		// bring telemetry and statistics.
		s.mu.Lock()
		var (
			h     *home
			cands []*home
		)
		for _, c := range s.homes {
			if c.municipality == staffMunicipality {
				cands = append(cands, c)
			}
		}
		if len(cands) > 0 {
			h = cands[rnd.IntN(len(cands))]
		}
		s.mu.Unlock()
		if h != nil {
			what := h.raise(rnd)
			s.log.Info("alarm in the village", "gateway", h.gateway, "what", what)
			if s.announce != nil {
				s.announce(time.Now(), h.demoHome, what)
			}
		}
		wait = time.Duration(float64(s.cfg.AlarmEvery) * (0.5 + rnd.Float64()))
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// copenhagen is where the homes' day and night are.
var copenhagen = vagt.Copenhagen
