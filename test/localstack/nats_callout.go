package localstack

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// NATSCallout is the auth callout of a cluster: the nodes ask the service (vagt
// broker-auth) about every client but the service's own user and the readiness probe.
type NATSCallout struct {
	// Issuer is the public account nkey ("A…") whose seed signs the service's answers.
	Issuer string
	// User and Password are the service's own login on the nodes' NATS (client) listener:
	// it bypasses the callout and may use no MQTT.
	User, Password string
}

// ClientURL is the node's NATS protocol URL (its client listener, loopback only): where the
// auth callout service connects.
func (n *NATSNode) ClientURL() string {
	return "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.client))
}

// ClientURLs are every node's ClientURL.
func (c *NATSCluster) ClientURLs() []string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = n.ClientURL()
	}
	return urls
}

// calloutConfig is the authorization block of a node whose clients are authorized by the
// callout: the service's user and the probe are the only static users, and both bypass it.
func (n *NATSNode) calloutConfig() string {
	o := n.cluster.opts
	probe := fmt.Sprintf("{ user: %q, password: %q, permissions: { publish: { deny: [\">\"] }, subscribe: { deny: [\">\"] } } }",
		probeUser, n.cluster.probePassword)
	probeName := probeUser
	if o.TLS != nil {
		probeName = "CN=" + probeUser
		probe = NATSUserConfig(NATSUser{Name: probeName, Publish: []string{}, Subscribe: []string{}}, false)
	}
	var b strings.Builder
	// timeout: how long a node waits for the service's answer, as deploy/nats/nats.conf
	// (NATS's default is 2 s, which a loaded machine's connection storm exceeds).
	fmt.Fprintf(&b, "authorization {\n  timeout: 5\n  users: [\n")
	fmt.Fprintf(&b, "    { user: %q, password: %q, allowed_connection_types: [\"STANDARD\"] }\n", o.Callout.User, o.Callout.Password)
	fmt.Fprintf(&b, "    %s\n  ]\n", probe)
	fmt.Fprintf(&b, "  auth_callout {\n    issuer: %q\n    auth_users: [%q, %q]\n  }\n}\n", o.Callout.Issuer, o.Callout.User, probeName)
	return b.String()
}
