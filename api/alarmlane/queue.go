package alarmlane

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

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
