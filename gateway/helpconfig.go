package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
)

// HelpConfig is the help section of the gateway's configuration.
type HelpConfig struct {
	// LinkDownAfter: after the platform has been unreachable this long the gateway tells the
	// base unit (an L frame), which then raises its alarms over its own telephone line; it
	// tells it again when the link is back. Default 2m.
	LinkDownAfter Duration `json:"link_down_after"`
	// Zigbee is the Zigbee2MQTT friendly name of a device (an LED, a light, a siren) that
	// shows the citizen what became of an alarm; "" none. It needs zigbee.broker.
	Zigbee string `json:"zigbee"`
	// Payloads are what is published to <base_topic>/<zigbee>/set, by help state name
	// (received, acknowledged, on_the_way, arrived, resolved) and for the link (link_down,
	// link_up); each a JSON object the device understands. A state without one sends
	// nothing. Default: a colour light — amber when received, green while help is coming,
	// off when resolved.
	Payloads map[string]json.RawMessage `json:"payloads"`
}

// defaultHelpPayloads suit a Zigbee2MQTT colour light or LED strip.
var defaultHelpPayloads = map[string]json.RawMessage{
	"received":     json.RawMessage(`{"state":"ON","color":{"hex":"#FFA000"}}`),
	"acknowledged": json.RawMessage(`{"state":"ON","color":{"hex":"#00C000"}}`),
	"on_the_way":   json.RawMessage(`{"state":"ON","color":{"hex":"#00C000"}}`),
	"arrived":      json.RawMessage(`{"state":"ON","color":{"hex":"#00C000"}}`),
	"resolved":     json.RawMessage(`{"state":"OFF"}`),
}

func (h *HelpConfig) validate(zigbee bool) error {
	var errs []error
	if h.LinkDownAfter < Duration(time.Second) {
		errs = append(errs, fmt.Errorf("help.link_down_after %s: at least 1s", h.LinkDownAfter))
	}
	if h.Zigbee != "" && !zigbee {
		errs = append(errs, errors.New("help.zigbee needs zigbee.broker"))
	}
	for k, v := range h.Payloads {
		if _, err := vagt.ParseHelpState(k); err != nil && k != "link_down" && k != "link_up" {
			errs = append(errs, fmt.Errorf("help.payloads: unknown key %q (a help state, link_down or link_up)", k))
		}
		var obj map[string]any
		if err := json.Unmarshal(v, &obj); err != nil || obj == nil {
			errs = append(errs, fmt.Errorf("help.payloads.%s: not a JSON object", k))
		}
	}
	return errors.Join(errs...)
}

// payload returns what to send the Zigbee device for key, nil for nothing.
func (h *HelpConfig) payload(key string) []byte {
	if h.Zigbee == "" {
		return nil
	}
	m := h.Payloads
	if m == nil {
		m = defaultHelpPayloads
	}
	return m[key]
}
