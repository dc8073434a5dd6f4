package zigbee

import (
	"slices"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// ackRecorder is a message whose Ack is recorded in order.
type ackRecorder struct {
	mqtt.Message
	id  int
	log *[]int
}

func (m ackRecorder) Ack() { *m.log = append(*m.log, m.id) }

// TestAckOrder: PUBACKs leave in arrival order whatever order the messages are done in; a
// lost connection forgets what was not acknowledged (the broker redelivers it), so one
// message never done does not hold the acks of the next connection.
func TestAckOrder(t *testing.T) {
	var sent []int
	o := newAckOrder()
	n := make([]uint64, 6)
	for i := 1; i <= 3; i++ {
		n[i] = o.arrive(ackRecorder{id: i, log: &sent})
	}
	o.done(n[3])
	o.done(n[2])
	if len(sent) != 0 {
		t.Fatalf("acked %v before the first arrival was done", sent)
	}
	o.done(n[1])
	if !slices.Equal(sent, []int{1, 2, 3}) {
		t.Fatalf("acked %v, want 1 2 3", sent)
	}
	n[4] = o.arrive(ackRecorder{id: 4, log: &sent}) // never done: its alarm not committed
	o.lost()
	o.done(n[4]) // late, from the old connection: ignored
	n[5] = o.arrive(ackRecorder{id: 5, log: &sent})
	o.done(n[5])
	if !slices.Equal(sent, []int{1, 2, 3, 5}) {
		t.Fatalf("acked %v, want 1 2 3 5 (4 left to the broker's redelivery)", sent)
	}
	if w := o.waiting(); w != 0 {
		t.Errorf("%d waiting, want 0", w)
	}
}
