package load

import (
	"strings"
	"testing"
	"time"
)

// TestConfigDefaultsThenValidate: Defaults fills what is unset and nothing else; Validate
// refuses what cannot be played, each with its own message.
func TestConfigDefaultsThenValidate(t *testing.T) {
	c := Config{Broker: "tcp://127.0.0.1:1", Homes: 2, Sensors: 3, Batches: 1, Window: 9}
	c.Defaults()
	if c.ClientID != "vagt-load" || c.Samples != 1 || c.Conns != 2 || c.Window != 9 || c.Prefix != "load" || c.Step != time.Second || c.Start.IsZero() {
		t.Fatalf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("a playable config refused: %v", err)
	}
	for _, bad := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Broker = "" }, "broker is required"},
		{func(c *Config) { c.Homes = 0 }, "at least one home or tracker"},
		{func(c *Config) { c.Sensors = 0 }, "sensors must be at least 1"},
		{func(c *Config) { c.Samples = 2000 }, "exceeds a batch"},
		{func(c *Config) { c.Batches = 0 }, "a duration or a number of batches"},
	} {
		c2 := c
		bad.change(&c2)
		if err := c2.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("want %q, got %v", bad.want, err)
		}
	}
}
