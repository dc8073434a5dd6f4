package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vagt-dk/vagt"
)

// fakeWriter is an in-process InfluxDB: it records what it accepted, and can be told to
// fail or to hold a write until released.
type fakeWriter struct {
	mu       sync.Mutex
	lines    []string
	calls    int
	fail     error                       // returned while set
	hold     func(lines []byte) chan any // a non-nil channel holds the write until closed
	attempts chan struct{}               // signalled on each call, if set
	failFor  func(lines []byte) error    // when set, a non-nil error it returns fails that write
}

func (f *fakeWriter) WritePoints(ctx context.Context, lines []byte) error {
	f.mu.Lock()
	f.calls++
	fail, hold, attempts := f.fail, f.hold, f.attempts
	if f.failFor != nil && fail == nil {
		fail = f.failFor(lines)
	}
	f.mu.Unlock()
	if attempts != nil {
		select {
		case attempts <- struct{}{}:
		default:
		}
	}
	if hold != nil {
		if ch := hold(lines); ch != nil {
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if fail != nil {
		return fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, strings.Split(strings.TrimSuffix(string(lines), "\n"), "\n")...)
	return nil
}

func (f *fakeWriter) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

func (f *fakeWriter) stored() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

type permanentErr struct{}

func (permanentErr) Error() string   { return "400 bad points" }
func (permanentErr) Permanent() bool { return true }

var at = time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)

// batchBytes is a valid batch of n temperature readings from gw, seq seq.
func batchBytes(t testing.TB, gw vagt.GatewayID, seq uint64, n int) []byte {
	t.Helper()
	b := &vagt.Batch{Gateway: gw, Seq: seq, Municipality: 766}
	for i := range n {
		b.Readings = append(b.Readings, vagt.Reading{Device: "dev-1", Kind: vagt.KindTemperature, Time: at.Add(time.Duration(int(seq)*1000+i) * time.Millisecond), Value: 20})
	}
	out, err := vagt.EncodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// harness runs a pipeline and records the order in which messages were done.
type harness struct {
	p      *Pipeline
	m      *Metrics
	cancel context.CancelFunc
	ran    chan struct{}

	mu    sync.Mutex
	order []int
	errs  map[int]error
	done  chan int
}

func newHarness(t *testing.T, cfg PipelineConfig, w PointWriter) *harness {
	t.Helper()
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 100
	}
	if cfg.BatchPoints == 0 {
		cfg.BatchPoints = 1000
	}
	if cfg.Linger == 0 {
		cfg.Linger = time.Millisecond
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = time.Minute
	}
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	h := &harness{m: NewMetrics(nil), errs: map[int]error{}, done: make(chan int, 1000), ran: make(chan struct{})}
	h.p = NewPipeline(cfg, w, h.m, nil)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.ran)
		_ = h.p.Run(ctx)
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	<-h.ran
}

func (h *harness) msg(i int, topic string, payload []byte) Message {
	return Message{Topic: topic, Payload: payload, Done: func(err error) {
		h.mu.Lock()
		h.order = append(h.order, i)
		h.errs[i] = err
		h.mu.Unlock()
		h.done <- i
	}}
}

func (h *harness) waitDone(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-h.done:
		case <-time.After(time.Minute):
			t.Fatalf("only %d messages done", len(h.order))
		}
	}
}

func (h *harness) doneOrder() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.order...)
}

// TestAcksInArrivalOrder: with one message per batch and two writers, the first batch's
// write is held until the second's finished; the second message must still be done only
// after the first.
func TestAcksInArrivalOrder(t *testing.T) {
	release := make(chan any)
	w := &fakeWriter{hold: func(lines []byte) chan any {
		if bytes.Contains(lines, []byte("gw=gw-first")) {
			return release
		}
		return nil
	}}
	h := newHarness(t, PipelineConfig{BatchPoints: 1, Writers: 2}, w)
	if err := h.p.TrySubmit(h.msg(1, vagt.Topic("gw-first", vagt.LaneTelemetry), batchBytes(t, "gw-first", 1, 1))); err != nil {
		t.Fatal(err)
	}
	if err := h.p.TrySubmit(h.msg(2, vagt.Topic("gw-second", vagt.LaneTelemetry), batchBytes(t, "gw-second", 1, 1))); err != nil {
		t.Fatal(err)
	}
	// Wait until the second batch is written, with the first still held.
	for len(w.stored()) == 0 {
		time.Sleep(time.Millisecond)
	}
	if got := w.stored(); !strings.Contains(got[0], "gw=gw-second") {
		t.Fatalf("stored %q first, want the second message's point", got)
	}
	if got := h.doneOrder(); len(got) != 0 {
		t.Fatalf("done %v while the first message was unwritten", got)
	}
	close(release)
	h.waitDone(t, 2)
	if got := h.doneOrder(); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("done in order %v, want [1 2]", got)
	}
}

// TestRejectedMessages: bad messages are done with their reason, in their turn, counted,
// and none of their points reaches the writer.
func TestRejectedMessages(t *testing.T) {
	w := &fakeWriter{}
	h := newHarness(t, PipelineConfig{}, w)
	good := batchBytes(t, "gw-good", 1, 3)
	cases := []struct {
		topic  string
		data   []byte
		reason string
	}{
		{vagt.Topic("gw-good", vagt.LaneTelemetry), good, ""},
		{vagt.Topic("gw-good", vagt.LaneTelemetry), []byte{0xff}, "malformed"},
		{vagt.Topic("gw-other", vagt.LaneTelemetry), batchBytes(t, "gw-good", 2, 3), "gateway_mismatch"},
		{vagt.Topic("gw-good", vagt.LaneTelemetry), make([]byte, vagt.MaxBatchBytes+1), "too_large"},
		{"vagt/v1/gw/+/telemetry", good, "invalid_id"},
		{vagt.Topic("gw-good", vagt.LaneStatus), good, "invalid_id"},
		{vagt.Topic("gw-good", vagt.LaneTelemetry), batchBytes(t, "gw-good", 3, 2), ""},
	}
	for i, c := range cases {
		if err := h.p.TrySubmit(h.msg(i, c.topic, c.data)); err != nil {
			t.Fatal(err)
		}
	}
	h.waitDone(t, len(cases))
	for i, c := range cases {
		if got := vagt.Reason(h.errs[i]); got != c.reason {
			t.Errorf("message %d: reason %q, want %q (%v)", i, got, c.reason, h.errs[i])
		}
	}
	if got := h.doneOrder(); fmt.Sprint(got) != "[0 1 2 3 4 5 6]" {
		t.Errorf("done in order %v", got)
	}
	if got := len(w.stored()); got != 5 {
		t.Errorf("stored %d points, want 5 (3 + 2 from the good messages):\n%s", got, strings.Join(w.stored(), "\n"))
	}
	for _, l := range w.stored() {
		if !strings.Contains(l, "gw=gw-good") {
			t.Errorf("stored a point of a rejected message: %s", l)
		}
	}
	if got := counterValue(h.m.Rejected.WithLabelValues("invalid_id")); got != 2 {
		t.Errorf("rejected invalid_id %v, want 2", got)
	}
	if got := counterValue(h.m.Acks); got != float64(len(cases)) {
		t.Errorf("acks %v, want %d", got, len(cases))
	}
}

// TestBackpressure: while InfluxDB fails, nothing is acknowledged, the queue fills and
// refuses more; when it recovers, everything taken in is written once and acknowledged in
// order.
func TestBackpressure(t *testing.T) {
	w := &fakeWriter{fail: errors.New("connection refused"), attempts: make(chan struct{}, 1)}
	h := newHarness(t, PipelineConfig{QueueSize: 5, BatchPoints: 2, Writers: 1}, w)
	accepted := 0
	for i := 0; ; i++ {
		err := h.p.TrySubmit(h.msg(i, vagt.Topic("gw-a", vagt.LaneTelemetry), batchBytes(t, "gw-a", uint64(i+1), 2)))
		if errors.Is(err, ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		accepted++
		if accepted > 100 {
			t.Fatal("the queue never filled: no backpressure")
		}
		if i == 0 {
			<-w.attempts // the first write failed: the writer is retrying
		}
	}
	// Queue (5) + the batch in the writer + one waiting + one being filled, at most.
	if accepted > 5+3 {
		t.Errorf("accepted %d messages while InfluxDB was down", accepted)
	}
	if got := h.doneOrder(); len(got) != 0 {
		t.Fatalf("acknowledged %v while InfluxDB was down", got)
	}
	w.setFail(nil)
	h.waitDone(t, accepted)
	want := make([]int, accepted)
	for i := range want {
		want[i] = i
	}
	if got := h.doneOrder(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("done in order %v, want %v", got, want)
	}
	if got := len(w.stored()); got != 2*accepted {
		t.Errorf("stored %d points, want %d", got, 2*accepted)
	}
	if counterValue(h.m.WriteErrors.WithLabelValues("transient")) == 0 {
		t.Error("no transient write error counted")
	}
}

// TestPermanentRefusal: a batch InfluxDB refuses for good is not retried forever; its
// messages are done with an error that is not a wire reason, and intake continues.
func TestPermanentRefusal(t *testing.T) {
	w := &fakeWriter{fail: permanentErr{}}
	h := newHarness(t, PipelineConfig{BatchPoints: 1}, w)
	if err := h.p.TrySubmit(h.msg(0, vagt.Topic("gw-a", vagt.LaneTelemetry), batchBytes(t, "gw-a", 1, 1))); err != nil {
		t.Fatal(err)
	}
	h.waitDone(t, 1)
	if err := h.errs[0]; err == nil || vagt.Reason(err) != "other" {
		t.Errorf("done with %v, want a store refusal", err)
	}
	w.setFail(nil)
	if err := h.p.TrySubmit(h.msg(1, vagt.Topic("gw-a", vagt.LaneTelemetry), batchBytes(t, "gw-a", 2, 1))); err != nil {
		t.Fatal(err)
	}
	h.waitDone(t, 1)
	if h.errs[1] != nil || len(w.stored()) != 1 {
		t.Errorf("after a refusal: err %v, stored %d", h.errs[1], len(w.stored()))
	}
}

// TestShutdownLeavesUnwrittenUnacknowledged: at shutdown with InfluxDB down, Run returns
// after the drain timeout and acknowledges nothing it did not write.
func TestShutdownLeavesUnwrittenUnacknowledged(t *testing.T) {
	w := &fakeWriter{fail: errors.New("connection refused"), attempts: make(chan struct{}, 1)}
	h := newHarness(t, PipelineConfig{DrainTimeout: 10 * time.Millisecond}, w)
	for i := range 3 {
		if err := h.p.TrySubmit(h.msg(i, vagt.Topic("gw-a", vagt.LaneTelemetry), batchBytes(t, "gw-a", uint64(i+1), 1))); err != nil {
			t.Fatal(err)
		}
	}
	<-w.attempts
	h.stop()
	if got := h.doneOrder(); len(got) != 0 {
		t.Errorf("acknowledged %v without writing", got)
	}
	if err := h.p.TrySubmit(h.msg(9, vagt.Topic("gw-a", vagt.LaneTelemetry), nil)); !errors.Is(err, ErrStopped) {
		t.Errorf("submit after stop: %v, want ErrStopped", err)
	}
}

// TestShutdownWritesWhatItHolds: at shutdown with InfluxDB up, what was taken in is written
// and acknowledged before Run returns.
func TestShutdownWritesWhatItHolds(t *testing.T) {
	w := &fakeWriter{}
	h := newHarness(t, PipelineConfig{Linger: time.Hour}, w) // only shutdown flushes
	for i := range 3 {
		if err := h.p.TrySubmit(h.msg(i, vagt.Topic("gw-a", vagt.LaneTelemetry), batchBytes(t, "gw-a", uint64(i+1), 2))); err != nil {
			t.Fatal(err)
		}
	}
	h.stop()
	if got := h.doneOrder(); fmt.Sprint(got) != "[0 1 2]" || len(w.stored()) != 6 {
		t.Errorf("done %v, stored %d points; want [0 1 2] and 6", got, len(w.stored()))
	}
}

// counterValue reads a counter or gauge.
func counterValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// TestShutdownWithEverythingFull: InfluxDB down, queue full and the filler waiting to hand
// over a batch: shutdown still ends after the drain timeout, acknowledging nothing.
func TestShutdownWithEverythingFull(t *testing.T) {
	w := &fakeWriter{fail: errors.New("connection refused")}
	h := newHarness(t, PipelineConfig{QueueSize: 2, BatchPoints: 1, Writers: 1, DrainTimeout: 10 * time.Millisecond}, w)
	// One batch in the writer, one in the channel, one in the filler's hands, two queued:
	// only then is the filler blocked handing over.
	for accepted := 0; accepted < 5; {
		if err := h.p.TrySubmit(h.msg(accepted, vagt.Topic("gw-a", vagt.LaneTelemetry), batchBytes(t, "gw-a", uint64(accepted+1), 1))); err != nil {
			time.Sleep(time.Millisecond)
			continue
		}
		accepted++
	}
	stopped := make(chan struct{})
	go func() {
		h.stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after the drain timeout")
	}
	if got := h.doneOrder(); len(got) != 0 {
		t.Errorf("acknowledged %v without writing", got)
	}
}

// TestFailedWriteHoldsLaterAcks: two writers; the first batch's write keeps failing
// (transient) while the second batch is written. Nothing may be acknowledged — not even
// the written second message, which comes after the failure — and at shutdown both stay
// unacknowledged. The broker then delivers both again to a new pipeline: both are
// acknowledged in order, and InfluxDB, which keeps one value per series and time, holds
// each reading once.
func TestFailedWriteHoldsLaterAcks(t *testing.T) {
	var firstFails atomic.Bool
	firstFails.Store(true)
	w := &fakeWriter{failFor: func(lines []byte) error {
		if firstFails.Load() && bytes.Contains(lines, []byte("gw=gw-first")) {
			return errors.New("503 InfluxDB overloaded")
		}
		return nil
	}}
	first, second := batchBytes(t, "gw-first", 1, 3), batchBytes(t, "gw-second", 1, 2)
	h := newHarness(t, PipelineConfig{BatchPoints: 1, Writers: 2, DrainTimeout: 20 * time.Millisecond}, w)
	if err := h.p.TrySubmit(h.msg(1, vagt.Topic("gw-first", vagt.LaneTelemetry), first)); err != nil {
		t.Fatal(err)
	}
	if err := h.p.TrySubmit(h.msg(2, vagt.Topic("gw-second", vagt.LaneTelemetry), second)); err != nil {
		t.Fatal(err)
	}
	// Wait until the second batch is written while the first keeps failing.
	for deadline := time.Now().Add(time.Minute); len(w.stored()) < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the second batch was not written: stored %q", w.stored())
		}
	}
	for range 3 { // a few more failed attempts of the first, retried meanwhile
		for calls := w.callCount(); w.callCount() == calls; time.Sleep(time.Millisecond) {
		}
	}
	if got := h.doneOrder(); len(got) != 0 {
		t.Fatalf("acknowledged %v while the first batch was unwritten", got)
	}
	if got := counterValue(h.m.WriteErrors.WithLabelValues("transient")); got < 1 {
		t.Errorf("transient write errors %v, want the first batch's failures counted", got)
	}
	h.stop()
	if got := h.doneOrder(); len(got) != 0 {
		t.Fatalf("acknowledged %v at shutdown; the first batch was never written", got)
	}

	// Redelivery of both, InfluxDB well again.
	firstFails.Store(false)
	h2 := newHarness(t, PipelineConfig{BatchPoints: 1, Writers: 2}, w)
	if err := h2.p.TrySubmit(h2.msg(1, vagt.Topic("gw-first", vagt.LaneTelemetry), first)); err != nil {
		t.Fatal(err)
	}
	if err := h2.p.TrySubmit(h2.msg(2, vagt.Topic("gw-second", vagt.LaneTelemetry), second)); err != nil {
		t.Fatal(err)
	}
	h2.waitDone(t, 2)
	if got := h2.doneOrder(); fmt.Sprint(got) != "[1 2]" || h2.errs[1] != nil || h2.errs[2] != nil {
		t.Fatalf("after redelivery done %v with %v, want [1 2] without errors", got, h2.errs)
	}
	// A point is its series and time: what InfluxDB keeps is one value per key.
	points := map[string]string{}
	for _, l := range w.stored() {
		key, _, _ := strings.Cut(l, " value=")
		_, ts, _ := strings.Cut(l[len(key)+1:], " ")
		points[key+" "+ts] = l
	}
	if len(points) != 5 {
		t.Errorf("InfluxDB holds %d distinct points, want the 5 readings once each: %q", len(points), w.stored())
	}
}

func (f *fakeWriter) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}
