package zigbee

import (
	"sync"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// ackOrder sends the home broker's PUBACKs in the order the messages arrived, each only
// once its message is done (docs/gateway.md, "Zigbee PUBACK after commit"): MQTT requires
// the order, and paho's Message.Ack() sends whenever it is called. A message done out of
// order waits for every one that arrived before it. A connection lost drops what is not yet
// acknowledged — paho would drop those acks anyway, and the broker redelivers the messages
// to the persistent session — so one message never done (its alarm not committed) holds
// the acks of one connection only.
type ackOrder struct {
	mu       sync.Mutex
	arrived  uint64 // arrivals numbered from 1
	next     uint64 // the oldest arrival not yet acknowledged; 0: none yet
	pending  map[uint64]mqtt.Message
	finished map[uint64]bool
}

func newAckOrder() *ackOrder {
	return &ackOrder{pending: map[uint64]mqtt.Message{}, finished: map[uint64]bool{}}
}

// arrive numbers a message (on paho's router, in arrival order).
func (o *ackOrder) arrive(m mqtt.Message) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.arrived++
	if o.next == 0 {
		o.next = o.arrived
	}
	o.pending[o.arrived] = m
	return o.arrived
}

// done marks n done and acknowledges the longest prefix of done arrivals, under the lock
// so that the acks leave in order. A number from before a lost connection is ignored.
func (o *ackOrder) done(n uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n < o.next {
		return
	}
	o.finished[n] = true
	for o.finished[o.next] {
		if m := o.pending[o.next]; m != nil {
			m.Ack()
		}
		delete(o.finished, o.next)
		delete(o.pending, o.next)
		o.next++
	}
}

// lost forgets the arrivals not acknowledged: the broker sends them again.
func (o *ackOrder) lost() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.pending)
	clear(o.finished)
	o.next = o.arrived + 1
}

// waiting returns how many arrivals wait for their ack (for Stats).
func (o *ackOrder) waiting() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}
