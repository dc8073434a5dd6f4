package uplink

import (
	"bufio"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"
)

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

// TestResumeIsNoAcknowledgement: a publish in flight when the connection drops is resent by
// paho on reconnect, and paho completes the old publish's token then — before any PUBACK.
// The spool must keep the alarm until a PUBACK came: with the broker's PUBACKs dropped, the
// uplink gives up after its publish timeout and sends it again, and it is deleted only once
// a PUBACK gets through. (Before the fix the resume deleted it from the spool: a kill -9
// before the PUBACK of the resent copy lost the alarm.)
func TestResumeIsNoAcknowledgement(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	proxy := newPubackDropper(t, broker.Addr())
	col := collect(t, broker.URL(), "platform-resume", vagt.Topic(gw, vagt.LaneAlarm))
	q := newSpool(t)
	u, _ := start(t, Options{Broker: proxy.url(), KeepAlive: 10 * time.Minute, PublishTimeout: 2 * time.Second}, q)
	waitFor(t, "connected", u.Connected)

	proxy.drop.Store(true)
	fill(t, q, 0, 1)
	col.wait(t, "the alarm on the broker", func(m []mqtt.Message) bool { return len(m) >= 1 })
	proxy.cut() // paho reconnects and resends the alarm it holds
	col.wait(t, "paho's resend", func(m []mqtt.Message) bool { return len(m) >= 2 })
	// The spool's own resend after the publish timeout: it still holds the alarm.
	col.wait(t, "the spool's resend", func(m []mqtt.Message) bool { return len(m) >= 3 })
	if n := q.Stats().Alarms; n != 1 {
		t.Fatalf("the spool holds %d alarms while no PUBACK reached the gateway, want 1", n)
	}
	proxy.drop.Store(false)
	waitFor(t, "the alarm acknowledged", func() bool { return q.Stats().Alarms == 0 })
	if u.Sent() != 1 {
		t.Fatalf("sent %d, want 1", u.Sent())
	}
}
