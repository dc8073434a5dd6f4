package gps

import (
	"context"
	"crypto/tls"
	"errors"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/internal/backoff"
	"github.com/vagt-dk/vagt/internal/mqttsub"
)

// Subscriptions are the OwnTracks topics the api reads: locations on
// owntracks/{user}/{device}, transitions on .../event. The broker's ACL lets a tracker
// write only under its own user (deploy/mosquitto/acl).
var Subscriptions = map[string]byte{"owntracks/+/+": 1, "owntracks/+/+/event": 1}

// MQTTOptions configure the OwnTracks consumer.
type MQTTOptions struct {
	Broker, ClientID   string
	Username, Password string
	TLS                *tls.Config
}

// OwnTracksConsumer reads OwnTracks messages from the platform broker in a persistent
// session and acknowledges each only after the store took it or it was refused: a fix
// the store could not take (database down) is redelivered after a reconnect.
type OwnTracksConsumer struct {
	svc *Service
	o   MQTTOptions
	in  chan mqtt.Message
	up  atomic.Bool
}

// NewOwnTracksConsumer returns a consumer feeding svc.
func NewOwnTracksConsumer(svc *Service, o MQTTOptions) *OwnTracksConsumer {
	return &OwnTracksConsumer{svc: svc, o: o, in: make(chan mqtt.Message, 64)}
}

// Connected reports whether the consumer is subscribed.
func (c *OwnTracksConsumer) Connected() bool { return c.up.Load() }

// Run consumes until ctx is done.
func (c *OwnTracksConsumer) Run(ctx context.Context) error {
	// Order matters: a tracker's fixes must reach the store in the order it sent them, or
	// the later of two would make the earlier out of order. So paho hands messages over
	// one at a time; with the queue full (the store slow) it waits, and the broker keeps
	// the rest in the persistent session.
	arrive := func(_ mqtt.Client, m mqtt.Message) {
		select {
		case c.in <- m:
		case <-ctx.Done():
		}
	}
	opts := mqtt.NewClientOptions().AddBroker(c.o.Broker).SetClientID(c.o.ClientID).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(10 * time.Second).
		SetKeepAlive(30 * time.Second).SetAutoAckDisabled(true).SetOrderMatters(true).
		SetDefaultPublishHandler(arrive)
	if c.o.TLS != nil {
		opts.SetTLSConfig(c.o.TLS)
	}
	if c.o.Username != "" {
		opts.SetUsername(c.o.Username).SetPassword(c.o.Password)
	}
	// A broker that refuses the topics (its ACL: SUBACK 0x80) or does not answer: not
	// ready, say so, and ask again while connected. A connection's loop ends with it.
	var conn atomic.Uint64
	retry := backoff.New(time.Second, 30*time.Second, c.o.ClientID)
	opts.SetOnConnectHandler(func(cl mqtt.Client) {
		mine := conn.Add(1)
		live := func() bool { return conn.Load() == mine && ctx.Err() == nil && cl.IsConnectionOpen() }
		failures := 0
		ok := mqttsub.Until(ctx.Done(), live, retry, func() error {
			return mqttsub.Check(cl.SubscribeMultiple(Subscriptions, arrive), 30*time.Second)
		}, func(err error) {
			c.up.Store(false)
			if failures++; failures == 1 || failures%10 == 0 {
				c.svc.log.Error("gps: subscribe failed (is the api's login allowed to read owntracks/#?); asking again while connected",
					"topics", mqttsub.Refused(err), "attempt", failures, "err", err)
			}
		})
		if ok && live() {
			c.up.Store(true)
		}
	})
	// On paho's reconnect goroutine, before the next connection's handler (the lost
	// handler may run after it).
	opts.SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
		conn.Add(1)
		c.up.Store(false)
	})
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		c.svc.log.Warn("gps: broker connection lost", "err", err)
	})
	client := mqtt.NewClient(opts)
	client.Connect()
	defer func() {
		conn.Add(1)
		c.up.Store(false)
		client.Disconnect(250)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-c.in:
			if c.handle(ctx, m) {
				m.Ack()
			}
		}
	}
}

// handle takes one message and reports whether it may be acknowledged.
func (c *OwnTracksConsumer) handle(ctx context.Context, m mqtt.Message) bool {
	p, err := ParseOwnTracks(m.Topic(), m.Payload())
	if err != nil {
		c.svc.Refused("owntracks", "", err)
		return true
	}
	wait := 100 * time.Millisecond
	for {
		err := c.svc.Accept(ctx, p)
		if err == nil || errors.Is(err, ErrRejected) {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.svc.log.Warn("gps: store failed; not acknowledged, retrying", "topic", m.Topic(), "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
