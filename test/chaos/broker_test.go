package chaos

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// brokerKind is the platform's broker for a run: "mosquitto" (the default, one machine) or,
// with VAGT_CHAOS_BROKER=nats (`make test-chaos-cluster`), the 3-node NATS cluster of
// docs/scaling.md's stage 3, its clients behind the cluster's balancer.
var brokerKind = cmp.Or(os.Getenv("VAGT_CHAOS_BROKER"), "mosquitto")

// chaosBroker is the broker as the suite uses and faults it.
type chaosBroker interface {
	URL() string
	PID() int
	// faults are the broker's entries of the fault table, in order.
	faults(ctx context.Context, t *testing.T) []brokerFault
}

type brokerFault struct {
	name            string
	inject, recover func() error
}

func startBroker(t *testing.T, autosave string) chaosBroker {
	t.Helper()
	switch brokerKind {
	case "mosquitto":
		return mosquittoBroker{stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true, Extra: autosave})}
	case "nats":
		return natsBroker{stacktest.NATSCluster(t, localstack.NATSClusterOptions{Partitionable: true})}
	}
	t.Fatalf("VAGT_CHAOS_BROKER %q: want mosquitto or nats", brokerKind)
	return nil
}

type mosquittoBroker struct{ *localstack.Mosquitto }

func (b mosquittoBroker) faults(ctx context.Context, _ *testing.T) []brokerFault {
	return []brokerFault{{"kill -9 mosquitto", b.Kill, func() error { return b.Start(ctx) }}}
}

type natsBroker struct{ *localstack.NATSCluster }

func (b natsBroker) PID() int { return b.Node(0).PID() }

// On the cluster: kill -9 of the node that holds ingest's session (and its start), then a
// partition of the node that holds the api's: cut from its peers, its clients still
// connected to it, then healed.
func (b natsBroker) faults(ctx context.Context, t *testing.T) []brokerFault {
	var killed, cut *localstack.NATSNode
	nodeOf := func(id string) *localstack.NATSNode {
		if n := b.NodeOf(id); n != nil {
			return n
		}
		return b.Node(0)
	}
	return []brokerFault{
		{"kill -9 nats node (ingest's)", func() error {
			killed = nodeOf("chaos-ingest")
			t.Logf("kill -9 %s", killed.Name())
			return killed.Kill()
		}, func() error { return killed.Start(ctx) }},
		{"partition nats node (the api's)", func() error {
			cut = nodeOf("chaos-api")
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
