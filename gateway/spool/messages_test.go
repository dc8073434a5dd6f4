package spool

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/vagt-dk/vagt"
)

func key(n int) MessageKey {
	var k MessageKey
	binary.BigEndian.PutUint64(k[:], uint64(n))
	k[31] = 0xa5
	return k
}

// TestCommittedMessages: a message's key is committed with its readings (and only then:
// a refused call commits neither), survives a reopen, and is forgotten keptMessages
// messages later.
func TestCommittedMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	q := open(t, path, &fakeClock{t: t0}, nil)
	committed := func(k MessageKey) bool {
		t.Helper()
		ok, err := q.Committed(k)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if committed(key(1)) {
		t.Fatal("a key nobody committed")
	}
	if err := q.AddReadings(readings(0, 2, t0), key(1)); err != nil {
		t.Fatal(err)
	}
	if err := q.AddReadings(nil, key(2)); err != nil { // a message whose readings were all refused
		t.Fatal(err)
	}
	bad := readings(2, 1, t0)
	bad[0].Kind = vagt.Kind(250)
	if err := q.AddReadings(bad, key(3)); err == nil {
		t.Fatal("an invalid reading was taken")
	}
	if !committed(key(1)) || !committed(key(2)) || committed(key(3)) {
		t.Fatalf("committed 1, 2, 3: %v %v %v, want true true false", committed(key(1)), committed(key(2)), committed(key(3)))
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = open(t, path, &fakeClock{t: t0}, nil)
	defer q.Close()
	if !committed(key(1)) {
		t.Fatal("forgotten across a reopen")
	}
	// keptMessages more (two were kept): key 1 and 2 go, the newest stay.
	var ks []MessageKey
	for n := 10; n < 10+keptMessages; n++ {
		ks = append(ks, key(n))
	}
	if err := q.AddReadings(nil, ks...); err != nil {
		t.Fatal(err)
	}
	if committed(key(1)) || committed(key(2)) || !committed(key(10)) || !committed(key(9+keptMessages)) {
		t.Errorf("after %d more: 1 %v, 2 %v, first new %v, last new %v; want false false true true",
			keptMessages, committed(key(1)), committed(key(2)), committed(key(10)), committed(key(9+keptMessages)))
	}
}
