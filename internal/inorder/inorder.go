// Package inorder releases work in the order it arrived although it finishes out of
// order. MQTT wants QoS 1 acknowledgements in the order the messages came, and paho does
// not keep that order itself (docs/architecture.md); ingest's batches and the api's alarm
// lane both finish in whatever order their writers do. Both use this one sequencer, so the
// rule "nothing is acknowledged before everything that came before it" lives in one place.
package inorder

import "sync"

// Sequencer calls release for numbered items in number order: an item done out of order
// waits until every item numbered before it is done too. Numbers start at the first given
// to New and have no gaps; each is done exactly once. Release runs under the sequencer's
// lock, so releases never overlap and leave in order.
type Sequencer[T any] struct {
	mu      sync.Mutex
	next    uint64
	done    map[uint64]T
	release func(T)
}

// New returns a sequencer whose first item is numbered first.
func New[T any](first uint64, release func(T)) *Sequencer[T] {
	return &Sequencer[T]{next: first, done: map[uint64]T{}, release: release}
}

// Done marks item n finished with v and releases the longest run of finished items from
// the oldest one not yet released.
func (s *Sequencer[T]) Done(n uint64, v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done[n] = v
	for {
		v, ok := s.done[s.next]
		if !ok {
			return
		}
		delete(s.done, s.next)
		s.next++
		s.release(v)
	}
}
