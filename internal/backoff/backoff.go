// Package backoff is the reconnect back-off every vagt client uses: the gateway's uplink, and
// the load generator's simulated gateways, which must reconnect exactly as real ones do.
package backoff

import (
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"time"
)

// Backoff is exponential back-off with full jitter: wait n (counted from 0 since the last
// successful connect) is drawn uniformly from [0, min(Max, Base·2ⁿ)). After a broker
// restart every gateway of the country loses its connection at the same instant; without
// jitter they would all come back at the same instants too (0, 1, 2, 4 … s), each wave a
// storm of TLS handshakes that the broker refuses in part, which makes the next wave. With
// full jitter the arrivals spread evenly over each window (issue 20 measures both).
//
// The generator is seeded from the gateway id, so gateways that boot at the same moment
// from the same image still draw different waits, and one gateway's waits are the same
// from run to run (a storm can be replayed).
type Backoff struct {
	Base, Max time.Duration
	NoJitter  bool // wait the full min(Max, Base·2ⁿ): plain exponential back-off, for comparison

	mu  sync.Mutex
	n   int
	rng *rand.Rand
}

// New returns a back-off seeded for the gateway (or any client) id.
func New(base, max time.Duration, id string) *Backoff {
	h := fnv.New64a()
	h.Write([]byte(id))
	s := h.Sum64()
	return &Backoff{Base: base, Max: max, rng: rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))}
}

// Next returns the next wait and counts the attempt.
func (b *Backoff) Next() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	ceiling := b.Max
	if b.n < 62 && b.Base<<b.n > 0 && b.Base<<b.n < b.Max {
		ceiling = b.Base << b.n
	}
	b.n++
	if b.NoJitter || ceiling <= 0 {
		return ceiling
	}
	return time.Duration(b.rng.Int64N(int64(ceiling)))
}

// SetJitter turns jitter on or off while the back-off is in use (the storm measurement
// compares both on the same connections).
func (b *Backoff) SetJitter(on bool) {
	b.mu.Lock()
	b.NoJitter = !on
	b.mu.Unlock()
}

// Reset starts over after a successful connect.
func (b *Backoff) Reset() {
	b.mu.Lock()
	b.n = 0
	b.mu.Unlock()
}

// Wait sleeps Next() or until quit is closed; it reports whether it slept the whole wait.
func (b *Backoff) Wait(quit <-chan struct{}) bool {
	d := b.Next()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-quit:
		return false
	}
}
