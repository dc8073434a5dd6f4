package inorder

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestReleasesInNumberOrder(t *testing.T) {
	var got []uint64
	s := New(1, func(n uint64) { got = append(got, n) })
	for _, step := range []struct {
		done uint64
		want int
	}{{3, 0}, {2, 0}, {1, 3}, {6, 3}, {4, 4}, {5, 6}} {
		s.Done(step.done, step.done)
		if len(got) != step.want {
			t.Fatalf("after %d done: released %v, want %d", step.done, got, step.want)
		}
	}
	if !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("released %v", got)
	}
}

// TestConcurrentDonesReleaseInOrder: many goroutines finish items in random order; every
// item is released once, in number order (run with -race).
func TestConcurrentDonesReleaseInOrder(t *testing.T) {
	const n = 2000
	var got []int
	s := New(0, func(v int) { got = append(got, v) })
	order := rand.Perm(n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				s.Done(uint64(order[i]), order[i])
			}
		})
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("released %d of %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("release %d was item %d", i, v)
		}
	}
}
