package gateway

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/rules"
	"github.com/vagt-dk/vagt/gateway/serial"
	"github.com/vagt-dk/vagt/gateway/spool"
	"github.com/vagt-dk/vagt/gateway/uplink"
)

// process handles a group of inputs: the rules first, so an alarm is committed (fsynced)
// before the telemetry around it; then the acks of serial alarm frames whose alarms are
// now safe; then the readings in one transaction.
//
// The rules see every well-formed reading, whatever its time: an alarm never passes a
// telemetry check. Only what goes into a batch must carry a time the wire can (a clock at
// 1970 refuses the telemetry, counted, and raises the alarm, marked, see clocktrust.go).
// An alarm frame is acked only when everything its reading raised is committed: a K for
// an alarm that is not in the spool would stop the unit repeating an alarm nobody has.
// A Zigbee message is acknowledged to the home broker (its PUBACK) likewise, and only once
// its readings are committed too: Zigbee2MQTT does not send it again.
func (g *Gateway) process(group []input) {
	var readings []vagt.Reading
	var acks []serial.Frame
	var dones []func()
	var messages []spool.MessageKey        // the Zigbee messages whose readings this commit holds
	redeliver := false                     // a Zigbee message not committed: the home broker must send it again
	now := g.trust.bestTime(g.clock.Now()) // a last-seen time the status can carry
	for _, x := range group {
		safe, committed := true, true // committed: every alarm the readings raised is in the spool
		// A Zigbee message the home broker sends again after its readings were committed (the
		// gateway was killed before its PUBACK left): the rules see it as ever — an alarm is
		// never skipped here — but its readings, stamped anew at receipt, are not spooled a
		// second time.
		again := x.redelivered && g.committedBefore(x.message)
		if x.seen != "" {
			if err := g.engine.Seen(x.seen, x.online); err != nil {
				// "offline" raises the silent-device alert: not committed, not acknowledged.
				g.log.Error("rules", "err", err)
				committed = false
			}
		}
		for _, r := range x.readings {
			if err := spool.WellFormedReading(&r); err != nil {
				g.refuse(vagt.Reason(err), r, err)
				safe = false
				continue
			}
			g.times.stamp(&r)
			if err := g.engine.Observe(r); err != nil {
				g.log.Error("rules", "err", err)
				safe, committed = false, false
			}
			if err := spool.ValidReading(&r); err != nil {
				g.refuse(reasonTime, r, err)
				continue
			}
			if !again {
				readings = append(readings, r)
			}
		}
		if x.done != nil {
			if committed { // a reading refused as malformed never becomes valid: acked
				dones = append(dones, x.done)
				if x.message != (spool.MessageKey{}) && !again {
					messages = append(messages, x.message)
				}
			} else {
				g.count(func(c *counters) { c.ZigbeeNotAcked++ })
				g.log.Error("zigbee message not acknowledged: its alarm is not in the spool; the home broker redelivers it on the next connection",
					"device", x.seen)
				redeliver = true
			}
		}
		if x.ack == nil {
			continue
		}
		if safe {
			acks = append(acks, *x.ack)
		} else {
			g.count(func(c *counters) { c.AlarmFramesNotAcked++ })
			g.log.Error("serial alarm frame not acknowledged: its alarm is not in the spool; the unit repeats it",
				"unit", x.ack.Unit, "frame_seq", x.ack.Seq, "alarm", x.ack.Alarm)
		}
	}
	for _, f := range acks {
		if g.serial != nil {
			if err := g.serial.Ack(f); err != nil {
				g.log.Warn("serial ack", "err", err) // the unit repeats; the repeat is acked
			}
		}
		g.count(func(c *counters) { c.AlarmFrames++ })
	}
	if err := g.spool.AddReadings(readings, messages...); err != nil {
		// The disk failed: nothing else to do but say so; the alarms went first. The
		// Zigbee messages stay unacknowledged: the broker has them for the next connection.
		g.log.Error("spool readings", "err", err, "lost", len(readings))
		redeliver = redeliver || len(dones) > 0
		dones = nil
	}
	if redeliver && g.zigbee != nil {
		g.zigbee.Redeliver() // the next connection is now, not whenever the home broker drops us
	}
	for _, done := range dones {
		done()
	}
	// The readings and the alarm episodes they opened or closed show in one snapshot: a
	// reader that sees the readings counted sees their alarms too.
	episodes := g.engine.OpenEpisodes()
	g.mu.Lock()
	g.counts.Readings += uint64(len(readings))
	g.counts.OpenEpisodes = episodes
	for _, x := range group {
		if x.seen != "" {
			g.lastSeen[x.seen] = now
		}
		for _, r := range x.readings {
			if r.Kind == vagt.KindBattery {
				g.battery[r.Device] = int(r.Value)
			}
		}
	}
	g.mu.Unlock()
	g.setEpisodes()
	g.keepTimers(false)
	g.notePresses(group)
}

// reasonTime labels telemetry refused for its time: outside the wire's range, which is a
// clock that is wrong (1970 before NTP), not a bad device.
const reasonTime = "bad_time"

// refuse counts a refused reading by reason and logs it once per burst of that reason.
func (g *Gateway) refuse(reason string, r vagt.Reading, err error) {
	g.count(func(c *counters) {
		c.InvalidReadings++
		if c.Refused == nil {
			c.Refused = map[string]uint64{}
		}
		c.Refused[reason]++
	})
	if log, suppressed := g.refusals.Refused(reason, time.Now()); log {
		g.log.Warn("reading refused", "reason", reason, "device", r.Device, "kind", r.Kind, "err", err, "suppressed_since_last", suppressed)
	}
}

func (g *Gateway) count(f func(*counters)) {
	g.mu.Lock()
	f(&g.counts)
	g.mu.Unlock()
}

// setEpisodes keeps the open alarm episodes in the spool when they changed, so a restart
// still sends their clears.
func (g *Gateway) setEpisodes() {
	n := g.engine.OpenEpisodes()
	g.count(func(c *counters) { c.OpenEpisodes = n })
	if !g.engine.Changed() {
		return
	}
	data, err := json.Marshal(g.engine.Episodes())
	if err == nil {
		err = g.spool.PutState(stateEpisodes, data)
	}
	if err != nil {
		g.log.Error("keep alarm episodes", "err", err)
	}
}

// keepTimers keeps the rule timers in the spool when they changed in a way that matters
// (rules.Engine.TimersDue), or always (at shutdown).
func (g *Gateway) keepTimers(always bool) {
	if !always && !g.engine.TimersDue() {
		return
	}
	data, err := rules.EncodeTimers(g.engine.Timers())
	if err == nil {
		err = g.spool.PutRuleTimers(data)
	}
	if err != nil {
		g.engine.TimersNotKept()
		g.log.Error("keep rule timers", "err", err)
	}
}

// applyConfig runs a home configuration from the config lane if it is newer than the one
// running, and keeps it in the spool. A refusal is reported in the status message.
func (g *Gateway) applyConfig(data []byte) {
	c, err := vagt.DecodeConfig(data)
	if err == nil {
		err = vagt.CheckGateway(g.cfg.Gateway, c.Gateway)
	}
	g.mu.Lock()
	running := g.home.Version
	g.mu.Unlock()
	if err == nil && c.Version <= running {
		return // a redelivery of what runs, or older
	}
	if err == nil {
		err = g.engine.SetConfig(c)
	}
	if err == nil {
		err = g.spool.PutHomeConfig(data)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.configErr = err.Error()
		if len(g.configErr) > vagt.MaxConfigErrorLen {
			// Cut, and drop a rune cut in half: the status must stay valid UTF-8.
			g.configErr = strings.ToValidUTF8(g.configErr[:vagt.MaxConfigErrorLen-3], "")
		}
		g.log.Warn("home config refused", "err", err)
		return
	}
	g.home, g.configErr = c, ""
	g.counts.ConfigsApplied++
	g.spool.SetMunicipality(c.Municipality)
	if g.zigbee != nil {
		g.zigbee.SetDevices(c.Devices)
	}
	g.log.Info("home config applied", "version", c.Version, "devices", len(c.Devices))
}

// status is the gateway's status message (the uplink sets online). Its time is the best
// time the gateway has, like an unsynced alarm's: at 1970 the clock's own reading would not
// encode, and without a status the platform raises a false "gateway offline".
func (g *Gateway) status() vagt.Status {
	st := g.spool.Stats()
	now := g.trust.bestTime(g.clock.Now())
	g.mu.Lock()
	defer g.mu.Unlock()
	s := vagt.Status{Time: now, Municipality: g.home.Municipality, Software: Software, SpoolDepth: st.Depth(),
		DroppedReadings: st.DroppedReadings, ConfigVersion: g.home.Version, ConfigError: g.configErr}
	for _, d := range g.home.Devices {
		ds := vagt.DeviceStatus{Device: d.Device, Technology: d.Technology, LastSeen: g.lastSeen[d.Device], Battery: -1}
		if b, ok := g.battery[d.Device]; ok {
			ds.Battery = b
		}
		if !ds.LastSeen.IsZero() {
			ds.LastSeen = ds.LastSeen.Truncate(time.Millisecond)
			if ds.LastSeen.Before(saneFloor) || !ds.LastSeen.Before(wireEnd) {
				ds.LastSeen = time.Time{} // kept before this version at a bad clock: left out
			}
		}
		s.Inventory = append(s.Inventory, ds)
	}
	return s
}

// Snapshot is what the status page shows.
type Snapshot struct {
	Gateway  vagt.GatewayID `json:"gateway"`
	Software string         `json:"software"`
	UplinkUp bool           `json:"uplink_connected"`
	Links    linkStates     `json:"links,omitempty"` // with a second broker: each link up or not
	// The config and downlink lanes granted by the broker or not (uplink.SubscribeState).
	UplinkSubscribe uplink.SubscribeState `json:"uplink_subscriptions"`
	Sent            uint64                `json:"sent"`
	Spool           spool.Stats           `json:"spool"`
	SpoolDepth      uint64                `json:"spool_depth"`
	Counters        counters              `json:"counters"`
	Serial          any                   `json:"serial,omitempty"` // serial.Stats
	Zigbee          any                   `json:"zigbee,omitempty"` // zigbee.Stats
	Clock           clockStats            `json:"clock"`
	ConfigVersion   uint64                `json:"config_version"`
	ConfigError     string                `json:"config_error,omitempty"`
	Help            HelpStats             `json:"help"`               // downlink messages (help.go)
	Confirm         spool.ConfirmStats    `json:"alarm_confirmation"` // alarms kept until the platform confirms them (confirm.go)
}

// linkStates says which of the two ways out are up (uplink is either).
type linkStates map[string]bool

// Snapshot returns the gateway's state for the status page and tests.
func (g *Gateway) Snapshot() Snapshot {
	st := g.spool.Stats()
	s := Snapshot{Gateway: g.cfg.Gateway, Software: Software, UplinkUp: g.up.Connected(), Sent: g.up.Sent(), Spool: st, SpoolDepth: st.Depth()}
	if sub, ok := g.up.(interface{ Subscriptions() uplink.SubscribeState }); ok {
		s.UplinkSubscribe = sub.Subscriptions()
	}
	if p, ok := g.up.(*uplink.Pair); ok {
		s.Links = linkStates{"primary": p.Primary().Connected(), "secondary": p.Secondary().Connected()}
	}
	if g.serial != nil {
		s.Serial = g.serial.Stats()
	}
	if g.zigbee != nil {
		s.Zigbee = g.zigbee.Stats()
	}
	s.Clock = g.trust.stats()
	g.mu.Lock()
	s.Counters, s.ConfigVersion, s.ConfigError = g.counts, g.home.Version, g.configErr
	s.Counters.Refused = maps.Clone(g.counts.Refused) // the pipeline writes the map
	g.mu.Unlock()
	s.Help = g.HelpStats()
	s.Confirm = g.spool.ConfirmStats()
	return s
}

// committedBefore reports whether the Zigbee message k is one whose readings the spool
// committed; when it cannot tell, false: spooled twice rather than lost.
func (g *Gateway) committedBefore(k spool.MessageKey) bool {
	ok, err := g.spool.Committed(k)
	if err != nil {
		g.log.Warn("spool: committed messages", "err", err)
		return false
	}
	if ok {
		g.count(func(c *counters) { c.ZigbeeRedelivered++ })
	}
	return ok
}

// statusHandler serves /status (JSON) and /metrics (Prometheus text) on loopback.
func (g *Gateway) statusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(g.Snapshot())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		writeMetrics(w, g.Snapshot())
	})
	return mux
}
