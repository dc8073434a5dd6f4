package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/test/localstack"
)

// broker is one engine under measurement, with TLS and a client certificate per gateway.
type broker interface {
	name() string
	gatewayURLs(i int) []string // gateway i's broker list (all nodes, its own first)
	tlsAddr() string            // a TLS listener, for the handshake measurement
	consumer() ([]string, *tls.Config)
	pids() []int
	// fault takes the broker (or one node) down and brings it back; it returns when the
	// fault has been dealt (not when the clients are back).
	fault(ctx context.Context) (string, error)
	// healthy returns once the broker is whole again after a fault (every node started and
	// answering, its JetStream current), or why not: a storm measured on a cluster still
	// missing the last fault's node would measure a double fault.
	healthy(ctx context.Context) error
	close()
}

// restartTimer is a broker whose fault starts a node again in the background: how long the
// last fault's start took, known once healthy has returned.
type restartTimer interface {
	lastUp() time.Duration
}

// mosquittoBroker is one Mosquitto with a TLS listener that requires a client certificate
// whose CN becomes the user, and persistence, so a clean restart keeps the sessions.
type mosquittoBroker struct {
	m        *localstack.Mosquitto
	downtime time.Duration // between stop and start in the fault
}

func startMosquitto(ctx context.Context, p *pki, downtime time.Duration) (broker, error) {
	cert, key, err := p.files("127.0.0.1")
	if err != nil {
		return nil, err
	}
	m, err := localstack.StartMosquitto(ctx, localstack.MosquittoOptions{Persistence: true,
		TLS: &localstack.MosquittoTLS{CertFile: cert, KeyFile: key, CAFile: p.caFile, RequireCertificate: true, UseIdentityAsUsername: true},
		// Room for the whole fleet's handshakes at once.
		Extra: "max_connections -1",
		// The restart in the storm is ready when the harness's own probe gets its CONNACK,
		// which waits in line with every gateway's TLS handshake on Mosquitto's one thread:
		// with 19,900 gateways that took over the default 60 s.
		StartTimeout: 10 * time.Minute})
	if err != nil {
		return nil, err
	}
	return &mosquittoBroker{m: m, downtime: downtime}, nil
}

func (b *mosquittoBroker) name() string                      { return "mosquitto" }
func (b *mosquittoBroker) gatewayURLs(int) []string          { return []string{b.m.TLSURL()} }
func (b *mosquittoBroker) tlsAddr() string                   { return b.m.TLSAddr() }
func (b *mosquittoBroker) consumer() ([]string, *tls.Config) { return []string{b.m.URL()}, nil }
func (b *mosquittoBroker) pids() []int                       { return []int{b.m.PID()} }
func (b *mosquittoBroker) close()                            { b.m.Close() }
func (b *mosquittoBroker) healthy(context.Context) error     { return nil } // fault returns once it is back

// fault restarts Mosquitto (SIGTERM, which saves the sessions, and start; with a downtime
// between them, during which every attempt is refused): every gateway loses its connection
// at once.
func (b *mosquittoBroker) fault(ctx context.Context) (string, error) {
	if b.downtime <= 0 {
		return "restart of the broker", b.m.Restart(ctx)
	}
	if err := b.m.Stop(); err != nil {
		return "", err
	}
	go func() {
		time.Sleep(b.downtime)
		_ = b.m.Start(ctx)
	}()
	return fmt.Sprintf("broker stopped for %v, then started", b.downtime), nil
}

// natsBroker is the 3-node cluster with the production shape: TLS, every client authorized
// by vagt broker-auth (certificate common name as user, its own client id, per-gateway
// permissions).
type natsBroker struct {
	c   *authCluster
	o   natsOptions
	svc *tls.Config
	// profiled: the first storm's profiles are taken (-nats-profile)
	profiled bool
	// restarted gets the result of the last fault's start of the node it killed; up is
	// how long after the kill that start returned.
	restarted chan error
	up        time.Duration
}

// natsOptions are what a run may change of the cluster, to find what a reconnect costs.
type natsOptions struct {
	mqtt       string // lines for the mqtt block, ';'-separated
	auth       string // callout or static
	profileDir string
	profileFor time.Duration
	debug      bool
	kill       string // which node a storm kills: busiest, or sess-leader
}

func startNATS(ctx context.Context, p *pki, no natsOptions, gateways int) (broker, error) {
	cert, key, err := p.files("127.0.0.1")
	if err != nil {
		return nil, err
	}
	probeCert, probeKey, err := p.files("vagt-localstack-probe")
	if err != nil {
		return nil, err
	}
	opts := localstack.NATSClusterOptions{
		TLS:     &localstack.NATSTLS{CertFile: cert, KeyFile: key, CAFile: p.caFile, ProbeCert: probeCert, ProbeKey: probeKey},
		MQTT:    strings.ReplaceAll(no.mqtt, ";", "\n  "),
		Profile: no.profileDir != "",
		Extra:   "max_connections: 400000",
		// A node killed in a storm is ready when its probe gets a CONNACK, which waits in
		// line with every returning gateway's session: at 20,000 gateways longer than the
		// default 60 s.
		StartTimeout: 10 * time.Minute}
	if no.profileDir != "" {
		if err := os.MkdirAll(no.profileDir, 0o755); err != nil {
			return nil, err
		}
	}
	if no.debug {
		opts.Extra += "\ndebug: true"
	}
	if no.kill != "busiest" && no.kill != "sess-leader" {
		return nil, fmt.Errorf("-nats-kill %q: busiest or sess-leader", no.kill)
	}
	var c *authCluster
	switch no.auth {
	case "callout":
		// Every client is authorized by the auth callout (vagt broker-auth), as in
		// production: each connection's handshake includes its round trip.
		c, err = startAuthCluster(ctx, opts)
	case "static":
		// A users list of every gateway, each mapped from its certificate: what a
		// reconnect costs without the callout's round trip.
		opts.Users = []localstack.NATSUser{{Name: "CN=svc_api"}}
		for i := range gateways {
			opts.Users = append(opts.Users, localstack.NATSUser{Name: "CN=" + string(load.GatewayID("load", i))})
		}
		var nc *localstack.NATSCluster
		nc, err = localstack.StartNATSCluster(ctx, opts)
		if err == nil {
			c = &authCluster{NATSCluster: nc, stopAuth: func() error { return nil }}
		}
	default:
		return nil, fmt.Errorf("-nats-auth %q: callout or static", no.auth)
	}
	if err != nil {
		return nil, err
	}
	svc, err := p.issue("svc_api")
	if err != nil {
		c.Close()
		return nil, err
	}
	return &natsBroker{c: c, o: no, svc: p.clientTLS(svc)}, nil
}

func (b *natsBroker) name() string { return "nats-3" }
func (b *natsBroker) gatewayURLs(i int) []string {
	urls := b.c.URLs()
	out := make([]string, len(urls))
	for k := range urls {
		out[k] = urls[(i+k)%len(urls)]
	}
	return out
}
func (b *natsBroker) tlsAddr() string { return b.c.Node(0).MQTTAddr() }

// The consumer starts on node 2, so a fault of the busiest node rarely takes it along.
func (b *natsBroker) consumer() ([]string, *tls.Config) { return b.gatewayURLs(2), b.svc }
func (b *natsBroker) pids() []int {
	var p []int
	for _, n := range b.c.Nodes() {
		p = append(p, n.PID())
	}
	return p
}
func (b *natsBroker) close() {
	logRefusals(b.c.Nodes())
	if b.o.profileDir != "" {
		// The nodes' logs go with their directories at Close: keep them with the profiles.
		for _, n := range b.c.Nodes() {
			if log, err := os.ReadFile(n.LogPath()); err == nil {
				_ = os.WriteFile(filepath.Join(b.o.profileDir, n.Name()+".log"), log, 0o644)
			}
		}
	}
	b.c.Close()
}

// fault kills -9 a node and starts it again: the one of nodes 1 and 2 with the most
// connections (node 3 holds the consumer), or with -nats-kill sess-leader the leader of the
// session stream $MQTT_sess, whichever node it is (every CONNECT waits for its successor).
// It says what the node led: a storm's length depends on it.
func (b *natsBroker) fault(ctx context.Context) (string, error) {
	victim, most := b.c.Node(0), -1
	for _, n := range b.c.Nodes()[:2] {
		if c, err := n.Connections(); err == nil && c > most {
			victim, most = n, c
		}
	}
	led, meta := b.leaders()
	if b.o.kill == "sess-leader" {
		if name := led[sessStream]; name == "" {
			log.Printf("the leader of %s is not known: killing the busiest node", sessStream)
		} else {
			for _, n := range b.c.Nodes() {
				if n.Name() == name {
					victim = n
				}
			}
			most, _ = victim.Connections()
		}
	}
	var its []string
	for _, stream := range slices.Sorted(maps.Keys(led)) {
		if led[stream] == victim.Name() {
			its = append(its, stream)
		}
	}
	if meta == victim.Name() {
		its = append(its, "the meta layer")
	}
	if err := victim.Kill(); err != nil {
		return "", err
	}
	killed := time.Now()
	b.restarted = make(chan error, 1)
	go func() {
		err := victim.Start(ctx)
		b.up = time.Since(killed) // read after the channel's receive
		b.restarted <- err
	}()
	return fmt.Sprintf("kill -9 of %s (%d connections; leader of %s) and its start", victim.Name(), most, orNothing(its)), nil
}

func orNothing(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// sessStream is the stream of the MQTT session records: a CONNECT with a persistent session
// reads and writes it, so while it has no leader every CONNECT is refused.
const sessStream = "$MQTT_sess"

// leaders asks the nodes which node leads each of the account's streams and the meta layer
// (the first node that answers says; nil and "" when none does).
func (b *natsBroker) leaders() (map[string]string, string) {
	for _, n := range b.c.Nodes() {
		if led, meta, err := streamLeaders(n.MonitorURL()); err == nil {
			return led, meta
		}
	}
	return nil, ""
}

func (b *natsBroker) lastUp() time.Duration { return b.up }

func (b *natsBroker) healthy(ctx context.Context) error {
	if b.restarted != nil {
		if err := <-b.restarted; err != nil {
			return fmt.Errorf("the node killed by the last fault did not start again: %w", err)
		}
		b.restarted = nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for _, n := range b.c.Nodes() {
		for {
			resp, err := http.Get(n.MonitorURL() + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not healthy: %v", n.Name(), ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// rss is the resident memory of the processes, from /proc.
func rss(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}

// refusalKinds are the node log lines that say a gateway's CONNECT or SUBSCRIBE failed, and
// why: what a reconnect storm on NATS is made of besides the successes.
var refusalKinds = []struct{ name, pattern string }{
	{"SUBSCRIBE refused: consumer create timed out (the consumer may still be made: an orphan)", `Unable to add JetStream consumer .*timeout after`},
	{"SUBSCRIBE refused: maximum consumers", `Unable to add JetStream consumer .*maximum consumers`},
	{"SUBSCRIBE refused: other", `Unable to add JetStream consumer`},
	{"CONNECT refused: session record not loaded (JetStream unavailable)", `loading session record: JetStream system temporarily unavailable`},
	{"CONNECT refused: session record not loaded (timeout)", `loading session record: timeout`},
	{"CONNECT refused: session not saved", `unable to persist session`},
	{"CONNECT refused: authentication (callout answer late or refused)", `unable to connect: authentication error`},
	{"connection closed: QoS 1 publish not stored in time", `JetStream failed a pipelined`},
}

// logRefusals counts refusalKinds in every node's log (each line counted once, in the first
// kind that matches).
func logRefusals(nodes []*localstack.NATSNode) {
	res := make([]*regexp.Regexp, len(refusalKinds))
	for i, k := range refusalKinds {
		res[i] = regexp.MustCompile(k.pattern)
	}
	counts := make([]int, len(refusalKinds))
	for _, n := range nodes {
		b, err := os.ReadFile(n.LogPath())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			for i, re := range res {
				if re.MatchString(line) {
					counts[i]++
					break
				}
			}
		}
	}
	for i, k := range refusalKinds {
		if counts[i] > 0 {
			log.Printf("node logs, whole run: %d × %s", counts[i], k.name)
		}
	}
}
