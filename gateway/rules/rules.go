// Package rules runs the edge rules in the home, so they work while the uplink is down:
// device alarms (panic, fall, smoke, water, tamper), door opened at night, bed exit without
// return, inactivity, low indoor temperature, missed medication, low battery and silent
// devices. A rule raises an alarm once per episode and clears it (an alarm event whose
// Clears is the raise's seq) when the condition ends. Time comes from an injected clock.
package rules

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt"
)

// Clock tells the time; tests use a fake one and never sleep.
type Clock interface{ Now() time.Time }

// Sink stores an alarm and numbers it (the spool): the engine needs the raise's seq to
// clear it later.
type Sink interface {
	AddAlarm(a *vagt.Alarm) (uint64, error)
}

// DefaultTimeZone is where the rule windows are read when the configuration names none.
const DefaultTimeZone = "Europe/Copenhagen"

// momentaryQuiet: a panic or fall raised again within this time of the last one is the
// same episode (a citizen pressing the button five times wants help once, now).
const momentaryQuiet = 2 * time.Minute

// lowBatteryHysteresis and lowTempHysteresis keep a value hovering at a threshold from
// raising and clearing in turn.
const (
	lowBatteryHysteresis = 5   // %
	lowTempHysteresis    = 0.5 // °C
)

type episode struct {
	typ    vagt.AlarmType
	device vagt.DeviceID
	sub    string // a dose number, where one device has several episodes of a type
}

// Engine evaluates the rules for one home. It is not safe for concurrent use: the
// gateway calls it from one goroutine.
type Engine struct {
	cfg     vagt.HomeConfig
	devices map[vagt.DeviceID]vagt.DeviceConfig
	loc     *time.Location
	sink    Sink
	clock   Clock
	log     *slog.Logger
	home    vagt.DeviceID // alarms about the home as a whole carry the gateway's id
	started time.Time

	open         map[episode]uint64    // raised and not cleared: the raise's seq
	changed      bool                  // open changed since Changed was called
	momentary    map[episode]time.Time // last panic/fall of a device
	lastActivity time.Time
	lastSeen     map[vagt.DeviceID]time.Time
	offline      map[vagt.DeviceID]bool
	bedOutSince  map[vagt.DeviceID]time.Time // out of bed during the night, since
	coldSince    map[vagt.DeviceID]time.Time
	takenAt      map[int]time.Time // dose → when it was last taken
	silenced     map[episode]bool  // held back by the absence (logged once each)

	// Keeping the timers (timers.go).
	timersDirty  bool                        // a timer started or stopped since Timers
	keptAt       time.Time                   // when the state was last kept
	keptActivity time.Time                   // lastActivity as last kept
	keptSeen     map[vagt.DeviceID]time.Time // lastSeen as last kept
	offSince     time.Time                   // the gateway was off from (the restored state's save) …
	offUntil     time.Time                   // … until (the restart), for the missed-medication details
	stepLimit    time.Duration               // DetectClockSteps
	lastNow      time.Time                   // the clock at the last call, for DetectClockSteps
}

// Deps are what an engine runs with: where its alarms go, its clock, and its logger (nil
// discards), as every component's Logger option.
type Deps struct {
	Sink   Sink
	Clock  Clock
	Logger *slog.Logger
}

// New returns an engine for the configuration.
func New(cfg vagt.HomeConfig, d Deps) (*Engine, error) {
	sink, clock, log := d.Sink, d.Clock, d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := clock.Now().Round(0) // wall clock only: see Engine.wall
	e := &Engine{sink: sink, clock: clock, log: log, started: now, lastActivity: now,
		open: map[episode]uint64{}, momentary: map[episode]time.Time{}, lastSeen: map[vagt.DeviceID]time.Time{},
		offline: map[vagt.DeviceID]bool{}, bedOutSince: map[vagt.DeviceID]time.Time{}, coldSince: map[vagt.DeviceID]time.Time{},
		takenAt: map[int]time.Time{}, silenced: map[episode]bool{}, timersDirty: true, lastNow: now, keptSeen: map[vagt.DeviceID]time.Time{}}
	if err := e.SetConfig(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// SetConfig applies a new configuration; what the engine knows (open episodes, last
// activity) carries over.
func (e *Engine) SetConfig(cfg vagt.HomeConfig) error {
	tz := cfg.TimeZone
	if tz == "" {
		tz = DefaultTimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return fmt.Errorf("rules: time zone %q: %w", tz, err)
	}
	e.cfg, e.loc, e.home = cfg, loc, vagt.DeviceID(cfg.Gateway)
	e.devices = make(map[vagt.DeviceID]vagt.DeviceConfig, len(cfg.Devices))
	for _, d := range cfg.Devices {
		e.devices[d.Device] = d
	}
	// A device the new map takes in is no longer unknown. A clear that cannot be spooled
	// stays open and is logged: it must not make the gateway refuse the configuration.
	for ep := range e.open {
		if _, mapped := e.devices[ep.device]; mapped && ep.typ == vagt.AlarmUnknownDevice {
			if err := e.clear(ep, nil); err != nil {
				e.log.Error("clear unknown device", "err", err)
			}
		}
	}
	return nil
}

// Unmapped raises a technical alert (unknown_device) about a device that sent an alarm but
// is not in the device map, once until the map takes it in. The alarm itself goes its
// usual way (Observe). via is the base unit of a serial peripheral ("" for Zigbee): a
// peripheral of a unit in the map is the unit's, not unknown. A gateway with neither a
// device map nor a configuration from the platform is not set up yet: nothing is expected
// of it, nothing is raised.
func (e *Engine) Unmapped(dev, via vagt.DeviceID, details map[string]string) error {
	_, mapped := e.devices[dev]
	if _, unit := e.devices[via]; via != "" && unit {
		mapped = true
	}
	if mapped || (len(e.cfg.Devices) == 0 && e.cfg.Version == 0) {
		return nil
	}
	return e.raise(episode{typ: vagt.AlarmUnknownDevice, device: dev}, details)
}

// OpenEpisodes returns how many alarms are raised and not cleared.
func (e *Engine) OpenEpisodes() int { return len(e.open) }

func (e *Engine) raise(ep episode, details map[string]string) error {
	return e.raiseAt(ep, details, e.wall())
}

// raiseAt raises an alarm whose time is when its condition was met: for a timer, when it
// ran out, which after a restart may be earlier than now.
func (e *Engine) raiseAt(ep episode, details map[string]string, at time.Time) error {
	if _, ok := e.open[ep]; ok {
		return nil
	}
	if e.silencedByAbsence(ep) {
		return nil
	}
	a := vagt.Alarm{Time: at, Device: ep.device, Type: ep.typ, Priority: ep.typ.Priority(), Details: details}
	seq, err := e.sink.AddAlarm(&a)
	if err != nil {
		return fmt.Errorf("rules: raise %s for %s: %w", ep.typ, ep.device, err)
	}
	e.open[ep] = seq
	e.changed = true
	e.log.Info("alarm raised", "type", ep.typ, "device", ep.device, "seq", seq)
	return nil
}

func (e *Engine) clear(ep episode, details map[string]string) error {
	seq, ok := e.open[ep]
	if !ok {
		return nil
	}
	a := vagt.Alarm{Time: e.wall(), Device: ep.device, Type: ep.typ, Priority: ep.typ.Priority(), Clears: seq, Details: details}
	if _, err := e.sink.AddAlarm(&a); err != nil {
		return fmt.Errorf("rules: clear %s for %s: %w", ep.typ, ep.device, err)
	}
	delete(e.open, ep)
	e.changed = true
	e.log.Info("alarm cleared", "type", ep.typ, "device", ep.device, "clears", seq)
	return nil
}

// momentaryRaise raises a panic or fall unless one was raised for the device lately.
func (e *Engine) momentaryRaise(ep episode, details map[string]string) error {
	now := e.wall()
	if last, ok := e.momentary[ep]; ok && now.Sub(last) < momentaryQuiet {
		e.momentary[ep] = now
		return nil
	}
	delete(e.open, ep) // a momentary alarm has no clear: each episode is a new raise
	changed := e.changed
	if err := e.raise(ep, details); err != nil {
		return err
	}
	delete(e.open, ep)
	e.changed = changed // nothing stays open: nothing to keep
	e.momentary[ep] = now
	return nil
}

// Observe feeds a reading to the rules that react to one.
func (e *Engine) Observe(r vagt.Reading) error {
	now := e.now()
	if err := e.heard(r.Device, now); err != nil {
		return err
	}
	dev := e.devices[r.Device]
	on := r.Value != 0
	ep := func(t vagt.AlarmType) episode { return episode{typ: t, device: r.Device} }
	switch r.Kind {
	case vagt.KindButtonPress:
		e.lastActivity = now
		if r.Value == vagt.PressEmergency || dev.PanicOnPress {
			return e.momentaryRaise(ep(vagt.AlarmPanic), map[string]string{"press": strconv.Itoa(int(r.Value))})
		}
		return e.clearInactivity()
	case vagt.KindFall:
		return e.momentaryRaise(ep(vagt.AlarmFall), nil)
	case vagt.KindSmoke, vagt.KindWaterLeak, vagt.KindTamper:
		t := map[vagt.Kind]vagt.AlarmType{vagt.KindSmoke: vagt.AlarmSmoke, vagt.KindWaterLeak: vagt.AlarmWaterLeak, vagt.KindTamper: vagt.AlarmTamper}[r.Kind]
		if on {
			return e.raise(ep(t), nil)
		}
		return e.clear(ep(t), nil)
	case vagt.KindMotion:
		if on {
			e.lastActivity = now
			return e.clearInactivity()
		}
	case vagt.KindDoorOpen:
		e.lastActivity = now
		if err := e.clearInactivity(); err != nil {
			return err
		}
		if !on {
			return e.clear(ep(vagt.AlarmDoorAtNight), nil)
		}
		if e.cfg.Rules.DoorAtNight && e.cfg.Rules.Night.Contains(now.In(e.loc)) {
			return e.raise(ep(vagt.AlarmDoorAtNight), map[string]string{"local_time": now.In(e.loc).Format("15:04")})
		}
	case vagt.KindBedOccupied:
		e.lastActivity = now
		if err := e.clearInactivity(); err != nil {
			return err
		}
		if on {
			if _, out := e.bedOutSince[r.Device]; out {
				delete(e.bedOutSince, r.Device)
				e.timersDirty = true
			}
			return e.clear(ep(vagt.AlarmBedExit), nil)
		}
		if _, out := e.bedOutSince[r.Device]; !out && e.cfg.Rules.Night.Contains(now.In(e.loc)) {
			e.bedOutSince[r.Device] = now
			e.timersDirty = true
		}
	case vagt.KindTemperature:
		th := e.cfg.Rules.LowTemperature
		switch {
		case r.Value < th:
			if _, cold := e.coldSince[r.Device]; !cold {
				e.coldSince[r.Device] = now
				e.timersDirty = true
			}
		case r.Value >= th+lowTempHysteresis:
			if _, cold := e.coldSince[r.Device]; cold {
				delete(e.coldSince, r.Device)
				e.timersDirty = true
			}
			return e.clear(ep(vagt.AlarmLowTemperature), map[string]string{"temperature": strconv.FormatFloat(r.Value, 'f', 1, 64)})
		}
	case vagt.KindMedicationTaken:
		dose := int(r.Value)
		e.takenAt[dose] = now
		e.timersDirty = true
		sub := strconv.Itoa(dose)
		if err := e.clear(episode{typ: vagt.AlarmMissedMedication, device: r.Device, sub: sub}, nil); err != nil {
			return err
		}
		return e.clear(episode{typ: vagt.AlarmMissedMedication, device: e.medicationDevice(), sub: sub}, nil)
	case vagt.KindMedicationMissed:
		dose := strconv.Itoa(int(r.Value))
		return e.raise(episode{typ: vagt.AlarmMissedMedication, device: r.Device, sub: dose}, map[string]string{"dose": dose})
	case vagt.KindBattery:
		if lb := e.cfg.Rules.LowBattery; lb > 0 {
			if r.Value < float64(lb) {
				return e.raise(ep(vagt.AlarmLowBattery), map[string]string{"battery": strconv.Itoa(int(r.Value))})
			}
			if r.Value >= float64(lb+lowBatteryHysteresis) {
				return e.clear(ep(vagt.AlarmLowBattery), nil)
			}
		}
	case vagt.KindBatteryLow:
		if on {
			return e.raise(ep(vagt.AlarmLowBattery), map[string]string{"battery_low": "true"})
		}
		return e.clear(ep(vagt.AlarmLowBattery), nil)
	}
	return nil
}

func (e *Engine) clearInactivity() error {
	return e.clear(episode{typ: vagt.AlarmInactivity, device: e.home}, nil)
}

// Seen records that a device was heard from (any message, also one without readings);
// online is non-nil for an availability report.
func (e *Engine) Seen(dev vagt.DeviceID, online *bool) error {
	now := e.now()
	ep := episode{typ: vagt.AlarmSilentDevice, device: dev}
	if online != nil && !*online {
		e.offline[dev] = true
		return e.raise(ep, map[string]string{"availability": "offline"})
	}
	return e.heard(dev, now)
}

func (e *Engine) heard(dev vagt.DeviceID, now time.Time) error {
	e.lastSeen[dev] = now
	delete(e.offline, dev)
	return e.clear(episode{typ: vagt.AlarmSilentDevice, device: dev}, nil)
}
