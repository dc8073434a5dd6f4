package alarmlane

import "testing"

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
