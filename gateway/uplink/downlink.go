package uplink

import (
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// downlinkBuffer holds downlink messages the gateway has not taken yet. They are small and
// rare (a few per alarm); the pipeline takes them within a second.
const downlinkBuffer = 64

// Downlinks delivers the payloads of the downlink lane (docs/wire.md, "downlink": what
// became of the gateway's alarms), in arrival order; the receiver decodes and decides.
// Delivery is at least once: the receiver applies them idempotently.
func (u *Uplink) Downlinks() <-chan []byte { return u.downlinks }

// onDownlink runs on paho's router, and must not wait: paho reads the next packet from the
// connection only after this returns, and a PUBACK of an alarm may be that packet. With the
// buffer full (the pipeline is busy or stuck) the oldest message waiting is dropped for the
// new one: a later message of the same alert names every event again, and an alarm that is
// never confirmed is resent and retold (docs/wire.md, "downlink").
func (u *Uplink) onDownlink(_ mqtt.Client, m mqtt.Message) {
	p := append([]byte(nil), m.Payload()...)
	for {
		select {
		case u.downlinks <- p:
			return
		default:
		}
		select {
		case <-u.downlinks:
			n := u.downlinksDropped.Add(1)
			if log, suppressed := u.downlinkDrops.Refused("downlink", time.Now()); log {
				u.log.Warn("uplink: downlink buffer full, the oldest message dropped: nobody takes them",
					"dropped_total", n, "not_logged", suppressed)
			}
		default: // taken meanwhile: room now
		}
	}
}

// DownlinksDropped is how many downlink messages were dropped because nobody took them.
func (u *Uplink) DownlinksDropped() uint64 { return u.downlinksDropped.Load() }
