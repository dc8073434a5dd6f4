package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/vagt-dk/vagt/brokerauth"
	"github.com/vagt-dk/vagt/test/localstack"
)

// authCluster is a NATS cluster whose clients are authorized as in production: by vagt's
// auth callout service (package brokerauth), one per node, run in this process.
type authCluster struct {
	*localstack.NATSCluster
	stopAuth func() error
	timing   *calloutTiming // nil without the callout
}

func startAuthCluster(ctx context.Context, opts localstack.NATSClusterOptions) (*authCluster, error) {
	issuer, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	pub, err := issuer.PublicKey()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	opts.Callout = &localstack.NATSCallout{Issuer: pub, User: "vagt-broker-auth", Password: hex.EncodeToString(secret)}
	c, err := localstack.StartNATSCluster(ctx, opts)
	if err != nil {
		return nil, err
	}
	a, err := brokerauth.NewAuthorizer(brokerauth.Options{Issuer: issuer})
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	t := &calloutTiming{}
	stop, err := t.serveEach(c.ClientURLs(), opts.Callout.User, opts.Callout.Password, a)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return &authCluster{NATSCluster: c, stopAuth: stop, timing: t}, nil
}

// Close stops the nodes, then the services (which wait for their nodes meanwhile).
func (c *authCluster) Close() error {
	err := c.NATSCluster.Close()
	return errors.Join(err, c.stopAuth())
}

// calloutTiming serves the callout as brokerauth.ServeEach does (one service per node, on
// its own node, in the queue group) and notes how long each answer took to compute and how
// many requests wait in the services' queues: whether the callout paces a storm.
type calloutTiming struct {
	mu      sync.Mutex
	service []time.Duration // since the last take
	subs    []*nats.Subscription
}

func (t *calloutTiming) serveEach(urls []string, user, password string, a *brokerauth.Authorizer) (func() error, error) {
	var conns []*nats.Conn
	stop := func() error {
		for _, nc := range conns {
			nc.Close()
		}
		return nil
	}
	for _, u := range urls {
		nc, err := brokerauth.Connect(brokerauth.Login{URLs: []string{u}, User: user, Password: password})
		if err != nil {
			return nil, errors.Join(err, stop())
		}
		conns = append(conns, nc)
		sub, err := nc.QueueSubscribe(brokerauth.RequestSubject, brokerauth.QueueGroup, func(m *nats.Msg) {
			start := time.Now()
			resp, err := a.Respond(m.Data)
			d := time.Since(start)
			t.mu.Lock()
			t.service = append(t.service, d)
			t.mu.Unlock()
			if err == nil {
				_ = m.Respond(resp)
			}
		})
		if err == nil {
			err = nc.Flush()
		}
		if err != nil {
			return nil, errors.Join(err, stop())
		}
		t.subs = append(t.subs, sub)
	}
	return stop, nil
}

// take says how many requests were answered since the last take, their service time
// p50/max, and how many wait in the services' queues now.
func (t *calloutTiming) take() string {
	t.mu.Lock()
	d := t.service
	t.service = nil
	t.mu.Unlock()
	queued := 0
	for _, s := range t.subs {
		if n, _, err := s.Pending(); err == nil {
			queued += n
		}
	}
	if len(d) == 0 {
		return fmt.Sprintf("0 answered, %d queued", queued)
	}
	slices.Sort(d)
	return fmt.Sprintf("%d answered (service p50 %v max %v), %d queued", len(d), d[len(d)/2].Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond), queued)
}
