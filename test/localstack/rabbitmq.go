package localstack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rabbitBin is where Debian's rabbitmq-server package puts the upstream scripts; its
// /usr/sbin/rabbitmq-server switches to the system user and reads /etc/rabbitmq, which a
// cluster of test nodes must not.
const rabbitBin = "/usr/lib/rabbitmq/bin"

// RabbitClusterOptions configure a cluster of RabbitMQ 3.10 nodes (Debian 12's package)
// speaking MQTT 3.1.1 through the rabbitmq_mqtt plugin — measured against NATS for
// issue 20 (docs/scaling.md, "RabbitMQ 3.10 (Debian), tried"); not a broker vagt ships.
type RabbitClusterOptions struct {
	// Nodes in the cluster; default 3. The MQTT plugin tracks client ids in a Raft
	// cluster and refuses new connections without a majority.
	Nodes int
	// Users and their MQTT topic permissions (internal backend, amq.topic). There is
	// always a user "vagt-localstack-probe" for the readiness check.
	Users []RabbitUser
	// TLS adds an MQTT TLS listener on every node that requires a client certificate and
	// takes its common name as the user (mqtt.ssl_cert_login).
	TLS *RabbitTLS
	// DurableQueueType of the queues behind persistent (clean=false) QoS 1 subscriptions:
	// "quorum" (default: replicated on every node by Raft) or "classic" (on one node).
	DurableQueueType string
	// Extra lines are added to every node's rabbitmq.conf.
	Extra string

	BaseDir      string        // parent of the cluster's temporary directory; default os.TempDir()
	StartTimeout time.Duration // per node; default 3m (a node takes 10–30 s here)
	StopTimeout  time.Duration // SIGTERM to SIGKILL; default 30s
	Logger       *slog.Logger
}

// RabbitUser is one internal user. Write and Read are regular expressions over AMQP
// routing keys — an MQTT topic with "/" turned into "." — that RabbitMQ expands with
// {username} and {client_id}; empty means "^$" (nothing). Password "" makes a user that
// only a client certificate can log in as.
type RabbitUser struct {
	Name, Password string
	Write, Read    string
}

// RabbitTLS is the MQTT TLS listener's files (PEM paths).
type RabbitTLS struct{ CertFile, KeyFile, CAFile string }

// RabbitCluster is a running (or partly stopped) cluster and the epmd its nodes register
// with (its own, on a free port, so that killing a node never takes the name service of
// the others with it).
type RabbitCluster struct {
	opts          RabbitClusterOptions
	dir, home     string // the cluster's directory; HOME with the shared Erlang cookie
	epmd          *service
	epmdPort      int
	nodes         []*RabbitNode
	probePassword string
}

// RabbitNode is one node: the lifecycle of every localstack service (Stop, Kill, Start,
// PID, LogTail) and its own listeners.
type RabbitNode struct {
	*service
	cluster                   *RabbitCluster
	name                      string // Erlang node name, vagt-r1-<rand>@localhost
	amqp, dist, mqtt, mqttTLS int
	started                   bool // once: a restart keeps its ports
}

const rabbitProbeUser = "vagt-localstack-probe"

// StartRabbitCluster starts node 1, then the others, joins them to node 1
// (rabbitmqctl join_cluster), adds the users, and returns when every node serves MQTT.
func StartRabbitCluster(ctx context.Context, opts RabbitClusterOptions) (*RabbitCluster, error) {
	server := filepath.Join(rabbitBin, "rabbitmq-server")
	if _, err := os.Stat(server); err != nil {
		return nil, &MissingBinaryError{Name: "rabbitmq-server", Looked: []string{rabbitBin},
			Hint: "apt-get install --no-install-recommends rabbitmq-server"}
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.DurableQueueType == "" {
		opts.DurableQueueType = "quorum"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 30 * time.Second
	}
	dir, err := os.MkdirTemp(opts.BaseDir, "vagt-rabbitmq-")
	if err != nil {
		return nil, err
	}
	c := &RabbitCluster{opts: opts, dir: dir, home: filepath.Join(dir, "home")}
	tag, cookie := randomHex(3), randomHex(16)
	c.probePassword = randomHex(16)
	if err := os.MkdirAll(c.home, 0o755); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	if err := os.WriteFile(filepath.Join(c.home, ".erlang.cookie"), []byte(cookie), 0o400); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	if err := c.startEpmd(ctx); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	for i := range opts.Nodes {
		svc, err := newService(serviceConfig{name: "rabbitmq-" + strconv.Itoa(i+1), baseDir: dir,
			stopSignal: syscall.SIGTERM, stopTimeout: opts.StopTimeout, logger: opts.Logger})
		if err != nil {
			return nil, errors.Join(err, c.Close())
		}
		n := &RabbitNode{service: svc, cluster: c, name: fmt.Sprintf("vagt-r%d-%s@localhost", i+1, tag)}
		if err := n.pickPorts(); err != nil {
			return nil, errors.Join(err, c.Close())
		}
		n.launch = n.launchLocked
		c.nodes = append(c.nodes, n)
	}
	// Node 1 first, alone: it creates the cluster's database and the MQTT plugin's
	// client-id Raft cluster, which the others join.
	if err := c.nodes[0].Start(ctx); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	errs := make(chan error, len(c.nodes))
	for _, n := range c.nodes[1:] {
		go func() { errs <- n.Start(ctx) }()
	}
	for range c.nodes[1:] {
		if err := <-errs; err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	for _, n := range c.nodes[1:] {
		for _, args := range [][]string{{"stop_app"}, {"join_cluster", c.nodes[0].name}, {"start_app"}} {
			if _, err := n.Ctl(ctx, args...); err != nil {
				return nil, errors.Join(err, c.Close())
			}
		}
	}
	if err := c.importUsers(ctx); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	for _, n := range c.nodes {
		if err := n.waitMQTT(ctx); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	return c, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = io.ReadFull(rand.Reader, b)
	return hex.EncodeToString(b)
}

// startEpmd runs epmd in the foreground as a service of its own.
func (c *RabbitCluster) startEpmd(ctx context.Context) error {
	path, err := exec.LookPath("epmd")
	if err != nil {
		return &MissingBinaryError{Name: "epmd", Looked: []string{"$PATH"}, Hint: "apt-get install erlang-base"}
	}
	if c.epmdPort, err = FreePort(); err != nil {
		return err
	}
	if c.epmd, err = newService(serviceConfig{name: "epmd", baseDir: c.dir, stopSignal: syscall.SIGTERM,
		logger: c.opts.Logger}); err != nil {
		return err
	}
	c.epmd.launch = func(ctx context.Context) error {
		if err := c.epmd.proc.start(path, "-port", strconv.Itoa(c.epmdPort)); err != nil {
			return err
		}
		ctx, cancel := withStartTimeout(ctx, 10*time.Second)
		defer cancel()
		return c.epmd.proc.waitReady(ctx, func(ctx context.Context) error { return dialPort(ctx, c.epmdPort) })
	}
	return c.epmd.Start(ctx)
}

func dialPort(ctx context.Context, port int) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err == nil {
		conn.Close()
	}
	return err
}

// env is what the scripts and the Erlang VM of this node (and the CLI against it) read.
func (n *RabbitNode) env() []string {
	d := n.Dir()
	return append(os.Environ(),
		"HOME="+n.cluster.home,
		"ERL_EPMD_PORT="+strconv.Itoa(n.cluster.epmdPort),
		"RABBITMQ_NODENAME="+n.name,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(n.amqp),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(n.dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(d, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(d, "log"),
		"RABBITMQ_LOGS=-",
		"RABBITMQ_CONFIG_FILE="+filepath.Join(d, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(d, "advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(d, "enabled_plugins"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(d, "rabbitmq-env.conf"),
		"RABBITMQ_PID_FILE="+filepath.Join(d, "pid"),
		"RABBITMQ_PLUGINS_EXPAND_DIR="+filepath.Join(d, "plugins-expand"),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		// The script then execs the Erlang VM instead of waiting for it as a child: the
		// node's PID is the VM's, SIGTERM reaches it (it stops cleanly on it), and the
		// parent-death signal kills it with us rather than leaving it behind.
		"RUNNING_UNDER_SYSTEMD=true",
	)
}

func (n *RabbitNode) config() string {
	o := n.cluster.opts
	var b strings.Builder
	fmt.Fprintf(&b, "listeners.tcp.default = 127.0.0.1:%d\n", n.amqp)
	fmt.Fprintf(&b, "mqtt.listeners.tcp.default = 127.0.0.1:%d\n", n.mqtt)
	b.WriteString("mqtt.allow_anonymous = false\nloopback_users = none\n")
	fmt.Fprintf(&b, "mqtt.durable_queue_type = %s\n", o.DurableQueueType)
	// The retained messages on disk, so a node's restart keeps its (node-local) copies.
	b.WriteString("mqtt.retained_message_store = rabbit_mqtt_retained_msg_store_dets\n")
	if t := o.TLS; t != nil {
		fmt.Fprintf(&b, "mqtt.listeners.ssl.default = 127.0.0.1:%d\n", n.mqttTLS)
		fmt.Fprintf(&b, "ssl_options.cacertfile = %s\nssl_options.certfile = %s\nssl_options.keyfile = %s\n",
			t.CAFile, t.CertFile, t.KeyFile)
		b.WriteString("ssl_options.verify = verify_peer\nssl_options.fail_if_no_peer_cert = true\n")
		b.WriteString("mqtt.ssl_cert_login = true\nssl_cert_login_from = common_name\n")
	}
	b.WriteString(o.Extra + "\n")
	return b.String()
}

// launchLocked writes the node's files, starts it and waits for "Server startup
// complete" in this run's log. Called with the service's mutex held.
func (n *RabbitNode) launchLocked(ctx context.Context) error {
	d := n.Dir()
	files := map[string]string{
		"rabbitmq.conf":     n.config(),
		"advanced.config":   "[].\n",
		"enabled_plugins":   "[rabbitmq_mqtt].\n",
		"rabbitmq-env.conf": "",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	n.proc.env = n.env()
	ctx, cancel := withStartTimeout(ctx, n.cluster.opts.StartTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		if err := n.proc.start(filepath.Join(rabbitBin, "rabbitmq-server")); err != nil {
			return err
		}
		err := n.proc.waitReady(ctx, func(context.Context) error {
			if !n.proc.logMentions("server startup complete") {
				return errors.New("starting")
			}
			return nil
		})
		// A port picked by FreePort may be taken (by an outgoing connection's ephemeral
		// port, say) before the node binds it: the first start picks new ones; a restart
		// must keep its ports and only waits.
		if err == nil || attempt == startAttempts || !n.proc.logMentions("eaddrinuse") {
			return err
		}
		if killErr := n.proc.kill(); killErr != nil {
			return errors.Join(err, killErr)
		}
		if !n.started {
			if err := n.pickPorts(); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(d, "rabbitmq.conf"), []byte(n.config()), 0o644); err != nil {
				return err
			}
			n.proc.env = n.env()
		} else {
			time.Sleep(time.Second)
		}
	}
}

func (n *RabbitNode) pickPorts() error {
	for _, p := range []*int{&n.amqp, &n.dist, &n.mqtt, &n.mqttTLS} {
		var err error
		if *p, err = FreePort(); err != nil {
			return err
		}
	}
	return nil
}

// waitMQTT waits until the node answers the probe user's MQTT CONNECT.
func (n *RabbitNode) waitMQTT(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx, n.cluster.opts.StartTimeout)
	defer cancel()
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc.waitReady(ctx, func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(n.mqtt))
		if err != nil {
			return err
		}
		defer conn.Close()
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		rc, err := mqttConnect(conn, "probe-"+randomHex(4), rabbitProbeUser, n.cluster.probePassword)
		if err == nil && rc != 0 {
			err = fmt.Errorf("CONNACK return code %d", rc)
		}
		return err
	})
}

// Ctl runs rabbitmqctl against the node and returns its output.
func (n *RabbitNode) Ctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(rabbitBin, "rabbitmqctl"), append([]string{"-n", n.name}, args...)...)
	cmd.Env = n.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("localstack: rabbitmqctl %s on %s: %w: %s", strings.Join(args, " "), n.name, err, out)
	}
	return string(out), nil
}

// importUsers loads the users and their permissions as definitions, in one CLI call
// (one add_user per user costs a second of CPU each).
func (c *RabbitCluster) importUsers(ctx context.Context) error {
	users := append([]RabbitUser{{Name: rabbitProbeUser, Password: c.probePassword}}, c.opts.Users...)
	type user struct {
		Name      string `json:"name"`
		Hash      string `json:"password_hash"`
		Algorithm string `json:"hashing_algorithm"`
		Tags      string `json:"tags"`
	}
	type perm struct {
		User      string `json:"user"`
		VHost     string `json:"vhost"`
		Configure string `json:"configure"`
		Write     string `json:"write"`
		Read      string `json:"read"`
	}
	type topicPerm struct {
		User     string `json:"user"`
		VHost    string `json:"vhost"`
		Exchange string `json:"exchange"`
		Write    string `json:"write"`
		Read     string `json:"read"`
	}
	var defs struct {
		Users  []user      `json:"users"`
		Perms  []perm      `json:"permissions"`
		Topics []topicPerm `json:"topic_permissions"`
	}
	orNothing := func(s string) string {
		if s == "" {
			return "^$"
		}
		return s
	}
	for _, u := range users {
		defs.Users = append(defs.Users, user{u.Name, rabbitPasswordHash(u.Password), "rabbit_password_hashing_sha256", ""})
		// The MQTT plugin declares each client's queues (mqtt-subscription-<id>qos<n>)
		// and binds them to amq.topic as the user: the topic permissions below decide.
		defs.Perms = append(defs.Perms, perm{u.Name, "/", "^mqtt-subscription-.*", ".*", ".*"})
		if u.Name != rabbitProbeUser {
			defs.Topics = append(defs.Topics, topicPerm{u.Name, "/", "amq.topic", orNothing(u.Write), orNothing(u.Read)})
		}
	}
	b, err := json.Marshal(defs)
	if err != nil {
		return err
	}
	path := filepath.Join(c.dir, "definitions.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	_, err = c.nodes[0].Ctl(ctx, "import_definitions", path)
	return err
}

// rabbitPasswordHash is RabbitMQ's rabbit_password_hashing_sha256: base64 of a 4-byte salt
// followed by SHA-256(salt ‖ password); "" for no password (certificate-only users).
func rabbitPasswordHash(password string) string {
	if password == "" {
		return ""
	}
	salt := make([]byte, 4)
	_, _ = io.ReadFull(rand.Reader, salt)
	h := sha256.Sum256(append(append([]byte{}, salt...), password...))
	return base64.StdEncoding.EncodeToString(append(salt, h[:]...))
}

// URLs are the nodes' plain MQTT URLs, node 1 first.
func (c *RabbitCluster) URLs() []string {
	var u []string
	for _, n := range c.nodes {
		u = append(u, n.URL())
	}
	return u
}

// Node returns node i (from 0).
func (c *RabbitCluster) Node(i int) *RabbitNode { return c.nodes[i] }

// Nodes returns every node.
func (c *RabbitCluster) Nodes() []*RabbitNode { return c.nodes }

// Close stops every node and epmd and removes the cluster's directory.
func (c *RabbitCluster) Close() error {
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, n.Close())
	}
	if c.epmd != nil {
		errs = append(errs, c.epmd.Close())
	}
	errs = append(errs, os.RemoveAll(c.dir))
	return errors.Join(errs...)
}

// Name is the node's Erlang node name.
func (n *RabbitNode) Name() string { return n.name }

// URL is the node's plain MQTT listener.
func (n *RabbitNode) URL() string { return "tcp://127.0.0.1:" + strconv.Itoa(n.mqtt) }

// TLSURL is the node's MQTT TLS listener (only with RabbitClusterOptions.TLS).
func (n *RabbitNode) TLSURL() string { return "ssl://127.0.0.1:" + strconv.Itoa(n.mqttTLS) }

// TLSAddr is the TLS listener's host:port.
func (n *RabbitNode) TLSAddr() string { return "127.0.0.1:" + strconv.Itoa(n.mqttTLS) }

// Start starts the node again after Stop or Kill (it rejoins the cluster from its
// database) and waits until it serves MQTT.
func (n *RabbitNode) Start(ctx context.Context) error {
	if err := n.service.Start(ctx); err != nil {
		return err
	}
	n.mu.Lock()
	n.started = true
	n.mu.Unlock()
	if _, err := os.Stat(filepath.Join(n.cluster.dir, "definitions.json")); err != nil {
		return nil // the cluster's first start, before the probe user exists
	}
	return n.waitMQTT(ctx)
}
