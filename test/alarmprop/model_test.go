package alarmprop

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vagt-dk/vagt"
)

// source is where an alarm comes from.
type source int

const (
	fromSerial source = iota // an A frame of the base unit
	fromZigbee               // a Zigbee2MQTT payload on the home broker
)

func (s source) String() string { return [...]string{"serial", "zigbee"}[s] }

// alarm is one alarm of the model: a device that raised nothing before its first press.
// Its later presses and clears stay on that device, so they belong to the same alert.
type alarm struct {
	src    source
	dev    vagt.DeviceID // as in the alert: "bu-prop:s12" or the Zigbee device id
	name   string        // the unit's peripheral, or the Zigbee friendly name
	typ    vagt.AlarmType
	wire   string // the serial alarm name (panic, fall, smoke, water_leak, tamper)
	open   bool   // a state alarm (smoke, water, tamper): raised and not cleared
	frames []uint16
	sent   int // Zigbee: messages published to its topic
	// Set by the execution: the unit got a K for one of its frames; the gateway PUBACKed
	// one of its Zigbee messages.
	delivered bool
	notes     []string // the actions on it, for a failure's message
}

// stateful alarms have a clear; panics and falls are momentary.
func (a *alarm) stateful() bool {
	return a.typ == vagt.AlarmSmoke || a.typ == vagt.AlarmWaterLeak || a.typ == vagt.AlarmTamper
}

var serialAlarms = []struct {
	wire string
	typ  vagt.AlarmType
}{{"panic", vagt.AlarmPanic}, {"fall", vagt.AlarmFall}, {"smoke", vagt.AlarmSmoke}, {"water_leak", vagt.AlarmWaterLeak}, {"tamper", vagt.AlarmTamper}}

// kind is what an action does.
type kind int

const (
	actSerialNew kind = iota
	actSerialRepeat
	actSerialClear
	actZigbeeNew
	actZigbeeRepeat
	actZigbeeClear
	actReadings
	actNoise
	actGhost // a torn or corrupted alarm frame, or a Zigbee payload that is no alarm
	actClock
	actCut
	actRestore
	actBrokerDown
	actBrokerUp
	actGatewayKill
	actGatewayStart
	actWait
	numKinds
)

var kindNames = [numKinds]string{"serial press", "serial repeat", "serial clear", "zigbee press", "zigbee repeat",
	"zigbee clear", "readings", "serial noise", "ghost frame", "clock step", "uplink cut", "uplink restore",
	"broker down", "broker up", "gateway kill -9", "gateway start", "wait"}

func (k kind) String() string { return kindNames[k] }

// clockSpec is how a clock action or a gateway start sets the gateway's clock.
type clockSpec int

const (
	clockKeep     clockSpec = iota // start: the clock runs on from where it was
	clockTrue                      // NTP: the true time
	clockTo1970                    // stepped back to a time on 1970-01-01
	clockForward                   // stepped forward by years
	clockBoot1970                  // start: a box without RTC boots, its clock at 1970-01-01T00:00:07Z
)

var clockNames = [...]string{"keep", "true time", "back to 1970", "forward", "boot at 1970"}

// bootTime is where a box without RTC finds its clock when the gateway starts: the epoch
// plus the seconds of the boot, the same on every boot.
var bootTime = time.Date(1970, 1, 1, 0, 0, 7, 0, time.UTC)

// action is one step of the plan: what is done and its random parameters, all drawn
// from the seed.
type action struct {
	kind      kind
	alarm     *alarm
	n         int           // readings, noise bytes, ghost variant, years, seconds into 1970
	d         time.Duration // a wait; a kill's delay
	variant   int
	clock     clockSpec
	spoolLoss bool // gateway start: the spool file was deleted while it was stopped
	hard      bool // broker down: kill -9 rather than a clean stop
	forced    bool // parameters set by the planner's debts, not drawn
	seed      uint64
}

func (a action) String() string {
	s := a.kind.String()
	switch a.kind {
	case actSerialNew, actSerialRepeat, actSerialClear, actZigbeeNew, actZigbeeRepeat, actZigbeeClear:
		s += fmt.Sprintf(" %s (%s)", a.alarm.dev, a.alarm.typ)
		if a.kind == actSerialNew && a.variant == 1 {
			s += " after a torn frame"
		}
	case actReadings:
		s += fmt.Sprintf(" ×%d", a.n)
	case actNoise:
		s += fmt.Sprintf(" %d bytes", a.n)
	case actGhost:
		s += " " + [...]string{"torn", "bit flip", "bad crc", "zigbee garbage"}[a.variant]
	case actClock:
		s += " " + clockNames[a.clock]
		switch a.clock {
		case clockForward:
			s += fmt.Sprintf(" %d years", a.n)
		case clockTo1970:
			s += fmt.Sprintf(" +%ds", a.n)
		}
	case actBrokerDown:
		s += map[bool]string{true: " (kill -9)", false: " (clean stop)"}[a.hard]
	case actGatewayKill:
		s += fmt.Sprintf(" after %s", a.d)
	case actGatewayStart:
		s += ", clock " + clockNames[a.clock]
		if a.spoolLoss {
			s += ", spool lost"
		}
	case actWait:
		s += " " + a.d.String()
	}
	return s
}

// model is the planner's view: what is up, and the alarms so far. It changes with the
// actions planned, never with what the processes did, so the plan is the seed's alone.
type model struct {
	r         *rand.Rand
	zb        pool
	gwUp      bool
	brokerUp  bool
	cut       bool
	downFor   int // actions since the gateway went down
	brokerFor int
	cutFor    int
	skip      map[string]bool // fault groups left out (VAGT_ALARM_SKIP)
	// horizon: the plan's length when known; from two thirds of it, the faults not yet
	// planned are owed (see owe), so that even the short run has each of them.
	horizon  int
	planned  int
	seen     map[string]bool
	bootOwed bool // the next start boots at 1970 on a new spool

	alarms  []*alarm
	serialN int
	zbNext  map[string]int // next unused device of each Zigbee pool
	ghosts  int
	counts  [numKinds]int
}

func newModel(seed uint64, zb pool, skip map[string]bool) *model {
	return &model{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), zb: zb, gwUp: true, brokerUp: true,
		zbNext: map[string]int{}, skip: skip, seen: map[string]bool{}}
}

// owed returns a fault that the plan must still have, as an action, or false. It is
// called from two thirds of a known horizon on, when the state leaves a free choice.
func (m *model) owed(a *action) bool {
	debts := []struct {
		name  string
		group string
		set   func()
	}{
		{"back to 1970", "clock", func() { a.kind, a.clock, a.n = actClock, clockTo1970, 60 }},
		{"forward", "clock", func() { a.kind, a.clock, a.n = actClock, clockForward, 3 }},
		{"boot at 1970, spool lost", "spool", func() { a.kind, a.d = actGatewayKill, 0; m.bootOwed = true }},
		{"broker kill -9", "broker", func() { a.kind, a.hard = actBrokerDown, true }},
		{"broker clean stop", "broker", func() { a.kind, a.hard = actBrokerDown, false }},
		{"uplink cut", "cut", func() { a.kind = actCut }},
	}
	for _, d := range debts {
		if m.seen[d.name] || m.skip[d.group] || (d.name == "boot at 1970, spool lost" && m.skip["clock"]) {
			continue
		}
		d.set()
		a.forced = true
		return true
	}
	return false
}

// faultGroups name the faults VAGT_ALARM_SKIP can leave out, to find which one breaks
// the property; a seed replays a run only with the same list.
var faultGroups = map[string][]kind{
	"clock": {actClock}, "kill": {actGatewayKill}, "broker": {actBrokerDown}, "cut": {actCut},
	"noise": {actNoise, actGhost}, "spool": nil, // spool loss and a boot at 1970 are gateway start options
}

// weights of the actions chosen freely (some are forced by the state, see next).
var weights = []struct {
	k kind
	w int
}{
	{actSerialNew, 14}, {actSerialRepeat, 4}, {actSerialClear, 4},
	{actZigbeeNew, 10}, {actZigbeeRepeat, 3}, {actZigbeeClear, 3},
	{actReadings, 10}, {actNoise, 5}, {actGhost, 6},
	{actClock, 6}, {actCut, 3}, {actBrokerDown, 3}, {actGatewayKill, 7}, {actWait, 12},
}

// next plans the next action.
func (m *model) next() action {
	r := m.r
	a := action{seed: r.Uint64()}
	switch {
	case !m.gwUp && (m.downFor >= 4 || r.IntN(2) == 0):
		a.kind = actGatewayStart
	case !m.brokerUp && (m.brokerFor >= 4 || r.IntN(3) == 0):
		a.kind = actBrokerUp
	case m.cut && (m.cutFor >= 12 || r.IntN(6) == 0):
		a.kind = actRestore
	case m.horizon > 0 && m.planned >= m.horizon*2/3 && m.owed(&a):
	default:
		total := 0
		for _, x := range weights {
			total += x.w
		}
		n := r.IntN(total)
		for _, x := range weights {
			if n < x.w {
				a.kind = x.k
				break
			}
			n -= x.w
		}
	}
	for g := range m.skip {
		for _, k := range faultGroups[g] {
			if a.kind == k {
				a.kind = actWait
			}
		}
	}
	m.fill(&a)
	if m.skip["spool"] {
		a.spoolLoss = false
	}
	if m.skip["clock"] && a.clock == clockBoot1970 {
		a.clock = clockKeep
	}
	m.counts[a.kind]++
	m.planned++
	m.note(a)
	if !m.gwUp {
		m.downFor++
	}
	if !m.brokerUp {
		m.brokerFor++
	}
	if m.cut {
		m.cutFor++
	}
	return a
}

// fill draws the action's parameters and applies it to the model; an action that does
// not fit the state becomes a wait.
func (m *model) fill(a *action) {
	r := m.r
	pick := func(ok func(*alarm) bool) *alarm {
		var c []*alarm
		for _, x := range m.alarms {
			if ok(x) {
				c = append(c, x)
			}
		}
		if len(c) == 0 {
			return nil
		}
		return c[r.IntN(len(c))]
	}
	switch a.kind {
	case actSerialNew:
		m.serialN++
		s := serialAlarms[r.IntN(len(serialAlarms))]
		name := fmt.Sprintf("s%d", m.serialN)
		a.alarm = &alarm{src: fromSerial, name: name, dev: vagt.DeviceID(unitID + ":" + name), typ: s.typ, wire: s.wire, open: true}
		a.variant = r.IntN(4) // 1: a torn frame first
		m.alarms = append(m.alarms, a.alarm)
	case actSerialRepeat, actZigbeeRepeat:
		src := map[kind]source{actSerialRepeat: fromSerial, actZigbeeRepeat: fromZigbee}[a.kind]
		if a.alarm = pick(func(x *alarm) bool { return x.src == src }); a.alarm == nil {
			m.wait(a)
			return
		}
		a.alarm.open = true
		a.variant = r.IntN(2)
	case actSerialClear, actZigbeeClear:
		src := map[kind]source{actSerialClear: fromSerial, actZigbeeClear: fromZigbee}[a.kind]
		if a.alarm = pick(func(x *alarm) bool { return x.src == src && x.stateful() && x.open }); a.alarm == nil {
			m.wait(a)
			return
		}
		a.alarm.open = false
	case actZigbeeNew:
		pools := []struct {
			name  string
			names []string
			typ   vagt.AlarmType
		}{{"button", m.zb.buttons, vagt.AlarmPanic}, {"water", m.zb.water, vagt.AlarmWaterLeak}, {"smoke", m.zb.smoke, vagt.AlarmSmoke}}
		p := pools[r.IntN(len(pools))]
		i := m.zbNext[p.name]
		if i >= len(p.names) {
			m.wait(a)
			return
		}
		m.zbNext[p.name] = i + 1
		a.alarm = &alarm{src: fromZigbee, name: p.names[i], dev: vagt.DeviceID(p.names[i]), typ: p.typ, open: true}
		a.variant = r.IntN(3) // a button: emergency, sos action, or sos field
		m.alarms = append(m.alarms, a.alarm)
	case actReadings:
		a.n = 1 + r.IntN(8)
	case actNoise:
		if !m.gwUp {
			m.wait(a) // a pty keeps what nobody reads; a dead gateway's line is not flooded
			return
		}
		a.n = 1 + r.IntN(60)
	case actGhost:
		a.variant = r.IntN(4)
		if a.variant < 3 && !m.gwUp {
			a.variant = 3
		}
		m.ghosts++
		a.n = m.ghosts
	case actClock:
		if a.forced {
			break
		}
		switch x := r.IntN(10); {
		case x < 3:
			a.clock, a.n = clockTo1970, r.IntN(3600)
		case x < 6:
			a.clock, a.n = clockForward, 1+r.IntN(20)
			if r.IntN(6) == 0 {
				a.n = 60 + r.IntN(31) // past 2100
			}
		default:
			a.clock = clockTrue
		}
	case actCut:
		if m.cut {
			m.wait(a)
			return
		}
		m.cut, m.cutFor = true, 0
	case actRestore:
		m.cut = false
	case actBrokerDown:
		if !m.brokerUp {
			m.wait(a)
			return
		}
		if !a.forced {
			a.hard = r.IntN(2) == 0
		}
		m.brokerUp, m.brokerFor = false, 0
	case actBrokerUp:
		m.brokerUp = true
	case actGatewayKill:
		if !m.gwUp {
			m.wait(a)
			return
		}
		if !a.forced {
			a.d = time.Duration(r.IntN(40)) * time.Millisecond
		}
		m.gwUp, m.downFor = false, 0
	case actGatewayStart:
		switch x := r.IntN(10); {
		case x < 5:
			a.clock = clockKeep
		case x < 7:
			a.clock = clockBoot1970 // 20 %
		default:
			a.clock = clockTrue
		}
		a.spoolLoss = r.IntN(5) == 0
		if m.bootOwed {
			a.clock, a.spoolLoss, m.bootOwed = clockBoot1970, true, false
		}
		m.gwUp = true
	case actWait:
		m.wait(a)
	}
}

// note records the faults planned, for owed.
func (m *model) note(a action) {
	switch {
	case a.kind == actClock && a.clock == clockTo1970:
		m.seen["back to 1970"] = true
	case a.kind == actClock && a.clock == clockForward:
		m.seen["forward"] = true
	case a.kind == actGatewayStart && a.clock == clockBoot1970 && a.spoolLoss:
		m.seen["boot at 1970, spool lost"] = true
	case a.kind == actBrokerDown && a.hard:
		m.seen["broker kill -9"] = true
	case a.kind == actBrokerDown:
		m.seen["broker clean stop"] = true
	case a.kind == actCut:
		m.seen["uplink cut"] = true
	}
}

func (m *model) wait(a *action) {
	a.kind, a.alarm = actWait, nil
	a.d = time.Duration(m.r.IntN(1000)) * time.Millisecond
}

// finish plans what brings the world back up at the end: broker, uplink, gateway.
func (m *model) finish() []action {
	var out []action
	if !m.brokerUp {
		out = append(out, action{kind: actBrokerUp})
		m.brokerUp = true
	}
	if m.cut {
		out = append(out, action{kind: actRestore})
		m.cut = false
	}
	if !m.gwUp {
		out = append(out, action{kind: actGatewayStart, clock: clockKeep})
		m.gwUp = true
	}
	return out
}
