package localstack

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// NATSClusterOptions configure a cluster of NATS servers that speak MQTT 3.1.1, with the
// MQTT state (sessions, retained messages, QoS 1 messages in flight) in JetStream streams
// replicated over the nodes. The zero value is three nodes that let anybody in.
type NATSClusterOptions struct {
	// Nodes in the cluster; default 3. JetStream needs a majority of them up.
	Nodes int
	// Users may connect; none: anybody may, without a user name.
	Users []NATSUser
	// Callout, when set, puts every client's authorization through an auth callout
	// service (vagt broker-auth, package brokerauth) instead of Users, which must be empty;
	// stacktest.NATSClusterWithAuth runs the service.
	Callout *NATSCallout
	// BrokerAuth, when set, runs the callout service as processes instead, one `vagt
	// broker-auth` beside each node (nats_brokerauth.go); Users and Callout must be empty.
	BrokerAuth *NATSBrokerAuth
	// TLS makes the MQTT listener speak TLS and require a client certificate whose
	// subject is a user name ("CN=gw-000001"); then no password is asked.
	TLS *NATSTLS
	// AckWait is how long a node waits for a subscriber's PUBACK before it sends the
	// message again; default 15s, as deploy/nats (NATS: 30s). It also bounds how long a
	// message in flight to a consumer whose node died waits before it is sent again:
	// with 2m an alarm waited 2m11s in the chain measurement (docs/scaling.md).
	AckWait time.Duration
	// MaxAckPending is the QoS 1 window per subscription; default 1024.
	MaxAckPending int
	// Partitionable routes the nodes to each other through loopback proxies, one per
	// ordered pair, that NATSNode.Partition cuts: a true partition, the node still serving
	// its clients (nats_partition.go).
	Partitionable bool
	// MQTT lines are added inside every node's mqtt block (consumer_memory_storage,
	// consumer_inactive_threshold, js_api_timeout …), to measure what they change.
	MQTT string
	// Profile gives every node a pprof listener (prof_port) on a free loopback port:
	// NATSNode.ProfileURL.
	Profile bool
	// Extra lines are added to every node's configuration.
	Extra string
	// Config, when set, writes a node's whole configuration instead (a production file
	// rewritten for loopback: deploy/nats's test). Under TLS it must let the probe user in.
	Config func(NATSNodeConfig) string

	BaseDir      string        // parent of the nodes' temporary directories; default os.TempDir()
	StartTimeout time.Duration // default 60s
	StopTimeout  time.Duration // SIGTERM to SIGKILL; default 10s
	Logger       *slog.Logger  // nil logs nothing
}

// NATSUser is one account on the cluster. Publish and Subscribe are MQTT topic filters
// (`+` and a trailing `#` allowed) the user may publish to and subscribe to; nil allows
// all, an empty non-nil slice nothing.
type NATSUser struct {
	Name      string // the MQTT user name, or the certificate subject under TLS ("CN=…")
	Password  string // ignored under TLS
	Publish   []string
	Subscribe []string
}

// NATSTLS is the MQTT listener's TLS; the files are PEM paths. ProbeCert and ProbeKey
// are a client certificate with subject "CN=vagt-localstack-probe" signed by CAFile,
// which the readiness check presents (the cluster adds that user itself).
type NATSTLS struct {
	CertFile, KeyFile, CAFile string
	ProbeCert, ProbeKey       string
}

// NATSNodeConfig is what a Config function needs to know of a node.
type NATSNodeConfig struct {
	Name, Dir                    string // nats-1 …; the node's directory (JetStream goes under it)
	Client, Route, MQTT, Monitor int    // the node's loopback ports
	Routes                       []int  // the other nodes' route ports
}

// probeUser is the account the readiness check connects with; it may do nothing else.
const probeUser = "vagt-localstack-probe"

// NATSCluster is a running (or partly stopped) cluster.
type NATSCluster struct {
	opts          NATSClusterOptions
	nodes         []*NATSNode
	probePassword string
	balancer      *Balancer
	links         map[[2]int]*Balancer // [from, to] node index: the route proxies (Partitionable)
	auths         []*BrokerAuth        // the callout's processes, one per node (BrokerAuth)
}

// NATSNode is one server of a cluster: it has the lifecycle of every localstack
// service (Stop, Kill, Start, PID, LogTail), and its own MQTT listener.
type NATSNode struct {
	*service
	cluster                          *NATSCluster
	index                            int
	path                             string
	client, route, mqtt, monitorPort int
	profPort                         int  // 0 unless the cluster's Profile is set
	started                          bool // once: a restart keeps the ports clients were given
}

// StartNATSCluster starts the nodes on free loopback ports and waits until each answers an
// MQTT CONNECT with its JetStream ready. ctx bounds the start only.
func StartNATSCluster(ctx context.Context, opts NATSClusterOptions) (*NATSCluster, error) {
	path, err := FindBinary("nats-server")
	if err != nil {
		return nil, err
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.AckWait <= 0 {
		opts.AckWait = 15 * time.Second
	}
	if opts.MaxAckPending <= 0 {
		opts.MaxAckPending = 1024
	}
	if opts.Callout != nil && len(opts.Users) > 0 {
		return nil, errors.New("localstack: a NATS cluster takes Users or a Callout, not both")
	}
	if opts.TLS != nil && (opts.TLS.ProbeCert == "" || opts.TLS.ProbeKey == "") {
		return nil, errors.New("localstack: a NATS cluster with TLS needs a probe certificate")
	}
	if opts.BrokerAuth != nil && (opts.Callout != nil || len(opts.Users) > 0) {
		return nil, errors.New("localstack: a NATS cluster with BrokerAuth processes takes no Users or Callout")
	}
	c := &NATSCluster{opts: opts}
	var seed []byte
	if opts.BrokerAuth != nil {
		var err error
		if seed, err = c.prepareBrokerAuth(); err != nil {
			return nil, err
		}
	}
	secret := make([]byte, 16)
	if _, err := io.ReadFull(rand.Reader, secret); err != nil {
		return nil, err
	}
	c.probePassword = hex.EncodeToString(secret)
	if opts.Partitionable {
		// Listening before the nodes' ports are picked, so no node gets a proxy's port.
		if err := c.startLinks(opts.Nodes); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	for i := range opts.Nodes {
		svc, err := newService(serviceConfig{
			name: "nats-" + strconv.Itoa(i+1), baseDir: opts.BaseDir, stopSignal: syscall.SIGTERM,
			stopTimeout: opts.StopTimeout, logger: opts.Logger,
		})
		if err != nil {
			return nil, errors.Join(err, c.Close())
		}
		n := &NATSNode{service: svc, cluster: c, index: i, path: path}
		n.launch = n.launchLocked
		c.nodes = append(c.nodes, n)
		ports := []*int{&n.client, &n.route, &n.mqtt, &n.monitorPort}
		if opts.Profile {
			ports = append(ports, &n.profPort)
		}
		for _, p := range ports {
			if *p, err = FreePort(); err != nil {
				return nil, errors.Join(err, c.Close())
			}
		}
	}
	if opts.Partitionable {
		c.aimLinks()
	}
	// All at once: a node's JetStream waits for a quorum of its peers.
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = n.Start(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.MQTTAddr()
	}
	if c.balancer, err = StartBalancer(addrs); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	if opts.BrokerAuth != nil {
		if err := c.startBrokerAuths(ctx, seed); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	return c, nil
}

// URL is the MQTT URL of the cluster's load balancer (see Balancer): what a gateway or a
// service is given in production, one address for the whole cluster.
func (c *NATSCluster) URL() string {
	if c.opts.TLS != nil {
		return "ssl://" + c.balancer.Addr()
	}
	return "tcp://" + c.balancer.Addr()
}

// Stop stops every node cleanly (a whole-cluster outage); Start starts them again, all at
// once, since a lone node has no JetStream quorum and does not answer.
func (c *NATSCluster) Stop() error {
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, n.Stop())
	}
	return errors.Join(errs...)
}

// Start starts every stopped node, all at once, and waits until each answers.
func (c *NATSCluster) Start(ctx context.Context) error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = n.Start(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// NodeOf returns the node that holds the MQTT connection of clientID, or nil.
func (c *NATSCluster) NodeOf(clientID string) *NATSNode {
	for _, n := range c.nodes {
		if n.Running() && n.hasMQTTClient(clientID) {
			return n
		}
	}
	return nil
}

// Nodes are the cluster's servers, in order.
func (c *NATSCluster) Nodes() []*NATSNode { return c.nodes }

// Node is server i (0-based).
func (c *NATSCluster) Node(i int) *NATSNode { return c.nodes[i] }

// URLs are the MQTT URLs of all nodes, for a client that takes several (paho tries them
// in order); production puts a TCP load balancer in front instead.
func (c *NATSCluster) URLs() []string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = n.URL()
	}
	return urls
}

// Close stops every node and removes their directories.
func (c *NATSCluster) Close() error {
	var errs []error
	if c.balancer != nil {
		errs = append(errs, c.balancer.Close())
	}
	for _, l := range c.links {
		errs = append(errs, l.Close())
	}
	for _, b := range c.auths {
		errs = append(errs, b.Close())
	}
	for _, n := range c.nodes {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}

// LogPath is the first node's log; LogTail is the end of every node's.
func (c *NATSCluster) LogPath() string { return c.nodes[0].LogPath() }

// LogTail returns the last lines of each node's log, and of each broker-auth process's.
func (c *NATSCluster) LogTail() string {
	var b strings.Builder
	for i, n := range c.nodes {
		fmt.Fprintf(&b, "--- node %d (%s)\n%s\n", i+1, n.LogPath(), n.LogTail())
	}
	for i, a := range c.auths {
		fmt.Fprintf(&b, "--- broker-auth beside node %d (%s)\n%s\n", i+1, a.LogPath(), a.LogTail())
	}
	return b.String()
}

// Name is the node's server name, nats-1 … nats-N.
func (n *NATSNode) Name() string { return "nats-" + strconv.Itoa(n.index+1) }

// MQTTAddr is host:port of the node's MQTT listener.
func (n *NATSNode) MQTTAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.mqtt)) }

// URL is the node's MQTT URL for paho: tcp://… or, under TLS, ssl://….
func (n *NATSNode) URL() string {
	if n.cluster.opts.TLS != nil {
		return "ssl://" + n.MQTTAddr()
	}
	return "tcp://" + n.MQTTAddr()
}

// MonitorURL is the node's HTTP monitoring endpoint (/varz, /connz, /jsz, /healthz).
func (n *NATSNode) MonitorURL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.monitorPort))
}

// ProfileURL is the node's pprof endpoint (/debug/pprof/…), or "" without the cluster's
// Profile option.
func (n *NATSNode) ProfileURL() string {
	if n.profPort == 0 {
		return ""
	}
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.profPort))
}

// Freeze stops the node with SIGSTOP: its sockets stay open but nothing answers, to its
// peers and its clients alike — a node cut off from the network. Thaw resumes it.
func (n *NATSNode) Freeze() error { return n.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen node (SIGCONT).
func (n *NATSNode) Thaw() error { return n.signal(syscall.SIGCONT) }

func (n *NATSNode) signal(sig syscall.Signal) error {
	pid := n.PID()
	if pid == 0 {
		return fmt.Errorf("localstack: %s is not running", n.Name())
	}
	return syscall.Kill(pid, sig)
}

func (n *NATSNode) launchLocked(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx, n.cluster.opts.StartTimeout)
	defer cancel()
	// A port FreePort gave can be taken before the node binds it (an outgoing connection's
	// ephemeral port, seen in CI: nats-3 "bind: address already in use" on every retry).
	// At the first start nobody has been given the node's client, MQTT, monitor or profile
	// port yet, so a retry picks them anew; the route port stays (its peers' configurations
	// name it), and so does every port at a restart.
	var repick func() error
	if !n.started {
		repick = func() error {
			for _, p := range []*int{&n.client, &n.mqtt, &n.monitorPort} {
				var err error
				if *p, err = FreePort(); err != nil {
					return err
				}
			}
			if n.profPort != 0 {
				var err error
				if n.profPort, err = FreePort(); err != nil {
					return err
				}
			}
			return nil
		}
	}
	defer func() { n.started = true }()
	return n.startRetrying(ctx, repick, func(ctx context.Context) error {
		conf := filepath.Join(n.dir, "nats.conf")
		if err := os.WriteFile(conf, []byte(n.config()), 0o600); err != nil {
			return fmt.Errorf("localstack: write nats config: %w", err)
		}
		if err := n.proc.start(n.path, "-c", conf); err != nil {
			return err
		}
		return n.proc.waitReady(ctx, n.answers)
	})
}

// answers checks that JetStream is healthy on the node and that an MQTT client gets
// CONNACK 0 (which needs the account's MQTT streams, so a quorum).
func (n *NATSNode) answers(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.MonitorURL()+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz: %s", resp.Status)
	}
	return n.mqttProbe(ctx)
}

func (n *NATSNode) mqttProbe(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", n.MQTTAddr())
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	user, password := "", ""
	if t := n.cluster.opts.TLS; t != nil {
		cert, err := tls.LoadX509KeyPair(t.ProbeCert, t.ProbeKey)
		if err != nil {
			return fmt.Errorf("probe certificate: %w", err)
		}
		tc := tls.Client(conn, &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}) //nolint:gosec // a readiness probe on loopback
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	} else if len(n.cluster.opts.Users) > 0 || n.cluster.opts.Callout != nil {
		user, password = probeUser, n.cluster.probePassword
	}
	rc, err := mqttConnect(conn, probeUser+"-"+n.Name(), user, password)
	if err != nil {
		return err
	}
	if rc != 0 {
		return fmt.Errorf("CONNACK return code %d", rc)
	}
	return nil
}

// mqttConnect sends an MQTT 3.1.1 CONNECT (clean session) and returns the CONNACK's return
// code, then DISCONNECT.
func mqttConnect(c net.Conn, clientID, user, password string) (byte, error) {
	flags := byte(0x02)
	payload := mqttString(clientID)
	if user != "" {
		flags |= 0x80 | 0x40
		payload = append(append(payload, mqttString(user)...), mqttString(password)...)
	}
	variable := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 10}, payload...)
	if len(variable) > 127 {
		return 0, errors.New("localstack: probe CONNECT too long")
	}
	packet := append([]byte{0x10, byte(len(variable))}, variable...)
	if _, err := c.Write(packet); err != nil {
		return 0, fmt.Errorf("send CONNECT: %w", err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		return 0, fmt.Errorf("read CONNACK: %w", err)
	}
	if ack[0] != 0x20 || ack[1] != 2 {
		return 0, fmt.Errorf("not a CONNACK: % x", ack)
	}
	_, _ = c.Write([]byte{0xE0, 0})
	return ack[3], nil
}

func mqttString(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

func (n *NATSNode) config() string {
	o := n.cluster.opts
	if o.Config != nil {
		nc := NATSNodeConfig{Name: n.Name(), Dir: n.dir, Client: n.client, Route: n.route, MQTT: n.mqtt, Monitor: n.monitorPort}
		for _, p := range n.cluster.nodes {
			if p != n {
				nc.Routes = append(nc.Routes, p.route)
			}
		}
		return o.Config(nc)
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# written by vagt test/localstack")
	line("server_name: %q", n.Name())
	line("listen: \"127.0.0.1:%d\"", n.client)
	line("http: \"127.0.0.1:%d\"", n.monitorPort)
	if n.profPort != 0 {
		line("prof_port: %d", n.profPort)
	}
	// Every QoS 1 subscription of every MQTT session is a consumer of the one stream
	// $MQTT_msgs, and NATS 2.15 caps a stream at 1,000 consumers by default: without
	// lifting it a cluster serves ~500 gateways' lanes (deploy/nats/nats.conf, docs/scaling.md).
	line("jetstream { store_dir: %q, max_memory_store: 256MB, max_file_store: 4GB, limits { default_max_consumers: -1 } }", filepath.Join(n.dir, "js"))
	line("cluster {")
	line("  name: vagt")
	line("  listen: \"127.0.0.1:%d\"", n.route)
	var routes []string
	for _, p := range n.cluster.nodes {
		if p != n {
			routes = append(routes, fmt.Sprintf("%q", "nats-route://"+n.routeTo(p)))
		}
	}
	line("  routes: [%s]", strings.Join(routes, ", "))
	if n.cluster.links != nil {
		// Peers learn each other's route address from gossip and may dial it directly,
		// around the proxies; an address nobody listens on keeps every route on them.
		line("  advertise: \"127.0.0.1:1\"")
	}
	line("}")
	line("mqtt {")
	line("  listen: \"127.0.0.1:%d\"", n.mqtt)
	line("  stream_replicas: %d", min(3, len(n.cluster.nodes)))
	line("  ack_wait: %q", o.AckWait.String())
	line("  max_ack_pending: %d", o.MaxAckPending)
	if t := o.TLS; t != nil {
		line("  tls { cert_file: %q, key_file: %q, ca_file: %q, verify_and_map: true, timeout: 5 }", t.CertFile, t.KeyFile, t.CAFile)
	}
	if o.MQTT != "" {
		line("  %s", o.MQTT)
	}
	line("}")
	users := o.Users
	switch {
	case o.Callout != nil:
		b.WriteString(n.calloutConfig())
		users = nil
	case o.TLS != nil:
		users = append(append([]NATSUser(nil), users...), NATSUser{Name: "CN=" + probeUser, Publish: []string{}, Subscribe: []string{}})
	case len(users) > 0:
		users = append(append([]NATSUser(nil), users...), NATSUser{Name: probeUser, Password: n.cluster.probePassword, Publish: []string{}, Subscribe: []string{}})
	}
	if len(users) > 0 {
		line("authorization {")
		line("  users: [")
		for _, u := range users {
			b.WriteString("    " + NATSUserConfig(u, o.TLS == nil) + "\n")
		}
		line("  ]")
		line("}")
	}
	if o.Extra != "" {
		line("%s", o.Extra)
	}
	return b.String()
}

// hasMQTTClient asks the node's monitoring endpoint whether clientID is connected to it.
func (n *NATSNode) hasMQTTClient(clientID string) bool {
	resp, err := http.Get(n.MonitorURL() + "/connz?mqtt_client=" + url.QueryEscape(clientID))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var connz struct {
		NumConnections int `json:"num_connections"`
	}
	return json.NewDecoder(resp.Body).Decode(&connz) == nil && connz.NumConnections > 0
}

// Connections is the number of client connections the node holds now (its /varz).
func (n *NATSNode) Connections() (int, error) {
	resp, err := http.Get(n.MonitorURL() + "/varz")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var varz struct {
		Connections int `json:"connections"`
	}
	err = json.NewDecoder(resp.Body).Decode(&varz)
	return varz.Connections, err
}
