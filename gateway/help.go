package gateway

import (
	"encoding/json"
	"errors"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/serial"
	"github.com/vagt-dk/vagt/gateway/spool"
)

// Help confirmed in the home (docs/gateway.md): the platform's downlink says what became
// of the gateway's alarm events; the gateway passes each step to the base unit whose press
// raised the event (an S frame naming the unit's alarm frame) and to a Zigbee device. It
// also tells the unit (L frames) when the platform has been unreachable too long, and
// when it is back.

// stateHelp names the help desk's events in the spool, so a restart still knows which
// press an event answers.
const stateHelp = "help_events"

// maxHelpEvents bounds what the desk remembers: the newest events by seq.
const maxHelpEvents = 256

// linkRepeat: while the link is down the unit is told again this often, so a unit that
// was unplugged or restarted learns it too.
const linkRepeat = time.Minute

// helpEvent is one raise of the gateway and what the home was told about it.
type helpEvent struct {
	Device vagt.DeviceID  `json:"device"`
	Unit   string         `json:"unit,omitempty"`  // the base unit whose press raised it, "" none
	Frame  uint16         `json:"frame,omitempty"` // that press's alarm frame seq
	State  vagt.HelpState `json:"state,omitempty"` // the furthest state the platform told
	Told   bool           `json:"told,omitempty"`  // the unit has been sent State
	At     time.Time      `json:"at"`              // raised (the gateway's clock)
}

// HelpStats count the downlink messages.
type HelpStats struct {
	Applied  uint64            `json:"applied"`           // moved an event forward
	Repeats  uint64            `json:"repeats"`           // redeliveries and late news: nothing changed
	Rejected uint64            `json:"rejected"`          // did not decode, or for another gateway
	Refused  map[string]uint64 `json:"refused,omitempty"` // Rejected by reason (vagt.Reason)
	Unknown  uint64            `json:"unknown"`           // named no event the gateway remembers
	Dropped  uint64            `json:"dropped"`           // dropped by the link, nobody took them (uplink.Uplink.DownlinksDropped)
	LinkDown bool              `json:"link_down_told"`
}

// helpDesk is owned by the pipeline goroutine, except units, which the serial reader adds
// to (under mu, which also guards stats for the status page).
type helpDesk struct {
	events      map[uint64]*helpEvent
	raised      []uint64 // raises since the last notePresses
	changed     bool
	sendFailing bool // an S frame did not go out: logged once until one does

	downSince time.Time // monotonic; zero while the link is up
	toldDown  time.Time // when the unit was last told the link is down; zero: not told

	mu       sync.Mutex
	units    map[string]bool
	newUnit  bool
	stats    HelpStats
	rejected int // since the last good message: logged once per burst
}

// raiseRecorder is the rules engine's sink: the spool, noting each raise for the desk.
type raiseRecorder struct {
	*spool.Queue
	desk  *helpDesk
	clock Clock
}

func (r raiseRecorder) AddAlarm(a *vagt.Alarm) (uint64, error) {
	seq, err := r.Queue.AddAlarm(a)
	if err == nil && a.Clears == 0 {
		r.desk.events[seq] = &helpEvent{Device: a.Device, At: r.clock.Now()}
		r.desk.raised = append(r.desk.raised, seq)
		r.desk.changed = true
		r.desk.trim()
	}
	return seq, err
}

func (d *helpDesk) trim() {
	if len(d.events) <= maxHelpEvents {
		return
	}
	seqs := make([]uint64, 0, len(d.events))
	for s := range d.events {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, s := range seqs[:len(seqs)-maxHelpEvents] {
		delete(d.events, s)
	}
}

// heard notes a base unit on the serial line (the serial reader's goroutine).
func (d *helpDesk) heard(unit string) {
	d.mu.Lock()
	if !d.units[unit] && len(d.units) < 16 {
		d.units[unit], d.newUnit = true, true
	}
	d.mu.Unlock()
}

func (d *helpDesk) unitList() ([]string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.units))
	for u := range d.units {
		out = append(out, u)
	}
	n := d.newUnit
	d.newUnit = false
	return out, n
}

// notePresses links each alarm frame of the group to the event its press raised: a raise
// of the frame's device in this group, or — when the rules folded the press into a panic
// raised moments ago — the device's latest raise within the rules' quiet period.
func (g *Gateway) notePresses(group []input) {
	d := &g.help
	for _, x := range group {
		if x.ack == nil {
			continue
		}
		dev := x.ack.DeviceID()
		var seq uint64
		for _, s := range d.raised {
			if e := d.events[s]; e != nil && e.Device == dev {
				seq = s
			}
		}
		if seq == 0 {
			now := g.clock.Now()
			for s, e := range d.events {
				if e.Device == dev && s > seq && now.Sub(e.At) >= 0 && now.Sub(e.At) < 2*time.Minute {
					seq = s
				}
			}
		}
		if e := d.events[seq]; e != nil && e.Unit == "" {
			e.Unit, e.Frame = x.ack.Unit, x.ack.Seq
			d.changed = true
		}
	}
	d.raised = d.raised[:0]
	g.keepHelp()
}

// keepHelp keeps the desk's events in the spool when they changed.
func (g *Gateway) keepHelp() {
	if !g.help.changed {
		return
	}
	g.help.changed = false
	data, err := json.Marshal(g.help.events)
	if err == nil {
		err = g.spool.PutState(stateHelp, data)
	}
	if err != nil {
		g.log.Error("keep help events", "err", err)
	}
}

// restoreHelp readies the desk and reads the events kept by keepHelp; what cannot be read
// is left out (the unit then hears nothing of older presses, the Zigbee device still does).
// It runs in New, before the rules can raise anything.
func (g *Gateway) restoreHelp() {
	g.help.events, g.help.units = map[uint64]*helpEvent{}, map[string]bool{}
	data, err := g.spool.State(stateHelp)
	if err == nil && data != nil {
		err = json.Unmarshal(data, &g.help.events)
	}
	if err != nil {
		g.help.events = map[uint64]*helpEvent{}
		g.log.Error("help events unreadable; none restored", "err", err)
	}
}

// applyDownlink takes one downlink message: each event it names moves forward to its
// state, or stays where it is (a redelivery, late news). The unit hears of the events that
// moved; the Zigbee device shows the state once per message that moved any.
func (g *Gateway) applyDownlink(data []byte) {
	d := &g.help
	msg, err := vagt.DecodeDownlink(data)
	if err == nil {
		err = vagt.CheckGateway(g.cfg.Gateway, msg.Gateway)
	}
	if err != nil {
		d.mu.Lock()
		d.stats.Rejected++
		if d.stats.Refused == nil {
			d.stats.Refused = map[string]uint64{}
		}
		d.stats.Refused[vagt.Reason(err)]++
		d.rejected++
		first := d.rejected == 1
		d.mu.Unlock()
		if first {
			g.log.Warn("downlink refused", "reason", vagt.Reason(err), "err", err)
		}
		return
	}
	g.confirmed(msg.Events) // committed by the platform: the spool may forget them (confirm.go)
	moved, unknown := false, 0
	for _, seq := range msg.Events {
		e := d.events[seq]
		if e == nil {
			unknown++
			// Remembered from now on, so the redelivery of this message is a repeat.
			e = &helpEvent{At: g.clock.Now()}
			d.events[seq] = e
		}
		if msg.State <= e.State {
			continue
		}
		e.State, e.Told, moved = msg.State, false, true
		d.changed = true
		g.tellUnit(seq, e)
	}
	d.trim()
	d.mu.Lock()
	if d.rejected > 0 {
		g.log.Info("downlink accepted again", "refused", d.rejected)
		d.rejected = 0
	}
	switch {
	case moved:
		d.stats.Applied++
	default:
		d.stats.Repeats++
	}
	if unknown == len(msg.Events) {
		d.stats.Unknown++
	}
	d.mu.Unlock()
	if moved {
		g.log.Info("help", "state", msg.State, "alert", msg.Alert, "events", msg.Events)
		g.setZigbee(msg.State.String())
	}
	g.keepHelp()
}

// tellUnit sends the event's state to the unit whose press raised it; a unit not on the
// line now is told when it is back (watchHelp).
func (g *Gateway) tellUnit(seq uint64, e *helpEvent) {
	if e.Unit == "" || g.serial == nil || e.State == 0 {
		return
	}
	err := g.serial.Send(serial.HelpFrame(e.Unit, e.Frame, e.State, seq))
	switch {
	case err == nil:
		e.Told = true
		g.help.changed = true
		g.help.sendFailing = false
	case !errors.Is(err, serial.ErrNoPort) && !g.help.sendFailing:
		// Retold every tick until it goes through: logged once per burst.
		g.log.Warn("serial: help frame not written; retrying", "err", err)
		g.help.sendFailing = true
	}
}

func (g *Gateway) setZigbee(key string) {
	if g.setter == nil {
		return
	}
	if p := g.cfg.Help.payload(key); p != nil {
		g.setter.Set(g.cfg.Help.Zigbee, p)
	}
}

// watchHelp runs with every tick: it tells the units when the link has been down too
// long (and again every linkRepeat, and at once to a unit heard for the first time), tells
// them when it is back, and retells help states a unit missed while unplugged.
func (g *Gateway) watchHelp() {
	d := &g.help
	now := time.Now() // monotonic: the gateway's clock may be stepped (1970 → today)
	units, newUnit := d.unitList()
	if g.up.Connected() {
		if !d.toldDown.IsZero() {
			g.sendLink(units, true, 0)
			g.setZigbee("link_up")
			g.log.Info("told the units the platform link is back", "down_for", now.Sub(d.downSince).Round(time.Second))
		}
		d.downSince, d.toldDown = time.Time{}, time.Time{}
		d.mu.Lock()
		d.stats.LinkDown = false
		d.mu.Unlock()
	} else {
		if d.downSince.IsZero() {
			d.downSince = now
		}
		down := now.Sub(d.downSince)
		if down >= time.Duration(g.cfg.Help.LinkDownAfter) && (d.toldDown.IsZero() || newUnit || now.Sub(d.toldDown) >= linkRepeat) {
			if d.toldDown.IsZero() {
				g.log.Warn("platform unreachable too long; told the units to use their own line", "down_for", down.Round(time.Second))
				g.setZigbee("link_down")
			}
			g.sendLink(units, false, down)
			d.toldDown = now
			d.mu.Lock()
			d.stats.LinkDown = true
			d.mu.Unlock()
		}
	}
	if g.serial == nil {
		return
	}
	for seq, e := range d.events {
		if !e.Told && e.Unit != "" && e.State != 0 {
			g.tellUnit(seq, e)
		}
	}
	g.keepHelp()
}

func (g *Gateway) sendLink(units []string, up bool, down time.Duration) {
	if g.serial == nil {
		return
	}
	for _, u := range units {
		if err := g.serial.Send(serial.LinkFrame(u, up, down)); err != nil && !errors.Is(err, serial.ErrNoPort) {
			g.log.Warn("serial: link frame", "err", err)
		}
	}
}

// downlinks is the downlink lane of the gateway's way out to the platform (a Pair hands on
// both links'); nil (never ready) if it gives none (New warns).
func (g *Gateway) downlinks() <-chan []byte {
	if d, ok := any(g.up).(interface{ Downlinks() <-chan []byte }); ok {
		return d.Downlinks()
	}
	return nil
}

// HelpStats returns the downlink counters.
func (g *Gateway) HelpStats() HelpStats {
	g.help.mu.Lock()
	defer g.help.mu.Unlock()
	s := g.help.stats
	s.Refused = maps.Clone(s.Refused) // applyDownlink writes the map
	if d, ok := any(g.up).(interface{ DownlinksDropped() uint64 }); ok {
		s.Dropped = d.DownlinksDropped()
	}
	return s
}
