package uplink

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// TCP proxies between the uplink and a real broker, for the link failures a broker
// process cannot show: a link that goes silent, PUBACKs that never arrive.

// blackhole is a TCP proxy that can stop carrying bytes while keeping the connections
// open: a mobile link that died silently, which the client sees only by its keep-alive.
type blackhole struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	hole   bool
	conns  []net.Conn
}

func newBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			b.mu.Lock()
			b.conns = append(b.conns, c, up)
			b.mu.Unlock()
			go b.pipe(c, up)
			go b.pipe(up, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); b.cut() })
	return b
}

func (b *blackhole) url() string { return "tcp://" + b.ln.Addr().String() }

func (b *blackhole) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		b.mu.Lock()
		hole := b.hole
		b.mu.Unlock()
		if n > 0 && !hole {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				src.Close()
			}
			dst.Close()
			return
		}
	}
}

func (b *blackhole) swallow() { b.mu.Lock(); b.hole = true; b.mu.Unlock() }

// heal closes what was swallowed (the client reconnects) and carries bytes again.
func (b *blackhole) heal() {
	b.mu.Lock()
	b.hole = false
	b.mu.Unlock()
	b.cut()
}

func (b *blackhole) cut() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.Close()
	}
	b.conns = nil
}

// pubackDropper is a TCP proxy to a broker that can drop the broker's PUBACKs (and only
// those), so that a publish reaches the platform but the gateway never hears so.
type pubackDropper struct {
	ln    net.Listener
	drop  atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func newPubackDropper(t *testing.T, target string) *pubackDropper {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pubackDropper{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close(); c.Close() }()
			go func() { p.fromBroker(up, c); up.Close(); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *pubackDropper) url() string { return "tcp://" + p.ln.Addr().String() }

// fromBroker copies MQTT packets from the broker, leaving out PUBACKs while drop is set.
func (p *pubackDropper) fromBroker(src, dst net.Conn) {
	r := bufio.NewReader(src)
	for {
		first, err := r.ReadByte()
		if err != nil {
			return
		}
		pkt := []byte{first}
		n, mult := 0, 1
		for {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			pkt = append(pkt, b)
			n += int(b&0x7f) * mult
			mult *= 128
			if b&0x80 == 0 {
				break
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if first>>4 == 4 && p.drop.Load() { // PUBACK
			continue
		}
		if _, err := dst.Write(append(pkt, body...)); err != nil {
			return
		}
	}
}

func (p *pubackDropper) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
