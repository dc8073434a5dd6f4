package alarmlane

import (
	"sync"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sequencer acknowledges messages in arrival order: a message done out of order waits
// until every message that arrived before it is done too.
type sequencer struct {
	mu       sync.Mutex
	next     int64                  // the oldest arrival not yet acknowledged
	pending  map[int64]mqtt.Message // arrived, not acknowledged
	finished map[int64]bool
}

func (s *sequencer) add(n int64, m mqtt.Message) {
	s.mu.Lock()
	s.pending[n] = m
	s.mu.Unlock()
}

// done marks n committed and acknowledges the longest committed prefix. Acks are sent
// under the lock, so they leave in order.
func (s *sequencer) done(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished == nil {
		s.finished = map[int64]bool{}
	}
	s.finished[n] = true
	for s.finished[s.next] {
		if m := s.pending[s.next]; m != nil {
			m.Ack()
		}
		delete(s.finished, s.next)
		delete(s.pending, s.next)
		s.next++
	}
}

// queue is a FIFO for one worker. Its count is bounded by the broker, which sends at most
// its in-flight window of unacknowledged QoS 1 messages, and its bytes by that window times
// MaxStatusBytes: arrive refuses a larger payload before it is queued.
type queue struct {
	mu     sync.Mutex
	items  []item
	signal chan struct{}
	closed bool
}

func newQueue() *queue { return &queue{signal: make(chan struct{}, 1)} }

func (q *queue) push(it item) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pop waits for the next item; false once the queue is closed (what is left stays
// unacknowledged, for the broker to redeliver).
func (q *queue) pop() (item, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return item{}, false
		}
		if len(q.items) > 0 {
			it := q.items[0]
			q.items[0] = item{}
			q.items = q.items[1:]
			q.mu.Unlock()
			return it, true
		}
		q.mu.Unlock()
		<-q.signal
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
