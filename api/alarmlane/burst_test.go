package alarmlane

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// syncBuffer is a log sink the lane's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func testLane(t *testing.T, sink Sink) (*Lane, *syncBuffer, *fakeClock) {
	t.Helper()
	var buf syncBuffer
	clock := &fakeClock{}
	clock.ns.Store(time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC).UnixNano())
	l, err := New(sink, Options{Broker: "tcp://127.0.0.1:1", ClientID: "t", Logger: slog.New(slog.NewTextHandler(&buf, nil)),
		Now: clock.now, LogEvery: time.Minute, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return l, &buf, clock
}

// A gateway sending garbage is counted every time and logged once per burst at warn.
func TestRejectionsLoggedOncePerBurst(t *testing.T) {
	l, logs, clock := testLane(t, &flakySink{})
	garbage := msg{topic: "vagt/v1/gw/gw-0042/alarm", payload: []byte{0xff}}
	for range 100 {
		if !l.handle(t.Context(), garbage) {
			t.Fatal("garbage not acknowledged")
		}
	}
	if got := l.Rejected(vagt.LaneAlarm, "malformed"); got != 100 {
		t.Fatalf("rejected = %v, want 100", got)
	}
	lines := logs.lines("message rejected")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "reason=malformed") {
		t.Fatalf("want one warn line for the burst, got %d: %q", len(lines), lines)
	}
	// Another reason is its own burst.
	l.handle(t.Context(), msg{topic: "vagt/v1/gw/gw-0042/alarm", payload: alarmPayload(t, "gw-0043")})
	if got := len(logs.lines("reason=gateway_mismatch")); got != 1 {
		t.Fatalf("gateway mismatch logged %d times", got)
	}
	clock.advance(time.Minute)
	l.handle(t.Context(), garbage)
	lines = logs.lines("reason=malformed")
	if len(lines) != 2 || !strings.Contains(lines[1], "suppressed_since_last=99") {
		t.Fatalf("after the interval: %q", lines)
	}
}

// Different content under a seq seen before is committed (its own alert), counted with a
// reason and logged.
func TestSeqReuseCountedAndLogged(t *testing.T) {
	l, logs, _ := testLane(t, &flakySink{})
	a := &vagt.Alarm{Gateway: "gw-x", Seq: 500, Municipality: 766, Time: time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC),
		Device: "smoke-1", Type: vagt.AlarmSmoke, Priority: vagt.PriorityCritical, Details: map[string]string{"reused": "yes"}}
	b, err := vagt.EncodeAlarm(a)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !l.handle(t.Context(), msg{topic: "vagt/v1/gw/gw-x/alarm", payload: b}) {
			t.Fatal("not acknowledged")
		}
	}
	if got := l.Flagged(vagt.LaneAlarm, FlagSeqReused); got != 3 {
		t.Fatalf("flagged = %v", got)
	}
	lines := logs.lines("different content under a seq")
	if len(lines) != 1 || !strings.Contains(lines[0], "seq=500") || !strings.Contains(lines[0], "gateway=gw-x") {
		t.Fatalf("log: %q", lines)
	}
}

type ackedMsg struct {
	msg
	acks *atomic.Int32
}

func (m ackedMsg) Ack() { m.acks.Add(1) }

// A payload larger than any lane message can be is refused as it arrives: never queued,
// never decoded, acknowledged (it cannot ever be valid), counted.
func TestOversizedRefusedOnArrival(t *testing.T) {
	l, _, _ := testLane(t, &flakySink{})
	var acks atomic.Int32
	l.arrive(nil, ackedMsg{msg{topic: "vagt/v1/gw/gw-0042/alarm", payload: make([]byte, vagt.MaxAlarmBytes+1)}, &acks})
	l.arrive(nil, ackedMsg{msg{topic: "vagt/v1/gw/gw-0042/status", payload: make([]byte, vagt.MaxStatusBytes+1)}, &acks})
	if acks.Load() != 2 {
		t.Fatalf("acks = %d", acks.Load())
	}
	for _, q := range l.queues {
		if len(q.items) != 0 {
			t.Fatalf("an oversized message was queued")
		}
	}
	if l.Rejected(vagt.LaneAlarm, "too_large") != 1 || l.Rejected(vagt.LaneStatus, "too_large") != 1 {
		t.Fatalf("rejections not counted: %v %v", l.Rejected(vagt.LaneAlarm, "too_large"), l.Rejected(vagt.LaneStatus, "too_large"))
	}
}

// The lane says it is down while the store does not take what arrives, and up again once it does.
func TestStateFollowsStore(t *testing.T) {
	sink := &flakySink{fails: 2}
	var changes atomic.Int32
	l, _ := New(sink, Options{Broker: "tcp://127.0.0.1:1", ClientID: "t", RetryMin: time.Millisecond, RetryMax: time.Millisecond,
		OnChange: func() { changes.Add(1) }})
	if up, why := l.State(); up || why != DownConnecting {
		t.Fatalf("before connecting: %v %q", up, why)
	}
	l.setUp(true, "")
	if up, _ := l.State(); !up {
		t.Fatal("not up once subscribed")
	}
	l.setStoreOK(false)
	if up, why := l.State(); up || why != DownStore {
		t.Fatalf("store down: %v %q", up, why)
	}
	l.handle(t.Context(), msg{topic: "vagt/v1/gw/gw-0042/alarm", payload: alarmPayload(t, "gw-0042")})
	if up, _ := l.State(); !up {
		t.Fatal("not up after a commit")
	}
	l.setUp(false, DownBroker)
	if up, why := l.State(); up || why != DownBroker {
		t.Fatalf("broker lost: %v %q", up, why)
	}
	if changes.Load() < 4 {
		t.Fatalf("OnChange called %d times", changes.Load())
	}
}

// Statuses are held up to a byte budget and refused past it as they arrive; an alarm is
// never refused for it.
func TestHeldBytesBounded(t *testing.T) {
	sink := &flakySink{}
	l, err := New(sink, Options{Broker: "tcp://127.0.0.1:1", ClientID: "t", MaxHeldBytes: 100 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var acks atomic.Int32
	status := func() ackedMsg {
		return ackedMsg{msg{topic: "vagt/v1/gw/gw-0042/status", payload: make([]byte, 60<<10)}, &acks}
	}
	l.arrive(nil, status()) // no workers run: it stays held
	if got := l.held.Load(); got != 60<<10 {
		t.Fatalf("held %d bytes", got)
	}
	l.arrive(nil, status())
	if l.Rejected(vagt.LaneStatus, "over_budget") != 1 || l.held.Load() != 60<<10 {
		t.Fatalf("a status past the budget: rejected %v, held %d", l.Rejected(vagt.LaneStatus, "over_budget"), l.held.Load())
	}
	for range 10 { // 10 alarms of 8 KiB: past the budget, all held
		l.arrive(nil, ackedMsg{msg{topic: "vagt/v1/gw/gw-0042/alarm", payload: alarmPayload(t, "gw-0042")}, &acks})
	}
	queued := 0
	for _, q := range l.queues {
		queued += len(q.items)
	}
	if queued != 11 || l.Rejected(vagt.LaneAlarm, "over_budget") != 0 {
		t.Fatalf("queued %d, alarms refused %v", queued, l.Rejected(vagt.LaneAlarm, "over_budget"))
	}
	// Committing frees what was held.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, q := range l.queues {
		go l.work(ctx, q)
	}
	stop := time.Now().Add(time.Minute) // a bound, not a target
	for l.held.Load() != 0 {
		if time.Now().After(stop) {
			t.Fatalf("still held: %d", l.held.Load())
		}
		time.Sleep(time.Millisecond)
	}
	for _, q := range l.queues {
		q.close()
	}
}
