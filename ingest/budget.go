package ingest

import (
	"fmt"
	"sync"
)

// ErrOverBudget is returned by TrySubmit when the payload bytes taken in and not yet
// acknowledged would pass PipelineConfig.MaxBytes: counting messages alone let twenty 10 MB
// publishes take ingest from 18 to 206 MB (issue 15 defect 5). It is a kind of
// ErrQueueFull: the same backpressure.
var ErrOverBudget = fmt.Errorf("%w: too many bytes in flight", ErrQueueFull)

// byteBudget bounds the payload bytes the pipeline holds. A message larger than the whole
// budget is taken when nothing else is held, so it cannot wait for ever (the size limits
// in front of the pipeline keep it from happening).
type byteBudget struct {
	max int64 // 0: no bound

	mu    sync.Mutex
	held  int64
	freed chan struct{} // closed when bytes are given back, then replaced
}

func newByteBudget(max int64) *byteBudget { return &byteBudget{max: max, freed: make(chan struct{})} }

// take takes n bytes; when they are not free it returns false and a channel closed at the
// next release.
func (b *byteBudget) take(n int64) (bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max > 0 && b.held > 0 && b.held+n > b.max {
		return false, b.freed
	}
	b.held += n
	return true, nil
}

func (b *byteBudget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.held -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// Held returns the bytes held.
func (b *byteBudget) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}
