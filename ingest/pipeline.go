package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/internal/inorder"
)

// Message is one unit of intake: an MQTT message (Topic set) or an HTTP body (Gateway and
// Lane set by the authenticated request).
type Message struct {
	Topic   string
	Gateway vagt.GatewayID
	Lane    vagt.Lane
	Payload []byte
	// Done is called exactly once, in the order messages were submitted, after every point
	// the message carries was written (err nil) or after it was rejected (err names why).
	// It is not called for a message still unwritten at shutdown: it stays unacknowledged.
	Done func(err error)
	// reserved is what the HTTP handler took of the byte budget before it read the body
	// (reserve); TrySubmit settles it against the payload.
	reserved int64
}

// PointWriter writes a block of line protocol (precision ms) and returns only when InfluxDB
// accepted it or failed. An error whose chain has a Permanent() bool method that reports
// true is not retried (the points are refused, e.g. a 400); every other error is.
type PointWriter interface {
	WritePoints(ctx context.Context, lines []byte) error
}

// ErrStopped is returned by Submit after the pipeline began to shut down.
var ErrStopped = errors.New("ingest: pipeline stopped")

// ErrQueueFull is returned by TrySubmit when the intake queue is full: InfluxDB is slow or
// down, and the pipeline applies backpressure.
var ErrQueueFull = errors.New("ingest: queue full")

// DeadLetter receives a copy of each rejected message, when configured.
type DeadLetter func(m *Message, err error)

// Pipeline decodes messages, batches their points across messages, writes the batches with
// a few concurrent writers, and calls each message's Done strictly in submission order once
// its batch and every earlier batch were written. Everything it holds is bounded: the queue
// (QueueSize messages), one batch being filled, and one batch per writer plus one waiting.
type Pipeline struct {
	cfg     PipelineConfig
	w       PointWriter
	m       *Metrics
	logger  *slog.Logger
	rejects *rejectLog
	dead    DeadLetter

	in       chan Message
	batches  chan *batch
	free     chan *batch
	stopped  atomic.Bool
	finished chan struct{}
	seq      *inorder.Sequencer[*batch] // acknowledges batches in id order (arrival order)
	budget   *byteBudget
	dec      decoder // the filler's alone
}

// PipelineConfig sizes the pipeline; see Config for what each means.
type PipelineConfig struct {
	QueueSize    int
	MaxBytes     int64 // payload bytes taken in and not yet acknowledged; 0: no bound
	BatchPoints  int
	Linger       time.Duration
	Writers      int
	DrainTimeout time.Duration
	RetryMin     time.Duration
	RetryMax     time.Duration
	Now          func() time.Time // for rate-limited logging; default time.Now
	Logger       *slog.Logger     // nil discards
}

// NewPipeline returns a pipeline writing to w. Run runs it.
func NewPipeline(cfg PipelineConfig, w PointWriter, m *Metrics, dead DeadLetter) *Pipeline {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Writers < 1 {
		cfg.Writers = 1
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 100 * time.Millisecond
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(5*time.Second, cfg.RetryMin)
	}
	p := &Pipeline{
		cfg: cfg, w: w, m: m, logger: logger, dead: dead,
		rejects:  newRejectLog(logger, cfg.Now, time.Minute),
		in:       make(chan Message, cfg.QueueSize),
		batches:  make(chan *batch, 1),
		free:     make(chan *batch, cfg.Writers+2),
		finished: make(chan struct{}),
		budget:   newByteBudget(cfg.MaxBytes),
	}
	p.seq = inorder.New(0, p.acknowledge)
	return p
}

// TrySubmit queues m without blocking; ErrQueueFull (ErrOverBudget among them) means
// backpressure.
func (p *Pipeline) TrySubmit(m Message) error {
	if p.stopped.Load() {
		p.release(m.reserved)
		return ErrStopped
	}
	n := int64(len(m.Payload))
	if m.reserved > 0 {
		p.release(m.reserved - n) // the body was at most what was reserved for it
	} else if ok, _ := p.budget.take(n); !ok {
		p.m.QueueFull.Inc()
		return ErrOverBudget
	} else {
		p.m.InFlightBytes.Add(float64(n))
	}
	m = p.holding(m, n)
	select {
	case p.in <- m:
		p.m.InFlight.Inc()
		return nil
	default:
		p.release(n)
		p.m.QueueFull.Inc()
		return ErrQueueFull
	}
}

// Submit queues m, waiting while the queue is full or its bytes are not free, until ctx
// ends or the pipeline stops.
func (p *Pipeline) Submit(ctx context.Context, m Message) error {
	if err := p.TrySubmit(m); !errors.Is(err, ErrQueueFull) {
		return err
	}
	n := int64(len(m.Payload))
	for {
		ok, freed := p.budget.take(n)
		if ok {
			p.m.InFlightBytes.Add(float64(n))
			break
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return fmt.Errorf("ingest: submit: %w", ctx.Err())
		case <-p.finished:
			return ErrStopped
		}
	}
	m = p.holding(m, n)
	select {
	case p.in <- m:
		p.m.InFlight.Inc()
		return nil
	case <-ctx.Done():
		p.release(n)
		return fmt.Errorf("ingest: submit: %w", ctx.Err())
	case <-p.finished:
		p.release(n)
		return ErrStopped
	}
}

// reserve takes n bytes of the budget for a body not read yet (released by TrySubmit, or
// by the caller with release when it does not submit).
func (p *Pipeline) reserve(n int64) bool {
	ok, _ := p.budget.take(n)
	if ok {
		p.m.InFlightBytes.Add(float64(n))
	}
	return ok
}

func (p *Pipeline) release(n int64) {
	if n > 0 {
		p.budget.release(n)
		p.m.InFlightBytes.Sub(float64(n))
	}
}

// holding makes m give its n bytes back when it is acknowledged.
func (p *Pipeline) holding(m Message, n int64) Message {
	done := m.Done
	m.reserved = 0
	m.Done = func(err error) {
		p.release(n)
		if done != nil {
			done(err)
		}
	}
	return m
}

// Finished is closed when Run has returned.
func (p *Pipeline) Finished() <-chan struct{} { return p.finished }

// Run runs the pipeline until ctx ends, then drains: it stops taking messages, writes what
// it holds for up to DrainTimeout, and returns. Messages not written by then are left
// without Done (unacknowledged: the broker redelivers them).
func (p *Pipeline) Run(ctx context.Context) error {
	defer close(p.finished)
	// The writers outlive ctx by DrainTimeout, counted from ctx's end (not from fill's:
	// fill may itself wait for a writer to take its last batch).
	drainCtx, cancelDrain := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelDrain()
	var timer *time.Timer
	var timerMu sync.Mutex
	stopAfter := context.AfterFunc(ctx, func() {
		timerMu.Lock()
		timer = time.AfterFunc(p.cfg.DrainTimeout, cancelDrain)
		timerMu.Unlock()
	})
	defer func() {
		stopAfter()
		timerMu.Lock()
		if timer != nil {
			timer.Stop()
		}
		timerMu.Unlock()
	}()
	var wg sync.WaitGroup
	for range p.cfg.Writers {
		wg.Go(func() { p.write(drainCtx) })
	}
	p.fill(ctx)
	// fill closed p.batches; the writers finish what is queued, or give up at the deadline.
	wg.Wait()
	return nil
}

// batch is line protocol for up to BatchPoints points and the messages it came from.
type batch struct {
	id     uint64
	lines  []byte
	points int
	dones  []func(error)
	errs   []error // per message: nil, or why it was rejected
	lanes  []vagt.Lane
}

func (p *Pipeline) newBatch(id uint64) *batch {
	select {
	case b := <-p.free:
		b.id = id
		return b
	default:
		return &batch{id: id, lines: make([]byte, 0, p.cfg.BatchPoints*120)}
	}
}

func (p *Pipeline) recycle(b *batch) {
	b.lines, b.points = b.lines[:0], 0
	clear(b.dones)
	clear(b.errs)
	b.dones, b.errs, b.lanes = b.dones[:0], b.errs[:0], b.lanes[:0]
	select {
	case p.free <- b:
	default:
	}
}

// fill takes messages from the queue into batches and hands full (or lingering) batches to
// the writers. Handing over blocks while the writers are busy: that is the backpressure.
func (p *Pipeline) fill(ctx context.Context) {
	defer close(p.batches)
	var (
		next   uint64
		cur    *batch
		linger = time.NewTimer(time.Hour)
	)
	linger.Stop()
	defer linger.Stop()
	flush := func() {
		if cur == nil {
			return
		}
		linger.Stop()
		p.batches <- cur
		cur = nil
	}
	take := func(m Message) {
		if cur == nil {
			cur = p.newBatch(next)
			next++
			linger.Reset(p.cfg.Linger)
		}
		p.add(cur, &m)
		if cur.points >= p.cfg.BatchPoints {
			flush()
		}
	}
	for {
		select {
		case m := <-p.in:
			take(m)
		case <-linger.C:
			flush()
		case <-ctx.Done():
			p.stopped.Store(true)
			for {
				select {
				case m := <-p.in:
					take(m)
					continue
				default:
				}
				break
			}
			flush()
			return
		}
	}
}

// add decodes m and appends its points to b; a rejected message adds none, and is
// acknowledged in its turn all the same.
func (p *Pipeline) add(b *batch, m *Message) {
	p.m.Bytes.Add(float64(len(m.Payload)))
	before := len(b.lines)
	lines, n, lane, gw, err := p.dec.decode(b.lines, m)
	if err != nil {
		b.lines = b.lines[:before]
		p.m.Rejected.WithLabelValues(vagt.Reason(err)).Inc()
		source := m.Topic
		if source == "" {
			source = "http"
		}
		p.rejects.log(gw, source, err)
		if p.dead != nil {
			p.dead(m, err)
		}
	} else {
		b.lines, b.points = lines, b.points+n
	}
	b.dones = append(b.dones, m.Done)
	b.errs = append(b.errs, err)
	b.lanes = append(b.lanes, lane)
}

// decoder turns messages into line protocol, reusing its decoded batch from message to
// message (no allocation per reading). One goroutine uses it at a time.
type decoder struct {
	batch vagt.WireBatch
	keys  seriesKeys
}

// decode validates m and appends its line protocol to dst; on error dst's extension is to
// be discarded by the caller, so a bad message is never written in part.
func (d *decoder) decode(dst []byte, m *Message) ([]byte, int, vagt.Lane, vagt.GatewayID, error) {
	gw, lane := m.Gateway, m.Lane
	if m.Topic != "" {
		var err error
		if gw, lane, err = vagt.ParseTopic(m.Topic); err != nil {
			return dst, 0, "unknown", "", fmt.Errorf("topic: %w", err)
		}
	}
	switch lane {
	case vagt.LaneTelemetry:
		b := &d.batch
		err := vagt.DecodeBatchWire(m.Payload, b)
		if err == nil {
			err = vagt.CheckGateway(gw, b.Gateway)
		}
		if err != nil {
			return dst, 0, lane, gw, err
		}
		return d.keys.appendBatch(dst, b), len(b.Readings), lane, gw, nil
	case vagt.LaneAlarm:
		a, err := vagt.DecodeAlarm(m.Payload)
		if err == nil {
			err = vagt.CheckGateway(gw, a.Gateway)
		}
		if err == nil && (a.Seq > math.MaxInt64 || a.Clears > math.MaxInt64) {
			err = fmt.Errorf("decode alarm: %w: seq %d does not fit InfluxDB's integer", vagt.ErrOutOfRange, a.Seq)
		}
		if err != nil {
			return dst, 0, lane, gw, err
		}
		return AppendAlarm(dst, &a), 1, lane, gw, nil
	}
	return dst, 0, lane, gw, fmt.Errorf("%w: lane %q is not ingested", vagt.ErrInvalidID, lane)
}

// write writes batches until fill closes the channel; a batch it could not write before
// ctx ended (the drain deadline) stays unacknowledged.
func (p *Pipeline) write(ctx context.Context) {
	for b := range p.batches {
		if b.points > 0 {
			if err := p.writeRetrying(ctx, b); err != nil {
				p.logger.Warn("batch left unacknowledged at shutdown", "messages", len(b.dones), "points", b.points, "err", err)
				continue
			}
		}
		p.seq.Done(b.id, b)
	}
}

// writeRetrying writes b until InfluxDB accepts it, refuses it for good, or ctx ends.
func (p *Pipeline) writeRetrying(ctx context.Context, b *batch) error {
	delay := p.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := p.w.WritePoints(ctx, b.lines)
		if err == nil {
			p.m.WriteDuration.Observe(time.Since(start).Seconds())
			p.m.Points.Add(float64(b.points))
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("write batch: %w", ctx.Err())
		}
		var perm interface{ Permanent() bool }
		if errors.As(err, &perm) && perm.Permanent() {
			// Retrying cannot help; holding on would stop all intake. The points are lost
			// and counted: InfluxDB said no to them, not to us.
			p.m.WriteErrors.WithLabelValues("permanent").Inc()
			p.logger.Error("InfluxDB refused a batch; dropping it", "points", b.points, "messages", len(b.dones), "err", err)
			for i := range b.errs {
				if b.errs[i] == nil {
					b.errs[i] = fmt.Errorf("ingest: refused by InfluxDB: %w", err)
				}
			}
			return nil
		}
		p.m.WriteErrors.WithLabelValues("transient").Inc()
		if attempt == 1 || attempt%20 == 0 {
			p.logger.Warn("write failed; retrying", "attempt", attempt, "points", b.points, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("write batch: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, p.cfg.RetryMax)
	}
}

// acknowledge calls a written batch's dones, once every earlier batch's were called (the
// sequencer sees to that): acknowledgements leave in arrival order although writers finish
// out of order.
func (p *Pipeline) acknowledge(b *batch) {
	for i, done := range b.dones {
		result := "written"
		if b.errs[i] != nil {
			result = "rejected"
		}
		p.m.Messages.WithLabelValues(string(b.lanes[i]), result).Inc()
		if done != nil {
			done(b.errs[i])
		}
	}
	p.m.Acks.Add(float64(len(b.dones)))
	p.m.InFlight.Sub(float64(len(b.dones)))
	p.recycle(b)
}
