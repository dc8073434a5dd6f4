package gateway

import (
	"strings"

	"github.com/vagt-dk/vagt"
)

// unmapped raises a technical alert (unknown_device) for each input of the group from a
// device that sent an alarm — a serial alarm frame, an alarm-capable Zigbee payload — but
// is not in the device map. It runs after process: the alarm itself went through the rules
// like any other and its frame was acknowledged; this alert is about the care plan, and
// must not hold up the K. The engine decides whether the device is unmapped.
func (g *Gateway) unmapped(group []input) {
	raised := false
	for _, x := range group {
		var (
			details map[string]string
			via     vagt.DeviceID
		)
		switch {
		case x.unmapped != "":
			details = map[string]string{"source": "zigbee", "name": strings.ToValidUTF8(x.unmapped[:min(len(x.unmapped), vagt.MaxAlarmDetailValue)], "")}
		case x.ack != nil:
			details, via = map[string]string{"source": "serial"}, vagt.DeviceID(x.ack.Unit)
		default:
			continue
		}
		if err := g.engine.Unmapped(x.seen, via, details); err != nil {
			g.log.Error("rules", "err", err)
		}
		raised = true
	}
	if raised {
		g.setEpisodes() // the alert's episode is open until the map takes the device in
	}
}
