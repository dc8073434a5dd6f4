package uplink

import (
	"context"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
)

// downlinkBuffer holds downlink messages the gateway has not taken yet. They are small and
// rare (a few per alarm); the pipeline takes them within a second.
const downlinkBuffer = 64

// Downlinks delivers the payloads of the downlink lane (docs/wire.md, "downlink": what
// became of the gateway's alarms), in arrival order; the receiver decodes and decides.
// Delivery is at least once: the receiver applies them idempotently.
func (u *Uplink) Downlinks() <-chan []byte { return u.downlinks }

// onDownlink runs on paho's router. It waits a little for room rather than drop news,
// then drops it: a later message of the same alert names every event again.
func (u *Uplink) onDownlink(_ mqtt.Client, m mqtt.Message) {
	p := append([]byte(nil), m.Payload()...)
	select {
	case u.downlinks <- p:
		return
	default:
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case u.downlinks <- p:
	case <-t.C:
		u.log.Warn("uplink: downlink message dropped, nobody took the ones before it")
	}
}

// subscribeDownlink subscribes to the gateway's downlink lane (QoS 1; the persistent
// session keeps what arrives while the gateway is away).
func (u *Uplink) subscribeDownlink(ctx context.Context) {
	tok := u.client.Subscribe(vagt.Topic(u.opts.Gateway, vagt.LaneDownlink), 1, u.onDownlink)
	if !waitToken(ctx, tok, u.opts.PublishTimeout) || tok.Error() != nil {
		u.log.Warn("uplink: subscribe to downlink failed", "err", tok.Error())
	}
}
