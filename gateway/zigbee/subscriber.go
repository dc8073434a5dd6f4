package zigbee

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/burst"
	"github.com/vagt-dk/vagt/internal/backoff"
	"github.com/vagt-dk/vagt/internal/mqttsub"
)

// Update is what one Zigbee2MQTT message said about a device.
type Update struct {
	Device   vagt.DeviceID
	Readings []vagt.Reading
	Online   *bool // set by an availability message
	// Unmapped is the friendly name of a device not in the device map whose payload can
	// carry an alarm: its alarm readings are in Readings, and the gateway raises a
	// technical alert about it (MapUnmapped).
	Unmapped string
	// Message identifies the MQTT message the update came from: its packet id, topic and
	// payload, which a broker sends again unchanged. Redelivered is its DUP flag: the
	// broker sent it before and did not hear our PUBACK (a gateway killed between the
	// commit and the PUBACK). The gateway then spools its readings only if the message is
	// not among those it committed.
	Message     [32]byte
	Redelivered bool

	ack func() // acknowledges the message to the home broker (Ack)
}

// messageKey is m's Update.Message.
func messageKey(m mqtt.Message) [32]byte {
	h := sha256.New()
	h.Write([]byte{byte(m.MessageID() >> 8), byte(m.MessageID())})
	h.Write([]byte(m.Topic()))
	h.Write([]byte{0})
	h.Write(m.Payload())
	return [32]byte(h.Sum(nil))
}

// Ack tells the subscriber that what the update carried is committed (its alarm and its
// readings in the spool), so the home broker may forget the message: its PUBACK goes, in
// arrival order. An update never acked is redelivered by the broker on the next
// connection. Safe to call more than once, and on an Update not from a Subscriber.
func (u Update) Ack() {
	if u.ack != nil {
		u.ack()
	}
}

// Options configure a Subscriber.
type Options struct {
	Broker    string // the home's local broker, tcp://127.0.0.1:1883
	BaseTopic string // Zigbee2MQTT's base_topic; default "zigbee2mqtt"
	ClientID  string // default "vagt-gateway"
	Username  string
	Password  string
	Logger    *slog.Logger
	Now       func() time.Time // stamps the readings: the gateway's clock; default time.Now
}

// Stats count the messages the subscriber saw.
type Stats struct {
	Messages        uint64 // state and availability messages of known devices
	Rejected        uint64 // state payloads with nothing usable (not a JSON object, no usable field)
	BadAvailability uint64 // availability payloads neither online nor offline
	BadFields       uint64 // field values skipped (the payload's other fields were used)
	UnknownDevice   uint64 // messages for a friendly name not in the device map
	Unacked         int    // messages delivered or waiting, not yet acknowledged to the broker
	// Subscribed: the home broker granted the Zigbee2MQTT topics on the current
	// connection. SubscribeFailures counts the attempts it refused (SUBACK 0x80: its ACL)
	// or did not answer; they are asked for again while connected.
	Subscribed        bool
	SubscribeFailures uint64
}

// Subscriber maps the messages of the devices in its device map to Updates.
type Subscriber struct {
	opts     Options
	log      *slog.Logger
	unmapped atomic.Uint64 // messages of unmapped devices with an alarm-capable field: forwarded

	mu      sync.Mutex
	devices map[string]vagt.DeviceConfig // by friendly name
	queue   []Update                     // filled on paho's router, drained by Run
	warned  map[string]bool              // unknown names already logged
	bursts  *burst.Limiter               // refused payloads, logged once per burst per device
	stats   Stats
	more    chan struct{}
	acks    *ackOrder
	redo    chan struct{} // Redeliver

	conn              atomic.Uint64 // numbers connections: a gone one's subscription retries stop
	subscribeRetryMax time.Duration // back-off ceiling of those retries
}

// NewSubscriber returns a subscriber; SetDevices gives it the device map.
func NewSubscriber(opts Options) *Subscriber {
	if opts.BaseTopic == "" {
		opts.BaseTopic = "zigbee2mqtt"
	}
	if opts.ClientID == "" {
		opts.ClientID = "vagt-gateway"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Subscriber{opts: opts, log: opts.Logger, devices: map[string]vagt.DeviceConfig{}, warned: map[string]bool{},
		bursts: burst.New(time.Minute), more: make(chan struct{}, 1), acks: newAckOrder(),
		redo: make(chan struct{}, 1), subscribeRetryMax: 30 * time.Second}
}

// SetDevices replaces the device map with the Zigbee devices of the list.
func (s *Subscriber) SetDevices(devs []vagt.DeviceConfig) {
	m := make(map[string]vagt.DeviceConfig, len(devs))
	for _, d := range devs {
		if d.Zigbee != "" {
			m[d.Zigbee] = d
		}
	}
	s.mu.Lock()
	s.devices = m
	s.mu.Unlock()
}

// UnmappedAlarms returns how many messages of devices not in the device map had an
// alarm-capable field (MapUnmapped): forwarded, not dropped.
func (s *Subscriber) UnmappedAlarms() uint64 { return s.unmapped.Load() }

// Stats returns the counters.
func (s *Subscriber) Stats() Stats {
	s.mu.Lock()
	st := s.stats
	s.mu.Unlock()
	st.Unacked = s.acks.waiting()
	return st
}

// Redeliver says that an update delivered could not be committed (it is not acked). The
// broker sends an unacknowledged message again only on a new connection, and a healthy home
// broker never drops ours: so Run reconnects (at most once a second), and the message comes
// again — with those behind it, whose PUBACKs wait for it (ackOrder). Without this the alarm
// was never spooled and, once Mosquitto's in-flight window filled, nothing more came.
func (s *Subscriber) Redeliver() {
	select {
	case s.redo <- struct{}{}:
	default:
	}
}

// Run subscribes and calls deliver (on Run's goroutine, which may block) for every
// update, until ctx is done. It reconnects for ever. The receiver calls the update's Ack
// once it has committed what the update carried: only then does the home broker get its
// PUBACK (Zigbee2MQTT does not send a message twice; until the PUBACK the broker keeps it
// for the persistent session). A payload refused is acknowledged at once.
func (s *Subscriber) Run(ctx context.Context, deliver func(Update)) error {
	base := s.opts.BaseTopic
	filters := map[string]byte{base + "/+": 1, base + "/+/availability": 1}
	retry := backoff.New(time.Second, s.subscribeRetryMax, s.opts.ClientID+"|zigbee")
	o := mqtt.NewClientOptions().AddBroker(s.opts.Broker).SetClientID(s.opts.ClientID).
		SetUsername(s.opts.Username).SetPassword(s.opts.Password).
		// A persistent session keeps QoS 1 messages for us across a gateway restart.
		SetCleanSession(false).
		// PUBACK only after commit (Update.Ack), in arrival order (ackOrder).
		SetAutoAckDisabled(true).
		// What the broker kept for the session arrives right after CONNACK, maybe before
		// the subscription below is made: it must find a handler, or paho drops it unacked.
		SetDefaultPublishHandler(s.onMessage).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(30 * time.Second).
		SetOnConnectHandler(func(c mqtt.Client) {
			// On paho's goroutine for this connect, not the router: waiting is fine. A
			// refusal (SUBACK 0x80) or no answer is asked again while connected: no sensor
			// of the home is heard until it is granted.
			mine := s.conn.Add(1)
			live := func() bool { return s.conn.Load() == mine && c.IsConnectionOpen() && ctx.Err() == nil }
			failures := 0
			ok := mqttsub.Until(ctx.Done(), live, retry, func() error {
				return mqttsub.Check(c.SubscribeMultiple(filters, s.onMessage), 30*time.Second)
			}, func(err error) {
				failures++
				s.mu.Lock()
				s.stats.SubscribeFailures++
				s.stats.Subscribed = false
				s.mu.Unlock()
				if failures == 1 || failures%10 == 0 {
					s.log.Error("zigbee: subscribe failed: no sensor is heard; asking again while connected",
						"topics", mqttsub.Refused(err), "attempt", failures, "err", err)
				}
			})
			if ok && live() {
				s.mu.Lock()
				s.stats.Subscribed = true
				s.mu.Unlock()
				s.log.Info("zigbee: subscribed", "broker", s.opts.Broker, "base", base, "failed_attempts", failures)
			}
		}).
		// The broker redelivers what was not acknowledged, so the arrivals not yet acknowledged
		// are forgotten — before each reconnect attempt, on paho's reconnect goroutine, after
		// the old connection's workers stopped and before the new one's first arrival. Paho
		// runs the connection-lost handler on a goroutine of its own that may run only after
		// the reconnect delivered messages: forgetting there skipped their acks, and unacked
		// messages fill the broker's in-flight window until nothing more arrives.
		SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) { s.lostConnection() }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.log.Warn("zigbee: local broker lost", "err", err)
		})
	client := mqtt.NewClient(o)
	client.Connect()
	defer func() { client.Disconnect(250) }()
	var again <-chan time.Time // a reconnect for Redeliver, at most once a second
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, u := range batch {
			deliver(u)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.more:
		case <-s.redo:
			if again == nil {
				again = time.After(time.Second)
			}
		case <-again:
			again = nil
			s.log.Warn("zigbee: reconnecting to the home broker so that it sends again what was not committed")
			client.Disconnect(250)
			s.lostConnection()
			s.mu.Lock()
			s.queue = nil // not acknowledged (they wait behind the one not committed): sent again
			s.mu.Unlock()
			client = mqtt.NewClient(o)
			client.Connect()
		}
	}
}

// lostConnection forgets what the lost connection delivered and did not acknowledge (the
// broker sends it again) and stops its subscription retries.
func (s *Subscriber) lostConnection() {
	s.conn.Add(1)
	s.mu.Lock()
	s.stats.Subscribed = false
	s.mu.Unlock()
	s.acks.lost()
}

// refused logs a refused payload (or field) at warn once per burst of the device's refusals:
// a device that sends nothing usable is a home without that protection.
func (s *Subscriber) refused(name, reason string, err error) {
	if log, suppressed := s.bursts.Refused(name, time.Now()); log {
		s.log.Warn("zigbee: payload refused", "name", name, "reason", reason, "err", err, "suppressed_since_last", suppressed)
	}
}

// onMessage runs on paho's router: it maps and queues, and never blocks. A message that
// becomes no update is acknowledged at once (it never becomes valid); an update carries its
// acknowledgement to the receiver.
func (s *Subscriber) onMessage(_ mqtt.Client, m mqtt.Message) {
	n := s.acks.arrive(m)
	queued := false
	defer func() {
		if !queued {
			s.acks.done(n)
		}
	}()
	rest, ok := strings.CutPrefix(m.Topic(), s.opts.BaseTopic+"/")
	if !ok {
		return
	}
	name, sub, _ := strings.Cut(rest, "/")
	if name == "bridge" {
		return // Zigbee2MQTT's own state, no device
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	dev, known := s.devices[name]
	if !known && sub == "" {
		// A device left out of the device map may still be someone's panic button or smoke
		// alarm: its alarms go on, and the gateway raises a technical alert about it.
		if id, rs, capable := MapUnmapped(name, m.Payload(), now); capable {
			s.unmapped.Add(1)
			if !s.warned[name] && len(s.warned) < 1000 {
				s.warned[name] = true
				s.log.Warn("zigbee: device not in the device map sends alarms; forwarded as "+string(id)+", technical alert raised", "name", name)
			}
			// Acknowledged once its alarm is committed, like a mapped device's.
			s.queue = append(s.queue, Update{Device: id, Readings: rs, Unmapped: name, Message: messageKey(m), Redelivered: m.Duplicate(), ack: func() { s.acks.done(n) }})
			queued = true
			select {
			case s.more <- struct{}{}:
			default:
			}
			return
		}
	}
	if !known {
		s.stats.UnknownDevice++
		if !s.warned[name] && len(s.warned) < 1000 {
			s.warned[name] = true
			s.log.Info("zigbee: device not in the device map, ignored", "name", name)
		}
		return
	}
	u := Update{Device: dev.Device, Message: messageKey(m), Redelivered: m.Duplicate(), ack: func() { s.acks.done(n) }}
	if sub == "availability" {
		online, err := MapAvailability(m.Payload())
		if err != nil {
			s.stats.BadAvailability++
			s.refused(name, "bad_availability", err)
			return
		}
		u.Online = &online
	} else {
		rs, err := Map(dev, m.Payload(), now)
		switch {
		case rs == nil && err != nil:
			// Nothing usable: no reading, and so no alarm, came of it.
			s.stats.Rejected++
			s.refused(name, "rejected", err)
			return
		case err != nil:
			// The usable fields go on (an alarm among them is raised); the bad ones are
			// named here and counted.
			s.stats.BadFields++
			s.refused(name, "bad_field", err)
		default:
			if ended, n := s.bursts.Good(name); ended {
				s.log.Info("zigbee: device sends usable payloads again", "name", name, "refused", n)
			}
		}
		u.Readings = rs
	}
	s.stats.Messages++
	s.queue = append(s.queue, u)
	queued = true
	select {
	case s.more <- struct{}{}:
	default:
	}
}
