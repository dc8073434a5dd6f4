package mqttin

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// paho reads and writes the broker connection unbuffered: each incoming packet costs
// about four read calls (its first byte and its length one byte at a time, then the rest)
// and each PUBACK one write call of four bytes. Under load (make bench-ingest: 6,000
// messages of 500 readings) those calls were a fifth of ingest's CPU. batchedConn reads
// through a buffer and lets writes that arrive while one is under way leave together in
// the next call — the acknowledgements of one written batch are sent back to back.

// openBatched opens the broker connection as paho would for tcp:// and the TLS schemes,
// wrapped in a batchedConn.
func openBatched(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	d := o.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: 30 * time.Second}
	}
	var (
		c   net.Conn
		err error
	)
	switch uri.Scheme {
	case "tcp", "mqtt":
		c, err = d.Dial("tcp", uri.Host)
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
		c, err = tls.DialWithDialer(d, "tcp", uri.Host, o.TLSConfig)
	default:
		return nil, errors.New("mqttin: unknown protocol " + uri.Scheme)
	}
	if err != nil {
		return nil, err
	}
	return newBatchedConn(c), nil
}

// batchable reports whether openBatched can open broker: the schemes paho dials directly,
// and no ALL_PROXY (through which paho dials, and openBatched does not).
func batchable(broker string) bool {
	u, err := url.Parse(broker)
	if err != nil || os.Getenv("ALL_PROXY") != "" || os.Getenv("all_proxy") != "" {
		return false
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
		return true
	}
	return false
}

// closeFlushTimeout bounds how long Close waits for what was written to leave.
const closeFlushTimeout = 2 * time.Second

// maxPending bounds the bytes handed over and not yet sent: past it Write waits, as a
// write to a socket whose buffer is full would (a broker that stops reading).
const maxPending = 1 << 20

// batchedConn is a net.Conn whose reads are buffered and whose writes are handed to one
// sending goroutine: Write copies the bytes and returns; the sender writes everything
// handed over since its last call in one call, in order. A write that fails closes the
// connection (paho's reader then fails and paho reconnects) and fails every later Write.
// Close sends what is pending first (for up to closeFlushTimeout).
//
// For the guarantees nothing changes: a PUBACK is still only handed over after its
// message was written to InfluxDB, in order; Write returning has never meant the broker
// got it (it meant the kernel had it), and one lost with the connection only means the
// broker sends the message again, which writes the same points.
type batchedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	wake    *sync.Cond // the sender: there is something to send, or Close
	room    *sync.Cond // writers: the sender took what was pending, or stopped
	pending []byte
	spare   []byte
	err     error // the first write error, or net.ErrClosed after Close
	closing bool
	sent    chan struct{} // closed when the sender returned
}

func newBatchedConn(c net.Conn) *batchedConn {
	b := &batchedConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10), sent: make(chan struct{})}
	b.wake, b.room = sync.NewCond(&b.mu), sync.NewCond(&b.mu)
	go b.send()
	return b
}

func (b *batchedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *batchedConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.pending) >= maxPending && b.err == nil && !b.closing {
		b.room.Wait()
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.closing {
		return 0, net.ErrClosed
	}
	b.pending = append(b.pending, p...)
	b.wake.Signal()
	return len(p), nil
}

// send writes what Write handed over until Close, then what is left.
func (b *batchedConn) send() {
	defer close(b.sent)
	defer b.room.Broadcast() // writers waiting for room see the error or the close
	for {
		b.mu.Lock()
		for len(b.pending) == 0 && !b.closing && b.err == nil {
			b.wake.Wait()
		}
		if b.err != nil || len(b.pending) == 0 { // failed, or closing with nothing left
			b.mu.Unlock()
			return
		}
		out := b.pending
		b.pending, b.spare = b.spare[:0], nil
		b.room.Broadcast()
		b.mu.Unlock()

		_, err := b.Conn.Write(out)

		b.mu.Lock()
		b.spare = out[:0]
		if err != nil {
			b.err = err
			b.pending = nil
		}
		b.mu.Unlock()
		if err != nil {
			_ = b.Conn.Close()
			return
		}
	}
}

// Close sends what is pending, then closes the connection.
func (b *batchedConn) Close() error {
	b.mu.Lock()
	already := b.closing
	b.closing = true
	b.wake.Signal()
	b.room.Broadcast()
	b.mu.Unlock()
	if already {
		<-b.sent
		return net.ErrClosed
	}
	select {
	case <-b.sent:
	case <-time.After(closeFlushTimeout): // a broker that stopped reading
		_ = b.Conn.Close()
		<-b.sent
	}
	b.mu.Lock()
	if b.err == nil {
		b.err = net.ErrClosed
	}
	b.mu.Unlock()
	return b.Conn.Close()
}
