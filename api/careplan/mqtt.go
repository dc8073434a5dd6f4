package careplan

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// MQTTOptions configure the config lane's publisher.
type MQTTOptions struct {
	Broker             string
	ClientID           string // not the alarm lane's: that one has a persistent session of its own
	Username, Password string
	TLS                *tls.Config
}

// MQTTPublisher publishes configurations on the platform broker, retained with QoS 1. It
// connects in the background and reconnects for ever; a publish while disconnected fails
// (paho buffers nothing offline) and the service retries it.
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
var ErrNotConnected = errors.New("careplan: not connected to the broker")

// Publish sends payload retained with QoS 1 and waits for the broker's PUBACK.
func (p *MQTTPublisher) Publish(ctx context.Context, topic string, payload []byte) error {
	if !p.client.IsConnectionOpen() {
		return ErrNotConnected
	}
	tok := p.client.Publish(topic, 1, true, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("careplan: publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("careplan: publish %s: %w", topic, ctx.Err())
	}
}
