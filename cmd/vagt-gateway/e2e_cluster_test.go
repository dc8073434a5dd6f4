package main

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/brokerauth"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestEndToEndOnCluster is TestEndToEnd's chain on the clustered broker (issue 20): the
// real gateway binary with an emulated base unit, the platform a 3-node NATS cluster
// behind a TCP balancer, every client authorized by vagt broker-auth. kill -9 of the node that holds the gateway, of the node that
// holds the platform's persistent session, and a stop of the whole cluster: every reading
// and alarm arrives, no reading in two batches, no redelivery with different bytes.
func TestEndToEndOnCluster(t *testing.T) {
	dir := t.TempDir()
	bin := buildGateway(t, dir)
	local := stacktest.Mosquitto(t)
	// Every client authorized as in production, by vagt broker-auth: the gateway logs in with
	// its id and password (from the environment, as its docs prefer; the broker side reads the
	// Mosquitto password file the registry writes), the platform's consumer as ops_monitor
	// under one of its own client ids.
	passwd := filepath.Join(dir, "passwd")
	var lines string
	for _, user := range []string{string(e2eGateway), "ops_monitor"} {
		h, err := localstack.HashMosquittoPassword(user + "-pw")
		if err != nil {
			t.Fatal(err)
		}
		lines += user + ":" + h + "\n"
	}
	if err := os.WriteFile(passwd, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	pf, err := brokerauth.OpenPasswordFile(passwd)
	if err != nil {
		t.Fatal(err)
	}
	cluster := stacktest.NATSClusterWithAuth(t, localstack.NATSClusterOptions{}, brokerauth.Options{Passwords: pf})
	const platformID = "ops-monitor-e2e"
	platform := newPlatformClient(t, cluster.URL(), platformID, "ops_monitor", "ops_monitor-pw")
	t.Setenv("VAGT_UPLINK_PASSWORD", string(e2eGateway)+"-pw")
	home := startE2EHome(t, bin, dir, local.URL(), cluster.URL())
	unit, gw := home.unit, home.gw
	eventually(t, "the gateway's retained online status", func() bool {
		st := platform.decode(t).statuses
		return len(st) > 0 && st[len(st)-1].Online
	})

	var want []string
	n := 0
	send := func(count int) {
		t.Helper()
		for range count {
			n++
			v := float64(n) / 100
			if err := unit.Reading("temp-1", "temperature", 20+v); err != nil {
				t.Fatal(err)
			}
			want = append(want, key(serialTemp, vagt.KindTemperature, 20+v))
		}
	}
	panics := 0
	panicPress := func(btn string) {
		t.Helper()
		seq, err := unit.Alarm(btn, "panic")
		if err != nil {
			t.Fatal(err)
		}
		panics++
		eventually(t, "the gateway's ack of the panic frame", func() bool { return unit.Acked(seq) })
	}
	allArrived := func() bool {
		s := platform.decode(t)
		for _, k := range want {
			if len(s.readings[k]) == 0 {
				return false
			}
		}
		return len(s.alarmsOf(vagt.AlarmPanic)) == panics
	}
	killHolder := func(clientID string) *localstack.NATSNode {
		t.Helper()
		var node *localstack.NATSNode
		eventually(t, "the node that holds "+clientID, func() bool { node = cluster.NodeOf(clientID); return node != nil })
		if err := node.Kill(); err != nil {
			t.Fatal(err)
		}
		return node
	}

	// 1. Normal operation.
	send(5)
	panicPress("btn-1")
	eventually(t, "phase 1 readings and the panic", allArrived)

	// 2. kill -9 of the gateway's node, with readings and a panic while it is down.
	node := killHolder(string(e2eGateway))
	send(5)
	panicPress("btn-2")
	eventually(t, "phase 2: everything, the gateway on another node", allArrived)
	if err := node.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	// 3. kill -9 of the node that holds the platform's persistent session.
	node = killHolder(platformID)
	send(5)
	panicPress("btn-3")
	eventually(t, "phase 3: everything, the platform's session resumed on another node", allArrived)
	if err := node.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	// 4. The whole cluster stops; the spool holds what comes meanwhile; it comes back.
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the gateway to see the outage", func() bool { s, ok := gw.snapshot(); return ok && !s.UplinkUp })
	send(5)
	panicPress("btn-4")
	if err := cluster.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "phase 4: everything after the whole cluster's restart", allArrived)

	s := platform.decode(t)
	if len(s.dupDiff) > 0 {
		t.Errorf("redelivered with different bytes: %v", s.dupDiff)
	}
	for _, k := range want {
		if seqs := s.readings[k]; len(seqs) != 1 {
			t.Errorf("reading %s arrived in batches %v: a duplicate that is not a redelivery", k, seqs)
		}
	}
	if err := gw.signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("gateway exit: %v", err)
	}
	t.Logf("%d batches, %d alarm events, %d statuses", len(s.batches), len(s.alarms), len(s.statuses))
}
