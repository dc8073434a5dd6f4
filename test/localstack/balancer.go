package localstack

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Balancer is a TCP (layer 4) load balancer on loopback, what production puts in front of
// a broker cluster: it hands each new connection to the next backend in turn that accepts
// a TCP connection, and passes the bytes through untouched (TLS included, so the nodes see
// the client certificates). When either side closes, it closes the other, so a client of a
// killed node sees its connection drop and reconnects through the balancer to another.
type Balancer struct {
	ln       net.Listener
	backends []string
	next     atomic.Uint64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	cut      atomic.Bool // Cut: no connection through (nats_partition.go)
}

// StartBalancer listens on a free loopback port in front of backends (host:port).
func StartBalancer(backends []string) (*Balancer, error) {
	if len(backends) == 0 {
		return nil, errors.New("localstack: a balancer needs backends")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("localstack: balancer: %w", err)
	}
	b := &Balancer{ln: ln, backends: backends, conns: map[net.Conn]struct{}{}}
	b.wg.Go(b.accept)
	return b, nil
}

// Addr is the balancer's host:port.
func (b *Balancer) Addr() string { return b.ln.Addr().String() }

// Close stops accepting and cuts every connection.
func (b *Balancer) Close() error {
	err := b.ln.Close()
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return err
}

func (b *Balancer) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.cut.Load() {
		c.Close()
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *Balancer) untrack(c net.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	c.Close()
}

func (b *Balancer) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Go(func() { b.serve(c) })
	}
}

// serve dials the backends from the next one in turn until one answers; a client finds
// none only when every node is down, and then its connection is closed at once.
func (b *Balancer) serve(c net.Conn) {
	if !b.track(c) {
		return
	}
	defer b.untrack(c)
	start := b.next.Add(1)
	b.mu.Lock()
	backends := slices.Clone(b.backends) // a partitionable cluster aims its links after they listen
	b.mu.Unlock()
	var up net.Conn
	for i := range uint64(len(backends)) {
		addr := backends[(start+i)%uint64(len(backends))]
		var err error
		if up, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
	}
	if up == nil || !b.track(up) {
		return
	}
	defer b.untrack(up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done // one side ended: the deferred untracks close both, which ends the other copy
}
