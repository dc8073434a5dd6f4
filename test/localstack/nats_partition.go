package localstack

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
)

// Partitions on loopback: with NATSClusterOptions.Partitionable every route between two
// nodes goes through a proxy of its own (a Balancer with one backend), one per ordered
// pair, since each node dials its peers. Cutting a node's proxies, both directions, is a
// network partition of that node from the others while its clients stay connected to it —
// unlike Freeze, which silences the node to everyone. No firewall rules: nothing outside
// the test's processes is touched.

// startLinks listens for every ordered pair of n nodes; aimLinks points each at its node's
// route port once the ports are picked.
func (c *NATSCluster) startLinks(n int) error {
	c.links = map[[2]int]*Balancer{}
	for from := range n {
		for to := range n {
			if from == to {
				continue
			}
			b, err := StartBalancer([]string{"unset"})
			if err != nil {
				return err
			}
			c.links[[2]int{from, to}] = b
		}
	}
	return nil
}

func (c *NATSCluster) aimLinks() {
	for pair, b := range c.links {
		b.mu.Lock()
		b.backends[0] = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.nodes[pair[1]].route))
		b.mu.Unlock()
	}
}

// routeTo is the address node n dials for its route to p: p's route listener, or the proxy
// between them.
func (n *NATSNode) routeTo(p *NATSNode) string {
	if l, ok := n.cluster.links[[2]int{n.index, p.index}]; ok {
		return l.Addr()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.route))
}

// Partition cuts the node off from its peers (a cluster started Partitionable): every route
// to and from it is closed and no new one gets through, while its clients stay connected.
// Heal lets the routes through again.
func (n *NATSNode) Partition() error { return n.setCut(true) }

// Heal ends a Partition.
func (n *NATSNode) Heal() error { return n.setCut(false) }

func (n *NATSNode) setCut(cut bool) error {
	c := n.cluster
	if c.links == nil {
		return fmt.Errorf("localstack: %s: the cluster was not started Partitionable", n.Name())
	}
	for pair, l := range c.links {
		if pair[0] == n.index || pair[1] == n.index {
			l.setCut(cut)
		}
	}
	return nil
}

// setCut cuts (closes every connection, refuses new ones) or restores the balancer.
func (b *Balancer) setCut(cut bool) {
	b.cut.Store(cut)
	if !cut {
		return
	}
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
}

// Routes is the number of route connections the node holds now (its /routez): 0 when it
// is partitioned from every peer.
func (n *NATSNode) Routes() (int, error) {
	resp, err := http.Get(n.MonitorURL() + "/routez")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var routez struct {
		NumRoutes int `json:"num_routes"`
	}
	err = json.NewDecoder(resp.Body).Decode(&routez)
	return routez.NumRoutes, err
}
