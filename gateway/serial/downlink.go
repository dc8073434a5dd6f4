package serial

import (
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
)

// Frames the gateway writes to the unit besides K (docs/serial.md, "Help confirmed" and
// "The platform link").
const (
	TypeHelp = 'S' // gateway → unit: S,<state>,<event seq>: what became of the alarm frame <seq>
	TypeLink = 'L' // gateway → unit: L,<up|down>,<s down>: the gateway's link to the platform
)

// HelpFrame tells the unit what became of its alarm frame seq, which the gateway sent as
// event: received, acknowledged, on_the_way, arrived or resolved.
func HelpFrame(unit string, seq uint16, state vagt.HelpState, event uint64) []byte {
	return gatewayFrame(fmt.Sprintf("%s,%d,S,%s,%d", unit, seq, state, event))
}

// LinkFrame tells the unit whether the gateway can reach the platform, and for how long it
// could not (whole seconds; 0 when up). Its seq is 0: it answers no frame of the unit.
func LinkFrame(unit string, up bool, down time.Duration) []byte {
	if up {
		return gatewayFrame(unit + ",0,L,up,0")
	}
	return gatewayFrame(fmt.Sprintf("%s,0,L,down,%d", unit, int64(down/time.Second)))
}

func gatewayFrame(body string) []byte {
	return fmt.Appendf(nil, "$%s*%04X\r\n", body, CRC16([]byte(body)))
}

// Send writes a frame the gateway made (HelpFrame, LinkFrame) to the unit. ErrNoPort while
// the port is not open: the caller decides whether to say it again later.
func (r *Reader) Send(frame []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.port == nil {
		return ErrNoPort
	}
	if _, err := r.port.Write(frame); err != nil {
		return fmt.Errorf("serial: write: %w", err)
	}
	return nil
}
