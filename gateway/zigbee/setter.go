package zigbee

import (
	"context"
	"log/slog"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Setter sends commands to Zigbee devices through Zigbee2MQTT (<base>/<name>/set), on a
// client of its own so that a slow local broker never holds up the subscriber or the
// gateway's pipeline: Set queues, Run publishes.
type Setter struct {
	opts  Options
	log   *slog.Logger
	queue chan setCommand
}

type setCommand struct {
	name    string
	payload []byte
}

// NewSetter returns a setter for the broker and base topic of opts; Run connects it.
func NewSetter(opts Options) *Setter {
	if opts.BaseTopic == "" {
		opts.BaseTopic = "zigbee2mqtt"
	}
	if opts.ClientID == "" {
		opts.ClientID = "vagt-gateway-set"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Setter{opts: opts, log: opts.Logger, queue: make(chan setCommand, 16)}
}

// Set queues payload (a JSON object Zigbee2MQTT understands, e.g. {"state":"ON"}) for the
// device with the friendly name. It never blocks: with the queue full the command is
// dropped and logged (the next state change sends a new one).
func (s *Setter) Set(name string, payload []byte) {
	select {
	case s.queue <- setCommand{name, payload}:
	default:
		s.log.Warn("zigbee: set dropped, the local broker is not taking commands", "name", name)
	}
}

// Run connects (retrying for ever) and publishes queued commands until ctx is done.
func (s *Setter) Run(ctx context.Context) error {
	o := mqtt.NewClientOptions().AddBroker(s.opts.Broker).SetClientID(s.opts.ClientID).
		SetUsername(s.opts.Username).SetPassword(s.opts.Password).SetCleanSession(true).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(30 * time.Second)
	client := mqtt.NewClient(o)
	client.Connect()
	defer client.Disconnect(250)
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-s.queue:
			topic := s.opts.BaseTopic + "/" + c.name + "/set"
			// paho queues a QoS 1 publish while it reconnects; wait a while for the PUBACK.
			tok := client.Publish(topic, 1, false, c.payload)
			select {
			case <-ctx.Done():
				return nil
			case <-tok.Done():
				if err := tok.Error(); err != nil {
					s.log.Warn("zigbee: set failed", "topic", topic, "err", err)
				}
			case <-time.After(30 * time.Second):
				s.log.Warn("zigbee: set not acknowledged by the local broker", "topic", topic)
			}
		}
	}
}
