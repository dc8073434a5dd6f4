package demo

import (
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// The embedded broker's ACL lets a gateway read its own downlink (docs/wire.md) and no
// other gateway's, and write none; the services may write it.
func TestEmbeddedBrokerDownlinkACL(t *testing.T) {
	h := &authHook{}
	for user, role := range map[string]brokerRole{"gw-a": roleGateway, "svc": roleService} {
		if _, err := h.add(user, role, "gw-a"); err != nil {
			t.Fatal(err)
		}
	}
	as := func(user string) *mqtt.Client {
		return &mqtt.Client{Properties: mqtt.ClientProperties{Username: []byte(user)}}
	}
	for _, c := range []struct {
		user, topic string
		write, want bool
	}{
		{"gw-a", "vagt/v1/gw/gw-a/downlink", false, true},
		{"gw-a", "vagt/v1/gw/gw-b/downlink", false, false},
		{"gw-a", "vagt/v1/gw/gw-a/downlink", true, false},
		{"svc", "vagt/v1/gw/gw-a/downlink", true, true},
	} {
		if got := h.OnACLCheck(as(c.user), c.topic, c.write); got != c.want {
			t.Errorf("%s %s write=%v: %v, want %v", c.user, c.topic, c.write, got, c.want)
		}
	}
}
