// Package mqttin is ingest's MQTT consumer, on eclipse/paho.mqtt.golang. It holds a
// persistent session (clean session off, a stable client id per replica), subscribes to
// the lanes directly by default (or in a shared subscription group, so replicas split the
// load, with a broker that keeps such subscriptions across restarts), and hands every message
// to a function together with its acknowledgement, which the caller sends when (and in the
// order) it sees fit: automatic acknowledgement is off.
package mqttin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/internal/backoff"
	"github.com/vagt-dk/vagt/internal/mqttsub"
)

// Config says where to connect and what to subscribe to.
type Config struct {
	Broker   string // tcp://host:1883, ssl://host:8883
	ClientID string // stable per replica: the broker keeps the session under it
	Username string
	Password string
	TLS      *tls.Config
	Group    string      // shared subscription group; default vagt.NoGroup: a direct subscription
	Lanes    []vagt.Lane // default telemetry and alarm
	// Partition, when set (a number, "0" …), subscribes to telemetry partition
	// vagt/v1/gw/+/telemetry/<Partition> instead of vagt/v1/gw/+/telemetry: a clustered
	// NATS broker with subject mapping splits the gateways' telemetry by a hash of the
	// gateway id into partitions (docs/scaling.md, "Ingest replicas on NATS"), one replica
	// per partition. The partition level is taken off the topic before handle sees it.
	Partition string
	// DeadLetterPrefix, when set, receives a copy of each rejected message on
	// {prefix}/{reason}/{original topic} (QoS 0, fire and forget).
	DeadLetterPrefix string
	KeepAlive        time.Duration // default 30s
	// SubscribeRetryMax bounds the back-off between attempts to subscribe while the broker
	// refuses (SUBACK 0x80) or does not answer, the connection up; default 30s.
	SubscribeRetryMax time.Duration
	Logger            *slog.Logger // nil discards
}

// Delivery is one message and the function that acknowledges it (PUBACK).
type Delivery struct {
	Topic   string
	Payload []byte
	Ack     func()
}

// Consumer is a connected (or reconnecting) MQTT session.
type Consumer struct {
	cfg    Config
	client mqtt.Client
	logger *slog.Logger

	subscribed        atomic.Bool   // the current connection's subscription was granted
	conn              atomic.Uint64 // numbers connections: a gone one's retries stop
	subscribeFailures atomic.Uint64
	quit              chan struct{} // closed by Close: retries stop
	closeOnce         sync.Once
}

// New connects to the broker and subscribes; handle is called on paho's router goroutine
// for every message, in arrival order, and must not block (see docs/ingest.md). New
// returns once the first connection and subscription succeeded or ctx ended.
func New(ctx context.Context, cfg Config, handle func(Delivery)) (*Consumer, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Broker == "" || cfg.ClientID == "" {
		return nil, errors.New("mqttin: broker and client id are required")
	}
	if cfg.Group == "" {
		cfg.Group = vagt.NoGroup // see vagt.LaneSubscription: a shared group does not survive a Mosquitto restart
	}
	if cfg.Partition != "" {
		if n, err := strconv.Atoi(cfg.Partition); err != nil || n < 0 || strconv.Itoa(n) != cfg.Partition {
			return nil, fmt.Errorf("mqttin: partition %q is not a number 0, 1, …", cfg.Partition)
		}
		if cfg.Group != vagt.NoGroup {
			return nil, errors.New("mqttin: a partition is for a direct subscription (--group -)")
		}
	}
	if len(cfg.Lanes) == 0 {
		cfg.Lanes = []vagt.Lane{vagt.LaneTelemetry, vagt.LaneAlarm}
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	if cfg.SubscribeRetryMax <= 0 {
		cfg.SubscribeRetryMax = 30 * time.Second
	}
	c := &Consumer{cfg: cfg, logger: logger, quit: make(chan struct{})}
	retry := backoff.New(time.Second, cfg.SubscribeRetryMax, cfg.ClientID)
	subscribed := make(chan error, 1)
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetTLSConfig(cfg.TLS).
		SetCleanSession(false). // the broker keeps unacknowledged messages for us
		SetAutoAckDisabled(true).
		SetOrderMatters(true). // handle runs in arrival order on the router goroutine
		SetKeepAlive(cfg.KeepAlive).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			topic := m.Topic()
			if cfg.Partition != "" {
				topic = strings.TrimSuffix(topic, "/"+cfg.Partition)
			}
			handle(Delivery{Topic: topic, Payload: m.Payload(), Ack: m.Ack})
		}).
		// Before each reconnect attempt, on paho's reconnect goroutine: the lost connection's
		// retries stop and the consumer is unready until the next one is subscribed. (The
		// connection-lost handler runs on a goroutine of its own, maybe after the reconnect
		// subscribed: it only logs.)
		SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
			c.conn.Add(1)
			c.subscribed.Store(false)
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			logger.Warn("broker connection lost; reconnecting", "err", err)
		}).
		SetOnConnectHandler(func(cl mqtt.Client) {
			// The session keeps the subscriptions; subscribing again is harmless and
			// covers a broker that lost its state. The first answer decides New; after
			// that a refusal (SUBACK 0x80: the broker's ACL, a consumer limit) or no answer
			// makes the consumer unready (/readyz) and is asked again while connected.
			mine := c.conn.Add(1)
			live := func() bool { return c.conn.Load() == mine && cl.IsConnectionOpen() }
			failures := 0
			ok := mqttsub.Until(c.quit, live, retry, func() error {
				err := c.subscribe(cl)
				if err == nil && live() {
					c.subscribed.Store(true) // before New hears of it: ready when New returns
				}
				select {
				case subscribed <- err:
				default:
				}
				return err
			}, func(err error) {
				failures++
				c.subscribeFailures.Add(1)
				c.subscribed.Store(false)
				if failures == 1 || failures%10 == 0 {
					logger.Error("subscribe failed: nothing arrives from the lanes; asking again while connected",
						"topics", mqttsub.Refused(err), "attempt", failures, "err", err)
				}
			})
			if ok {
				logger.Info("connected and subscribed", "broker", cfg.Broker, "client_id", cfg.ClientID, "failed_attempts", failures)
			}
		})
	if batchable(cfg.Broker) {
		opts.SetCustomOpenConnectionFn(openBatched)
	}
	c.client = mqtt.NewClient(opts)
	c.client.Connect() // retries in the background (SetConnectRetry)
	select {
	case err := <-subscribed:
		if err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("mqttin: connect to %s: %w", cfg.Broker, ctx.Err())
	}
}

func (c *Consumer) subscribe(cl mqtt.Client) error {
	filters := make(map[string]byte, len(c.cfg.Lanes))
	for _, l := range c.cfg.Lanes {
		f := vagt.LaneSubscription(c.cfg.Group, l)
		if l == vagt.LaneTelemetry && c.cfg.Partition != "" {
			f += "/" + c.cfg.Partition
		}
		filters[f] = 1
	}
	// nil: the default handler gets them
	if err := mqttsub.Check(cl.SubscribeMultiple(filters, nil), 30*time.Second); err != nil {
		return fmt.Errorf("mqttin: %w", err)
	}
	return nil
}

// Connected reports whether the connection to the broker is up and the broker granted
// the subscription (readiness).
func (c *Consumer) Connected() bool { return c.client.IsConnectionOpen() && c.subscribed.Load() }

// DeadLetter publishes a copy of a rejected message, when configured.
func (c *Consumer) DeadLetter(topic, reason string, payload []byte) {
	if c.cfg.DeadLetterPrefix == "" {
		return
	}
	c.client.Publish(c.cfg.DeadLetterPrefix+"/"+reason+"/"+topic, 0, false, payload)
}

// Close disconnects, giving queued acknowledgements a moment to leave. Messages not yet
// acknowledged stay with the broker's session and come again at the next connect.
func (c *Consumer) Close() {
	c.closeOnce.Do(func() { close(c.quit) })
	c.client.Disconnect(500)
}
