// Package baseunit emulates the social-alarm base unit on a serial line (docs/serial.md):
// it writes reading, alarm and heartbeat frames, repeats an alarm frame until the gateway
// acknowledges it, and can put noise and torn frames on the line. Its frame encoder is
// written from the document, independently of the gateway's parser, so each checks the
// other. Line puts the unit on a pseudo-terminal that can be unplugged and plugged back.
package baseunit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as docs/serial.md specifies.
func CRC(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		for i := 7; i >= 0; i-- {
			bit := (c>>uint(i))&1 == 1
			top := crc&0x8000 != 0
			crc <<= 1
			if top != bit {
				crc ^= 0x1021
			}
		}
	}
	return crc
}

// Encode returns a frame: $<fields joined by ','>*<CRC>\r\n.
func Encode(fields ...string) []byte {
	body := strings.Join(fields, ",")
	return fmt.Appendf(nil, "$%s*%04X\r\n", body, CRC([]byte(body)))
}

// Unit is one base unit. Its methods are safe for concurrent use.
type Unit struct {
	ID          string
	RepeatEvery time.Duration // resend an unacked alarm frame this often; default 5s

	mu      sync.Mutex
	w       io.Writer // the line, nil while unplugged
	seq     uint16
	pending map[uint16][]byte // alarm frames not acked yet
	acked   map[uint16]bool
	ackCh   chan struct{}
	sent    int
	board   board // what the gateway told besides K (help.go)
}

// New returns a unit with the id (e.g. "bu-17").
func New(id string) *Unit {
	u := &Unit{ID: id, RepeatEvery: 5 * time.Second, pending: map[uint16][]byte{}, acked: map[uint16]bool{}, ackCh: make(chan struct{}, 1)}
	u.board.init()
	return u
}

// ErrUnplugged: the unit has no line now; an alarm waits and is repeated when it has.
var ErrUnplugged = errors.New("baseunit: unplugged")

func (u *Unit) write(frame []byte) error {
	if u.w == nil {
		return ErrUnplugged
	}
	_, err := u.w.Write(frame)
	return err
}

func (u *Unit) next() string {
	u.seq++
	u.sent++
	return strconv.Itoa(int(u.seq))
}

// Reading sends an R frame: kind is a wire kind name, value in the kind's unit.
func (u *Unit) Reading(dev, kind string, value float64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.write(Encode(u.ID, u.next(), "R", dev, kind, strconv.FormatFloat(value, 'f', -1, 64)))
}

// Alarm sends an A frame (panic, fall, smoke, water_leak, tamper) and keeps it until the
// gateway acks it; Run repeats it meanwhile, and Attach sends it on a new line. It returns
// the frame's seq; the error is always nil (kept for callers that check).
func (u *Unit) Alarm(dev, alarm string) (uint16, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	seq := u.next()
	f := Encode(u.ID, seq, "A", dev, alarm)
	n, _ := strconv.Atoi(seq)
	u.pending[uint16(n)] = f
	// A line that is gone or failing loses nothing: the frame waits in pending and is
	// repeated, as a real unit does, until the gateway acks it.
	_ = u.write(f)
	return uint16(n), nil
}

// Heartbeat sends an H frame.
func (u *Unit) Heartbeat(uptime time.Duration, mains bool, battery int) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := "0"
	if mains {
		m = "1"
	}
	return u.write(Encode(u.ID, u.next(), "H", strconv.Itoa(int(uptime.Seconds())), m, strconv.Itoa(battery)))
}

// Raw puts bytes on the line as they are: noise, a torn frame.
func (u *Unit) Raw(b []byte) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.write(b)
}

// Pending returns the seqs of alarm frames not acked yet.
func (u *Unit) Pending() []uint16 {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]uint16, 0, len(u.pending))
	for s := range u.pending {
		out = append(out, s)
	}
	return out
}

// Acked reports whether the gateway acked the alarm frame with the seq.
func (u *Unit) Acked(seq uint16) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.acked[seq]
}

// AckSignal receives a token whenever an ack arrives.
func (u *Unit) AckSignal() <-chan struct{} { return u.ackCh }

// Run serves the line rw until ctx is done or the line fails: it reads the gateway's acks
// and repeats unacked alarm frames. It closes rw before it returns (that ends its reading
// goroutine, which it waits for). Call it again with the new line after a replug.
func (u *Unit) Run(ctx context.Context, rw io.ReadWriteCloser) error {
	u.Attach(rw)
	defer func() {
		u.mu.Lock()
		if u.w == rw { // not if a new line was attached meanwhile
			u.w = nil
		}
		u.mu.Unlock()
	}()
	readErr := make(chan error, 1)
	go func() { readErr <- u.readAcks(rw) }()
	tick := time.NewTicker(u.RepeatEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			rw.Close()
			<-readErr
			return nil
		case err := <-readErr:
			rw.Close()
			return err
		case <-tick.C:
			u.mu.Lock()
			for _, f := range u.pending {
				_ = u.write(f)
			}
			u.mu.Unlock()
		}
	}
}

// Attach connects the unit to a line (Run does it too; call it first when frames must
// not find the unit unplugged in the meantime). Alarms that waited are sent at once.
func (u *Unit) Attach(w io.Writer) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.w == w {
		return
	}
	u.w = w
	for _, f := range u.pending {
		_, _ = w.Write(f)
	}
}

// readAcks parses K frames from the gateway, and the S and L frames that help.go keeps.
func (u *Unit) readAcks(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		i := strings.LastIndexByte(line, '$')
		if i < 0 {
			continue
		}
		line = line[i:]
		body, crc, ok := strings.Cut(line[1:], "*")
		want, err := strconv.ParseUint(crc, 16, 16)
		if !ok || err != nil || CRC([]byte(body)) != uint16(want) {
			continue
		}
		f := strings.Split(body, ",")
		if len(f) == 0 || f[0] != u.ID || u.board.take(f) {
			continue
		}
		if len(f) != 3 || f[2] != "K" {
			continue
		}
		seq, err := strconv.ParseUint(f[1], 10, 16)
		if err != nil {
			continue
		}
		u.mu.Lock()
		delete(u.pending, uint16(seq))
		u.acked[uint16(seq)] = true
		u.mu.Unlock()
		select {
		case u.ackCh <- struct{}{}:
		default:
		}
	}
}
