package chaos

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/test/internal/chain"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// brokerKind is the platform's broker for a run: "mosquitto" (the default, one machine) or,
// with VAGT_CHAOS_BROKER=nats (`make test-chaos-cluster`), the 3-node NATS cluster of
// docs/scaling.md's stage 3 as production runs it: TLS with a client certificate per
// gateway and service, every client authorized by a `vagt broker-auth` process beside each
// node (the auth callout), its clients behind the cluster's balancer.
var brokerKind = cmp.Or(os.Getenv("VAGT_CHAOS_BROKER"), "mosquitto")

// chaosBroker is the broker as the suite uses and faults it.
type chaosBroker interface {
	URL() string
	PID() int
	// login is what a client of the platform presents as user cn (a gateway id, svc_api,
	// svc_ingest); nil: nothing (Mosquitto's plain listener here).
	login(t *testing.T, cn string) *login
	// faults are the broker's entries of the fault table, in order.
	faults(ctx context.Context, t *testing.T, rep *report) []brokerFault
}

// login is a client certificate of the broker's CA, as files (for the processes) and as
// a TLS configuration (for the load generator).
type login struct {
	caFile, certFile, keyFile string
	tls                       *tls.Config
}

type brokerFault struct {
	name            string
	inject, recover func() error
}

func startBroker(t *testing.T, bins chain.Binaries, autosave string) chaosBroker {
	t.Helper()
	switch brokerKind {
	case "mosquitto":
		return mosquittoBroker{stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true, Extra: autosave})}
	case "nats":
		pki := stacktest.NewPKI(t, "vagt chaos CA")
		server, probe := pki.Issue("127.0.0.1"), pki.Issue("vagt-localstack-probe")
		c := stacktest.NATSCluster(t, localstack.NATSClusterOptions{Partitionable: true,
			TLS: &localstack.NATSTLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: pki.CAFile,
				ProbeCert: probe.CertFile, ProbeKey: probe.KeyFile},
			BrokerAuth: &localstack.NATSBrokerAuth{Binary: bins.Vagt, Args: []string{"--log-level", "warn"}}})
		t.Cleanup(func() {
			if t.Failed() {
				for _, b := range c.BrokerAuths() {
					t.Logf("%s:\n%s", b.LogPath(), b.LogTail())
				}
			}
		})
		return natsBroker{NATSCluster: c, pki: pki}
	}
	t.Fatalf("VAGT_CHAOS_BROKER %q: want mosquitto or nats", brokerKind)
	return nil
}

type mosquittoBroker struct{ *localstack.Mosquitto }

func (b mosquittoBroker) login(*testing.T, string) *login { return nil }

func (b mosquittoBroker) faults(ctx context.Context, _ *testing.T, _ *report) []brokerFault {
	return []brokerFault{{"kill -9 mosquitto", b.Kill, func() error { return b.Start(ctx) }}}
}

type natsBroker struct {
	*localstack.NATSCluster
	pki *stacktest.PKI
}

func (b natsBroker) PID() int { return b.Node(0).PID() }

func (b natsBroker) login(t *testing.T, cn string) *login {
	t.Helper()
	c := b.pki.Issue(cn)
	return &login{caFile: b.pki.CAFile, certFile: c.CertFile, keyFile: c.KeyFile, tls: b.pki.ClientTLS(&c)}
}

// On the cluster, with the auth callout in every fault's path:
//   - kill -9 of the machine that holds ingest's session: its node and the broker-auth
//     beside it (production co-locates them, so a machine's death takes both; a crash of
//     nats-server alone leaves its broker-auth reconnecting). Its clients reconnect to the
//     survivors and must be authorized there. Both are started again, the node first.
//   - kill -9 of the broker-auth beside the api's node, the node left running: that node's
//     new clients are answered by its peers' broker-auth over the routes (one queue group).
//     Fresh gateway connections are made through that node during the fault and must get in.
//   - a partition of the node that holds the api's session: cut from its peers, its clients
//     still connected to it, then healed.
func (b natsBroker) faults(ctx context.Context, t *testing.T, rep *report) []brokerFault {
	var killed, cut *localstack.NATSNode
	var deaf *localstack.BrokerAuth
	nodeOf := func(id string) *localstack.NATSNode {
		if n := b.NodeOf(id); n != nil {
			return n
		}
		return b.Node(0)
	}
	authOf := func(n *localstack.NATSNode) *localstack.BrokerAuth {
		for _, a := range b.BrokerAuths() {
			if a.Node() == n {
				return a
			}
		}
		t.Fatalf("no broker-auth beside %s", n.Name())
		return nil
	}
	var (
		probes chan struct{}
		probed chan []time.Duration
	)
	return []brokerFault{
		{"kill -9 nats node + its broker-auth (ingest's)", func() error {
			killed = nodeOf(ingestClientID)
			t.Logf("kill -9 %s and the broker-auth beside it", killed.Name())
			return errors.Join(killed.Kill(), authOf(killed).Kill())
		}, func() error {
			if err := killed.Start(ctx); err != nil {
				return err
			}
			return authOf(killed).Start(ctx)
		}},
		{"kill -9 broker-auth (the api's node)", func() error {
			n := nodeOf(apiClientID)
			deaf = authOf(n)
			t.Logf("kill -9 the broker-auth beside %s; new clients there are answered by its peers'", n.Name())
			if err := deaf.Kill(); err != nil {
				return err
			}
			probes = make(chan struct{})
			probed = make(chan []time.Duration, 1)
			l := b.login(t, "gw-chaos-probe")
			go func() { probed <- probeConnects(t, n, "gw-chaos-probe", l, probes) }()
			return nil
		}, func() error {
			close(probes)
			took := <-probed
			rep.notes = append(rep.notes, fmt.Sprintf("kill -9 broker-auth beside %s: %d fresh gateway connections through that node while it was dead, "+
				"each authorized by a peer's broker-auth (CONNECT to CONNACK: %s)", deaf.Node().Name(), len(took), durations(took)))
			return deaf.Start(ctx)
		}},
		{"partition nats node (the api's)", func() error {
			cut = nodeOf(apiClientID)
			conns, _ := cut.Connections()
			t.Logf("partition %s from its peers (%d client connections)", cut.Name(), conns)
			return cut.Partition()
		}, func() error {
			if r, err := cut.Routes(); err != nil || r != 0 {
				return fmt.Errorf("%s had %d routes during its partition (%v)", cut.Name(), r, err)
			}
			return cut.Heal()
		}},
	}
}

// probeConnects connects gateway id to node n, once a second until stop, and returns how
// long each CONNECT took to be accepted; a refusal fails the test.
func probeConnects(t *testing.T, n *localstack.NATSNode, id string, l *login, stop <-chan struct{}) []time.Duration {
	var took []time.Duration
	for {
		cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(n.URL()).SetClientID(id).SetCleanSession(true).
			SetAutoReconnect(false).SetConnectTimeout(20 * time.Second).SetTLSConfig(l.tls))
		start := time.Now()
		tok := cl.Connect()
		switch {
		case !tok.WaitTimeout(30 * time.Second):
			t.Errorf("a gateway connecting to %s while its broker-auth was dead: no answer", n.Name())
		case tok.Error() != nil:
			t.Errorf("a gateway connecting to %s while its broker-auth was dead: %v", n.Name(), tok.Error())
		default:
			took = append(took, time.Since(start))
			cl.Disconnect(0)
		}
		select {
		case <-stop:
			return took
		case <-time.After(time.Second):
		}
	}
}

// durations is "n, min–median–max" of ds.
func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%s–%s–%s (min–median–max)", ms(s[0]), ms(s[len(s)/2]), ms(s[len(s)-1]))
}
