package rules

import (
	"sort"

	"github.com/vagt-dk/vagt"
)

// Episode is an alarm raised and not yet cleared. The gateway keeps the open episodes in
// the spool, so that after a restart the end of a condition still sends its clear, and a
// condition still true is not raised a second time.
type Episode struct {
	Type   vagt.AlarmType `json:"type"`
	Device vagt.DeviceID  `json:"device"`
	Sub    string         `json:"sub,omitempty"`
	Seq    uint64         `json:"seq"` // the raise's event seq, which the clear names
}

// Episodes returns the open episodes, in seq order.
func (e *Engine) Episodes() []Episode {
	out := make([]Episode, 0, len(e.open))
	for ep, seq := range e.open {
		out = append(out, Episode{Type: ep.typ, Device: ep.device, Sub: ep.sub, Seq: seq})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// Restore reopens episodes saved by Episodes (at start, before the first reading).
func (e *Engine) Restore(eps []Episode) {
	for _, x := range eps {
		if x.Type.Validate() == nil && x.Device.Validate() == nil && x.Seq != 0 {
			e.open[episode{typ: x.Type, device: x.Device, sub: x.Sub}] = x.Seq
		}
	}
	e.changed = false
}

// Changed reports whether an episode was raised or cleared since the last call.
func (e *Engine) Changed() bool {
	c := e.changed
	e.changed = false
	return c
}
