package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/test/localstack"
)

// rabbitBroker is a 3-node RabbitMQ 3.10 cluster (Debian's package, MQTT plugin) in the
// shape vagt would need: TLS with a client certificate whose common name is the user,
// every gateway an internal user with the per-gateway topic permissions, and the
// persistent sessions' queues quorum queues (replicated on every node). Measured against
// NATS (docs/scaling.md, "RabbitMQ 3.10 (Debian), tried"); not a broker vagt ships.
type rabbitBroker struct {
	c         *localstack.RabbitCluster
	svc       *tls.Config
	restarted chan error
}

func startRabbit(ctx context.Context, p *pki, gateways int, queueType string) (broker, error) {
	cert, key, err := p.files("127.0.0.1")
	if err != nil {
		return nil, err
	}
	// ssl_cert_login needs every certificate's name to be a user: one per gateway, with
	// the same two patterns, which RabbitMQ expands with the user's name.
	users := []localstack.RabbitUser{{Name: "svc_api", Write: `^vagt\.v1\.gw\.[^.]+\.(config|downlink)$`, Read: `.*`}}
	for i := range gateways {
		users = append(users, localstack.RabbitUser{Name: string(load.GatewayID("load", i)),
			Write: `^vagt\.v1\.gw\.{username}\.(telemetry|alarm|status|ack)$`,
			Read:  `^vagt\.v1\.gw\.{username}\.(config|downlink)$`})
	}
	c, err := localstack.StartRabbitCluster(ctx, localstack.RabbitClusterOptions{
		Users: users, DurableQueueType: queueType,
		TLS: &localstack.RabbitTLS{CertFile: cert, KeyFile: key, CAFile: p.caFile},
		// Room for the fleet; the persistent sessions must outlive a long storm.
		Extra: "mqtt.tcp_listen_options.backlog = 4096\nmqtt.subscription_ttl = 86400000"})
	if err != nil {
		return nil, err
	}
	svc, err := p.issue("svc_api")
	if err != nil {
		c.Close()
		return nil, err
	}
	return &rabbitBroker{c: c, svc: p.clientTLS(svc)}, nil
}

func (b *rabbitBroker) name() string { return "rabbitmq-3" }
func (b *rabbitBroker) gatewayURLs(i int) []string {
	n := b.c.Nodes()
	out := make([]string, len(n))
	for k := range n {
		out[k] = n[(i+k)%len(n)].TLSURL()
	}
	return out
}
func (b *rabbitBroker) tlsAddr() string { return b.c.Node(0).TLSAddr() }

// The consumer starts on node 3, so the fault (node 1) does not take it along.
func (b *rabbitBroker) consumer() ([]string, *tls.Config) { return b.gatewayURLs(2), b.svc }

// pids are every process of the nodes' groups: the Erlang VM and its helpers
// (erl_child_setup, inet_gethost), which a node's PID alone would leave out.
func (b *rabbitBroker) pids() []int {
	groups := map[int]bool{}
	for _, n := range b.c.Nodes() {
		if pid := n.PID(); pid != 0 {
			groups[pid] = true
		}
	}
	var p []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid pgrp ..."
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) >= 3 {
			if g, err := strconv.Atoi(f[2]); err == nil && groups[g] {
				p = append(p, pid)
			}
		}
	}
	return p
}
func (b *rabbitBroker) close() { b.c.Close() }

// fault kills -9 node 1 (a third of the gateways prefer it) and starts it again.
func (b *rabbitBroker) fault(ctx context.Context) (string, error) {
	n := b.c.Node(0)
	if err := n.Kill(); err != nil {
		return "", err
	}
	b.restarted = make(chan error, 1)
	go func() { b.restarted <- n.Start(ctx) }()
	return fmt.Sprintf("kill -9 of %s and its start", n.Name()), nil
}

func (b *rabbitBroker) healthy(ctx context.Context) error {
	if b.restarted != nil {
		select {
		case err := <-b.restarted:
			if err != nil {
				return fmt.Errorf("the node killed by the last fault did not start again: %w", err)
			}
		case <-time.After(5 * time.Minute):
			return fmt.Errorf("the node killed by the last fault did not start within 5 min")
		case <-ctx.Done():
			return ctx.Err()
		}
		b.restarted = nil
	}
	return nil
}
