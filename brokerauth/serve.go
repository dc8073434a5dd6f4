package brokerauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// RequestSubject is where the nodes send their authorization requests (nats-server's
// AuthCalloutSubject); QueueGroup lets one service per node share them.
const (
	RequestSubject = "$SYS.REQ.USER.AUTH"
	QueueGroup     = "vagt-broker-auth"
)

// Serve answers the cluster's authorization requests on nc until ctx ends, then drains;
// ready, if not nil, is closed once the subscription is in place.
// nc must be logged in as one of the nodes' auth_users (the callout's own user, which
// bypasses the callout). Run one per node, each on its node's loopback listener: the
// queue group spreads requests over them and a node's death leaves the others answering.
func Serve(ctx context.Context, nc *nats.Conn, a *Authorizer, ready chan<- struct{}) error {
	sub, err := nc.QueueSubscribe(RequestSubject, QueueGroup, func(m *nats.Msg) {
		resp, err := a.Respond(m.Data)
		if err != nil {
			return // unreadable: the node times the client out and refuses it
		}
		_ = m.Respond(resp) // a lost answer also ends in a refusal at the node
	})
	if err != nil {
		return fmt.Errorf("brokerauth: subscribe: %w", err)
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("brokerauth: subscribe: %w", err)
	}
	if ready != nil {
		close(ready)
	}
	<-ctx.Done()
	// Answer what has arrived; a connection that is down (its node stopped first) has
	// nothing to drain.
	if err := sub.Drain(); err != nil && nc.IsConnected() {
		return fmt.Errorf("brokerauth: drain: %w", err)
	}
	return nil
}

// Login is how a service logs in to the nodes' NATS listeners: as the callout's own
// user (one of the nodes' auth_users, which bypasses the callout).
type Login struct {
	URLs     []string // tried in turn; ServeEach logs in to each on its own
	User     string
	Password string
	Logger   *slog.Logger // nil discards
}

// Connect logs in to a node's NATS listener (the first of l.URLs that answers) as the
// callout's own user, and reconnects for ever: while no service answers, no new MQTT
// client gets in (the connected ones stay).
func Connect(l Login) (*nats.Conn, error) {
	logger := l.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	nc, err := nats.Connect(strings.Join(l.URLs, ","), nats.UserInfo(l.User, l.Password), nats.Name(QueueGroup),
		nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond), nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { logger.Warn("disconnected from the node", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { logger.Info("connected to a node again", "url", c.ConnectedUrlRedacted()) }))
	if err != nil {
		return nil, fmt.Errorf("brokerauth: connect to %s: %w", strings.Join(l.URLs, ","), err)
	}
	return nc, nil
}

// ServeEach runs one service per node URL in l, each logged in on its own node only, as
// production runs `vagt broker-auth` beside each node: a node that dies takes its service
// with it and the others keep answering. It returns once all are subscribed; stop ends
// them and returns their first error.
func ServeEach(l Login, a *Authorizer) (stop func() error, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	var conns []*nats.Conn
	done := make(chan error, len(l.URLs))
	stop = func() error {
		cancel()
		var first error
		for range conns {
			if err := <-done; err != nil && first == nil {
				first = err
			}
		}
		for _, nc := range conns {
			nc.Close()
		}
		return first
	}
	for _, u := range l.URLs {
		one := l
		one.URLs = []string{u}
		nc, err := Connect(one)
		if err != nil {
			return nil, errors.Join(err, stop())
		}
		conns = append(conns, nc)
		ready := make(chan struct{})
		go func() { done <- Serve(ctx, nc, a, ready) }()
		select {
		case <-ready:
		case err := <-done:
			done <- nil // stop waits for one result per connection
			return nil, errors.Join(err, stop())
		}
	}
	return stop, nil
}
