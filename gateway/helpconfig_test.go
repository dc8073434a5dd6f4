package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestHelpConfigValidate(t *testing.T) {
	c := testConfig(t, "tcp://127.0.0.1:1")
	if time.Duration(c.Help.LinkDownAfter) != 2*time.Minute || c.Help.payload("received") != nil {
		t.Fatalf("defaults %+v", c.Help)
	}
	c.Help.Zigbee = "help_led"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if p := string(c.Help.payload("acknowledged")); !strings.Contains(p, "#00C000") || c.Help.payload("link_down") != nil {
		t.Fatalf("default payloads: acknowledged %s", p)
	}
	for name, mod := range map[string]func(*Config){
		"link down after 0":   func(c *Config) { c.Help.LinkDownAfter = 0 },
		"zigbee without hub":  func(c *Config) { c.Zigbee.Broker, c.Serial.Path = "", "/dev/ttyUSB0" },
		"unknown payload key": func(c *Config) { c.Help.Payloads = map[string]json.RawMessage{"help": json.RawMessage(`{}`)} },
		"payload not object":  func(c *Config) { c.Help.Payloads = map[string]json.RawMessage{"received": json.RawMessage(`"ON"`)} },
	} {
		c := testConfig(t, "tcp://127.0.0.1:1")
		c.Help.Zigbee = "help_led"
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c.Help.Payloads = map[string]json.RawMessage{"link_down": json.RawMessage(`{"warning":{"mode":"emergency","duration":5}}`)}
	if err := c.Validate(); err != nil || c.Help.payload("received") != nil || c.Help.payload("link_down") == nil {
		t.Fatalf("own payloads: %v", err)
	}
}
