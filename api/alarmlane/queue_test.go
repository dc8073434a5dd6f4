package alarmlane

import (
	"sync"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// fakeMessage records when it is acknowledged.
type fakeMessage struct {
	mqtt.Message
	n    int64
	acks *[]int64
	mu   *sync.Mutex
}

func (m *fakeMessage) Ack() {
	m.mu.Lock()
	*m.acks = append(*m.acks, m.n)
	m.mu.Unlock()
}

func TestSequencerAcksInArrivalOrder(t *testing.T) {
	var (
		acks []int64
		mu   sync.Mutex
	)
	s := sequencer{next: 1, pending: map[int64]mqtt.Message{}}
	for n := int64(1); n <= 6; n++ {
		s.add(n, &fakeMessage{n: n, acks: &acks, mu: &mu})
	}
	for _, step := range []struct {
		done int64
		want int
	}{{3, 0}, {2, 0}, {1, 3}, {6, 3}, {4, 4}, {5, 6}} {
		s.done(step.done)
		if len(acks) != step.want {
			t.Fatalf("after %d done: acks %v, want %d", step.done, acks, step.want)
		}
	}
	for i, n := range acks {
		if n != int64(i+1) {
			t.Fatalf("acks out of order: %v", acks)
		}
	}
}

func TestQueueClosedLeavesItems(t *testing.T) {
	q := newQueue()
	q.push(item{n: 1})
	if it, ok := q.pop(); !ok || it.n != 1 {
		t.Fatalf("pop %v %v", it, ok)
	}
	q.push(item{n: 2})
	q.close()
	if _, ok := q.pop(); ok {
		t.Fatal("a closed queue handed out an item: it would be committed after shutdown began")
	}
}
