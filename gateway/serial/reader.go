package serial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	bugserial "go.bug.st/serial"
)

// ErrNoPort: the port is not open now (unplugged); the unit repeats what was not acked.
var ErrNoPort = errors.New("serial: port not open")

// Options configure a Reader.
type Options struct {
	Path        string        // e.g. /dev/ttyUSB0, or a symlink to a pty in tests
	Baud        int           // default 9600
	ReadTimeout time.Duration // a read returns (0, nil) after this; default 500ms
	MaxBackoff  time.Duration // between attempts to reopen; default 5s
	Logger      *slog.Logger
}

// Reader reads frames from a serial port and survives the port going away.
type Reader struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	port    bugserial.Port
	scan    *Scanner
	reopens uint64
	dups    uint64
	acks    uint64
	acked   map[ackKey]time.Time // alarm frames acked lately: a repeat is not a new alarm
	started map[string]time.Time // per unit, the latest its present run can have begun (heartbeat)
}

// ackKey is what a repeat has in common with the frame acked: the unit, the seq and the
// alarm itself. The same seq with another alarm (a unit that restarted its counter) is a
// new alarm, never a repeat (promise 2: different content is not a redelivery).
type ackKey struct {
	unit   string
	seq    uint16
	device string
	alarm  vagt.AlarmType
}

// dedupWindow is how long an acked alarm frame's seq is remembered. A unit repeats an
// unacked alarm every few seconds; 16-bit seqs take far longer than this to wrap.
const dedupWindow = 10 * time.Minute

// NewReader returns a Reader; Run opens the port.
func NewReader(opts Options) *Reader {
	if opts.Baud <= 0 {
		opts.Baud = 9600
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reader{opts: opts, log: opts.Logger.With("port", opts.Path), scan: NewScanner(), acked: map[ackKey]time.Time{},
		started: map[string]time.Time{}}
}

// Stats returns the line's counters.
func (r *Reader) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.scan.Stats()
	st.Reopens, st.Duplicates, st.Acks = r.reopens, r.dups, r.acks
	return st
}

// Run reads until ctx is done, calling handle (on Run's goroutine) for every good frame
// that is not the repeat of an acked alarm. It opens the port, and reopens it with
// backoff whenever it fails or disappears. It returns nil when ctx is done.
func (r *Reader) Run(ctx context.Context, handle func(Frame)) error {
	backoff, down := 200*time.Millisecond, false
	for ctx.Err() == nil {
		port, err := bugserial.Open(r.opts.Path, &bugserial.Mode{BaudRate: r.opts.Baud, DataBits: 8, Parity: bugserial.NoParity, StopBits: bugserial.OneStopBit})
		if err == nil {
			if err = port.SetReadTimeout(r.opts.ReadTimeout); err != nil {
				port.Close()
			}
		}
		if err != nil {
			if !down { // once per outage, not once per attempt
				r.log.Warn("serial port unavailable; retrying", "err", err)
				down = true
			}
			if !sleep(ctx, backoff) {
				break
			}
			backoff = min(backoff*2, r.opts.MaxBackoff)
			continue
		}
		backoff, down = 200*time.Millisecond, false
		r.mu.Lock()
		r.port = port
		r.reopens++
		r.mu.Unlock()
		r.log.Info("serial port open")
		err = r.read(ctx, port, handle)
		r.mu.Lock()
		r.port = nil
		r.mu.Unlock()
		port.Close()
		if ctx.Err() == nil {
			r.log.Warn("serial port lost; reopening", "err", err)
		}
	}
	return nil
}

func (r *Reader) read(ctx context.Context, port bugserial.Port, handle func(Frame)) error {
	buf := make([]byte, 256)
	burst := 0 // bad frames since the last good one: logged once per burst
	var frames []Frame
	onFrame := func(f Frame) {
		if burst > 0 {
			r.log.Info("serial line clean again", "bad_frames", burst)
			burst = 0
		}
		frames = append(frames, f)
	}
	onBad := func(err error) {
		if burst == 0 {
			r.log.Warn("serial: bad input, resynchronising", "reason", Reason(err), "err", err)
		}
		burst++
	}
	for ctx.Err() == nil {
		n, err := port.Read(buf)
		if err != nil {
			return err
		}
		if n == 0 {
			continue // go.bug.st/serial's read timeout: (0, nil)
		}
		frames = frames[:0]
		r.mu.Lock()
		r.scan.Feed(buf[:n], onFrame, onBad)
		r.mu.Unlock()
		for _, f := range frames {
			if f.Type == TypeHeartbeat {
				r.heartbeat(f)
			}
			if f.Type == TypeAlarm && r.repeated(f) {
				continue
			}
			handle(f)
		}
	}
	return ctx.Err()
}

// heartbeat notes when the unit's present run began at the latest: its uptime is in whole
// seconds, so up to a second before arrival minus uptime. A unit that restarted begins its
// frame counter again; what was acked before it began is not what it repeats now.
func (r *Reader) heartbeat(f Frame) {
	began := time.Now().Add(-time.Duration(f.Uptime)*time.Second - time.Second)
	r.mu.Lock()
	if len(r.started) > 256 {
		clear(r.started) // bounded; a unit's next heartbeat sets it again
	}
	r.started[f.Unit] = began
	r.mu.Unlock()
}

// repeated reports (and re-acks) an alarm frame that was acked before in the unit's present
// run: the unit did not hear our ack and sent it again. The same frame acked before the unit
// (re)started is a new press under a counter that began again.
func (r *Reader) repeated(f Frame) bool {
	r.mu.Lock()
	at, ok := r.acked[ackKey{f.Unit, f.Seq, f.Device, f.Alarm}]
	ok = ok && time.Since(at) < dedupWindow
	if began, known := r.started[f.Unit]; ok && known && at.Before(began) {
		ok = false
	}
	if ok {
		r.dups++
	}
	r.mu.Unlock()
	if ok {
		_ = r.Ack(f)
	}
	return ok
}

// Ack tells the unit that its alarm frame is safe in the spool, so it stops repeating it.
// The caller acks only a frame whose alarm is committed (gateway/process.go).
func (r *Reader) Ack(f Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.acked[ackKey{f.Unit, f.Seq, f.Device, f.Alarm}] = now
	if len(r.acked) > 256 {
		for k, at := range r.acked {
			if now.Sub(at) > dedupWindow {
				delete(r.acked, k)
			}
		}
	}
	if r.port == nil {
		return ErrNoPort
	}
	if _, err := r.port.Write(AckFrame(f.Unit, f.Seq)); err != nil {
		return fmt.Errorf("serial: write ack: %w", err)
	}
	r.acks++
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
