// Package mqttpub is the api's MQTT publisher: one client per use (the care-plan config lane,
// the downlink), apart from the alarm lane's persistent session, that connects in the
// background, reconnects for ever, and waits for the broker's PUBACK of each publish.
package mqttpub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Options configure a publisher.
type Options struct {
	Broker             string
	ClientID           string // its own: not the alarm lane's, which has a persistent session
	Username, Password string
	TLS                *tls.Config
	Retained           bool   // publish retained (the config lane) or not (the downlink)
	Name               string // what errors call it ("careplan", "downlink")
}

// Publisher publishes with QoS 1 on the platform broker. A publish while disconnected fails
// at once (paho buffers nothing offline) and its caller retries it.
type Publisher struct {
	client mqtt.Client
	o      Options
}

// New returns a publisher; Run connects it.
func New(o Options) *Publisher {
	opts := mqtt.NewClientOptions().AddBroker(o.Broker).SetClientID(o.ClientID).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(10 * time.Second).SetKeepAlive(30 * time.Second)
	if o.TLS != nil {
		opts.SetTLSConfig(o.TLS)
	}
	if o.Username != "" {
		opts.SetUsername(o.Username).SetPassword(o.Password)
	}
	if o.Name == "" {
		o.Name = "mqttpub"
	}
	return &Publisher{client: mqtt.NewClient(opts), o: o}
}

// Run connects (retrying in the background) and disconnects when ctx is done.
func (p *Publisher) Run(ctx context.Context) error {
	p.client.Connect()
	<-ctx.Done()
	p.client.Disconnect(250)
	return nil
}

// ErrNotConnected is a publish while the broker is away.
var ErrNotConnected = errors.New("not connected to the broker")

// PublishTimeout bounds the wait for a PUBACK: a broker that went away mid-publish makes the
// caller retry rather than wait for ever.
const PublishTimeout = 10 * time.Second

// Publish sends payload with QoS 1 and waits for the broker's PUBACK.
func (p *Publisher) Publish(ctx context.Context, topic string, payload []byte) error {
	if !p.client.IsConnectionOpen() {
		return fmt.Errorf("%s: %w", p.o.Name, ErrNotConnected)
	}
	tok := p.client.Publish(topic, 1, p.o.Retained, payload)
	t := time.NewTimer(PublishTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("%s: publish %s: %w", p.o.Name, topic, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%s: publish %s: no PUBACK in %s", p.o.Name, topic, PublishTimeout)
	case <-ctx.Done():
		return fmt.Errorf("%s: publish %s: %w", p.o.Name, topic, ctx.Err())
	}
}
