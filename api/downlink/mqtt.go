package downlink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// MQTTOptions configure the downlink's publisher.
type MQTTOptions struct {
	Broker             string
	ClientID           string // its own: not the alarm lane's persistent session
	Username, Password string
	TLS                *tls.Config
}

// MQTTPublisher publishes downlinks on the platform broker, QoS 1, not retained. It
// connects in the background and reconnects for ever; a publish while disconnected fails
// and the notifier retries it.
type MQTTPublisher struct {
	client mqtt.Client
}

// NewMQTTPublisher returns a publisher; Run connects it.
func NewMQTTPublisher(o MQTTOptions) *MQTTPublisher {
	opts := mqtt.NewClientOptions().AddBroker(o.Broker).SetClientID(o.ClientID).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(10 * time.Second).SetKeepAlive(30 * time.Second)
	if o.TLS != nil {
		opts.SetTLSConfig(o.TLS)
	}
	if o.Username != "" {
		opts.SetUsername(o.Username).SetPassword(o.Password)
	}
	return &MQTTPublisher{client: mqtt.NewClient(opts)}
}

// Run connects (retrying in the background) and disconnects when ctx is done.
func (p *MQTTPublisher) Run(ctx context.Context) error {
	p.client.Connect()
	<-ctx.Done()
	p.client.Disconnect(250)
	return nil
}

// ErrNotConnected is a publish while the broker is away.
var ErrNotConnected = errors.New("downlink: not connected to the broker")

// publishTimeout bounds the wait for a PUBACK: a broker that went away mid-publish makes
// the notifier retry rather than wait for ever.
const publishTimeout = 10 * time.Second

// Publish sends payload with QoS 1, not retained, and waits for the broker's PUBACK.
func (p *MQTTPublisher) Publish(ctx context.Context, topic string, payload []byte) error {
	if !p.client.IsConnectionOpen() {
		return ErrNotConnected
	}
	tok := p.client.Publish(topic, 1, false, payload)
	t := time.NewTimer(publishTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("downlink: publish %s: %w", topic, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("downlink: publish %s: no PUBACK in %s", topic, publishTimeout)
	case <-ctx.Done():
		return fmt.Errorf("downlink: publish %s: %w", topic, ctx.Err())
	}
}
