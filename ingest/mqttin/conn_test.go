package mqttin

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpPair is a real loopback TCP connection: the client end and the accepted server end.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestBatchedConnKeepsOrder: every byte written arrives, in the order written, also what
// was still pending at Close; the peer then sees the end of the stream.
func TestBatchedConnKeepsOrder(t *testing.T) {
	client, server := tcpPair(t)
	b := newBatchedConn(client)
	var want bytes.Buffer
	got := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(server)
		got <- all
	}()
	for i := range 20000 {
		p := []byte{0x40, 0x02, byte(i >> 8), byte(i)} // a PUBACK
		if i%1000 == 999 {
			p = bytes.Repeat([]byte{byte(i)}, 70000) // now and then a large publish
		}
		want.Write(p)
		if n, err := b.Write(p); n != len(p) || err != nil {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if all := <-got; !bytes.Equal(all, want.Bytes()) {
		t.Fatalf("peer got %d bytes, want %d in order", len(all), want.Len())
	}
	if _, err := b.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v, want net.ErrClosed", err)
	}
}

// countingConn counts Write calls and holds the first until release is closed.
type countingConn struct {
	net.Conn
	mu      sync.Mutex
	writes  int
	started chan struct{}
	release chan struct{}
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	first := c.writes == 1
	c.mu.Unlock()
	if first {
		close(c.started)
		<-c.release
	}
	return c.Conn.Write(p)
}

// TestBatchedConnCoalesces: acknowledgements written while a write is under way leave
// together in the next one, not one call each.
func TestBatchedConnCoalesces(t *testing.T) {
	client, server := tcpPair(t)
	cc := &countingConn{Conn: client, started: make(chan struct{}), release: make(chan struct{})}
	b := newBatchedConn(cc)
	got := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(server)
		got <- all
	}()
	var want []byte
	write := func(i int) {
		p := []byte{0x40, 0x02, 0, byte(i)}
		want = append(want, p...)
		if _, err := b.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	<-cc.started // the sender is inside the first write
	for i := 1; i <= 100; i++ {
		write(i)
	}
	close(cc.release)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if all := <-got; !bytes.Equal(all, want) {
		t.Fatalf("peer got % x, want % x", all, want)
	}
	if cc.writes != 2 {
		t.Errorf("%d write calls for 101 acknowledgements, want 2 (the first, then the 100 that waited)", cc.writes)
	}
}

// TestBatchedConnFailedWrite: once a write fails the connection is closed (paho's reader
// fails, and paho reconnects) and every later Write reports the failure.
func TestBatchedConnFailedWrite(t *testing.T) {
	client, server := tcpPair(t)
	b := newBatchedConn(client)
	server.Close()
	var err error
	for range 10000 { // the peer's reset reaches us after a write or two
		if _, err = b.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Error("read after a failed write succeeded")
	}
	_ = b.Close()
}

// TestBatchedConnBrokerNotReading: with a peer that reads nothing, Write waits once the
// pending bytes reach their bound (instead of growing without one), and Close still
// returns, failing that Write.
func TestBatchedConnBrokerNotReading(t *testing.T) {
	client, _ := tcpPair(t)
	b := newBatchedConn(client)
	blocked := make(chan error)
	go func() {
		p := make([]byte, 64<<10)
		for {
			if _, err := b.Write(p); err != nil {
				blocked <- err
				return
			}
		}
	}()
	// The socket buffers and then maxPending fill; the writer waits for room.
	for {
		b.mu.Lock()
		full := len(b.pending) >= maxPending
		b.mu.Unlock()
		if full {
			break
		}
		select {
		case err := <-blocked:
			t.Fatalf("write failed before the bound: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	b.mu.Lock()
	if n := len(b.pending); n > maxPending+64<<10 {
		t.Errorf("%d bytes pending, bound %d", n, maxPending)
	}
	b.mu.Unlock()
	_ = b.Close() // after closeFlushTimeout: nothing can leave
	if err := <-blocked; err == nil {
		t.Error("the waiting write succeeded after Close")
	}
}
