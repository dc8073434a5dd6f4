package chain

import (
	"errors"
	"io"
	"net"
	"sync"
)

// UplinkCut is a TCP relay between one gateway and the broker that a suite can cut: the
// open connections are closed and new ones refused (accepted and closed at once) until
// Restore, as a dead 4G link looks to the gateway.
type UplinkCut struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewUplinkCut relays connections from a loopback port to target (host:port).
func NewUplinkCut(target string) (*UplinkCut, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &UplinkCut{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// URL is the broker URL the gateway is given.
func (p *UplinkCut) URL() string { return "tcp://" + p.ln.Addr().String() }

func (p *UplinkCut) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.relay(c) })
	}
}

func (p *UplinkCut) relay(c net.Conn) {
	defer p.forget(c)
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(up) {
		c.Close()
		return
	}
	defer p.forget(up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

func (p *UplinkCut) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *UplinkCut) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// Cut closes every relayed connection and refuses new ones.
func (p *UplinkCut) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (p *UplinkCut) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Close cuts the relay for good and waits for its goroutines.
func (p *UplinkCut) Close() error {
	p.Cut()
	err := p.ln.Close()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
