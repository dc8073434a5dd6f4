package server_test

import (
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/api/server"
)

// TestConfigDefaultsThenValidate: Defaults fills the listener and the escalation policy and
// nothing else; Validate only checks, and names what is wrong.
func TestConfigDefaultsThenValidate(t *testing.T) {
	c := server.Config{DB: "x.db"}
	if err := c.Validate(); err == nil {
		t.Error("Validate accepted a config without an escalation policy: it must not fill defaults itself")
	}
	c.Defaults()
	if c.Listen != "127.0.0.1:8080" || c.Policy.Escalate == nil {
		t.Fatalf("defaults: listen %q, policy %+v", c.Listen, c.Policy)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("a config with defaults refused: %v", err)
	}
	for _, bad := range []struct {
		change func(*server.Config)
		want   string
	}{
		{func(c *server.Config) { c.DB = "" }, "a database"},
		{func(c *server.Config) { c.Broker = "tcp://127.0.0.1:1883" }, "client id"},
		{func(c *server.Config) { c.Broker, c.ClientID, c.NoAlarmLane = "tcp://127.0.0.1:1883", "a", true }, "choose one"},
	} {
		c2 := c
		bad.change(&c2)
		if err := c2.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("want %q, got %v", bad.want, err)
		}
	}
}
