package localstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nkeys"
)

// NATSBrokerAuth runs the auth callout as production does (deploy/nats/README.md): one
// `vagt broker-auth` process beside each node, logged in on that node's loopback NATS
// listener only. StartNATSCluster makes the issuer key and the service's password, writes
// the seed into each process's directory, and starts the processes once the nodes answer.
// The nodes send their requests to the queue group of all the processes over the routes,
// so a node whose own process is dead is answered by its peers'.
type NATSBrokerAuth struct {
	Binary string   // the vagt binary
	Args   []string // more flags (--passwd, --registered, --log-level)
}

// brokerAuthUser is the service's login on the nodes, as deploy/nats/nats.conf.
const brokerAuthUser = "vagt-broker-auth"

// BrokerAuth is one `vagt broker-auth` process, beside node Node(); it has the lifecycle
// of every localstack service (Kill, Start, Stop, PID, LogTail). It does not die with its
// node: NATSNode.Kill is the nats-server process only (a crash of it; the service
// reconnects when the node is back), and a test that means the machine's death kills both.
type BrokerAuth struct {
	*service
	node     *NATSNode
	opts     NATSBrokerAuth
	seedFile string
	launched time.Time
}

// Node is the node the process logs in on.
func (b *BrokerAuth) Node() *NATSNode { return b.node }

// BrokerAuths are the cluster's broker-auth processes, one per node in node order; nil
// unless NATSClusterOptions.BrokerAuth was set.
func (c *NATSCluster) BrokerAuths() []*BrokerAuth { return c.auths }

// BrokerAuth is the broker-auth process beside node i (0-based).
func (c *NATSCluster) BrokerAuth(i int) *BrokerAuth { return c.auths[i] }

// prepareBrokerAuth makes the issuer and the service's login and puts them into the
// options' Callout, so the nodes' configuration trusts them.
func (c *NATSCluster) prepareBrokerAuth() (seed []byte, err error) {
	issuer, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	pub, err := issuer.PublicKey()
	if err != nil {
		return nil, err
	}
	if seed, err = issuer.Seed(); err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	c.opts.Callout = &NATSCallout{Issuer: pub, User: brokerAuthUser, Password: hex.EncodeToString(secret)}
	return seed, nil
}

// startBrokerAuths starts one process per node and waits until each has subscribed on
// its node.
func (c *NATSCluster) startBrokerAuths(ctx context.Context, seed []byte) error {
	for _, n := range c.nodes {
		svc, err := newService(serviceConfig{
			name: "broker-auth-" + strconv.Itoa(n.index+1), baseDir: c.opts.BaseDir, stopSignal: syscall.SIGTERM,
			stopTimeout: c.opts.StopTimeout, logger: c.opts.Logger,
		})
		if err != nil {
			return err
		}
		b := &BrokerAuth{service: svc, node: n, opts: *c.opts.BrokerAuth, seedFile: filepath.Join(svc.dir, "broker-auth.nk")}
		c.auths = append(c.auths, b)
		if err := os.WriteFile(b.seedFile, append(slices.Clone(seed), '\n'), 0o600); err != nil {
			return fmt.Errorf("localstack: write the issuer seed: %w", err)
		}
		b.proc.env = append(os.Environ(), "VAGT_PASSWORD="+c.opts.Callout.Password)
		b.launch = b.launchLocked
	}
	var errs []error
	for _, b := range c.auths {
		errs = append(errs, b.Start(ctx))
	}
	return errors.Join(errs...)
}

func (b *BrokerAuth) launchLocked(ctx context.Context) error {
	ctx, cancel := withStartTimeout(ctx, b.node.cluster.opts.StartTimeout)
	defer cancel()
	args := append([]string{"broker-auth", "--nats", b.node.ClientURL(), "--user", brokerAuthUser,
		"--issuer-seed", b.seedFile}, b.opts.Args...)
	// The node notes a connection's start to the second or finer; a little slack for the
	// clock's granularity, none for a predecessor killed before this start.
	b.launched = time.Now().Add(-10 * time.Millisecond)
	if err := b.proc.start(b.opts.Binary, args...); err != nil {
		return err
	}
	return b.proc.waitReady(ctx, b.subscribed)
}

// subscribed asks the node whether this run of the process (a connection of the service's
// user that started after the launch) holds the subscription to the callout's requests.
func (b *BrokerAuth) subscribed(ctx context.Context) error {
	q := url.Values{"auth": {"1"}, "subs": {"1"}, "user": {brokerAuthUser}, "state": {"open"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.node.MonitorURL()+"/connz?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var connz struct {
		Connections []struct {
			Start time.Time `json:"start"`
			Subs  []string  `json:"subscriptions_list"`
		} `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&connz); err != nil {
		return err
	}
	for _, c := range connz.Connections {
		if !c.Start.Before(b.launched) && slices.Contains(c.Subs, "$SYS.REQ.USER.AUTH") {
			return nil
		}
	}
	return fmt.Errorf("broker-auth has not subscribed on %s yet", b.node.Name())
}
