package burst

import (
	"testing"
	"time"
)

// TestBurst: the first refusal of a burst is logged, the rest of the interval is counted,
// the next interval logs again with the count left out, a good message ends the burst.
func TestBurst(t *testing.T) {
	l := New(time.Minute)
	t0 := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	steps := []struct {
		at         time.Duration
		key        string
		good       bool
		log        bool
		suppressed int
		ended      bool
		refused    int
	}{
		{at: 0, key: "a", log: true},
		{at: time.Second, key: "a"},
		{at: 2 * time.Second, key: "a"},
		{at: 2 * time.Second, key: "b", log: true}, // another source has its own burst
		{at: 61 * time.Second, key: "a", log: true, suppressed: 2},
		{at: 62 * time.Second, key: "a", good: true, ended: true, refused: 4},
		{at: 63 * time.Second, key: "a", good: true},    // no burst to end
		{at: 64 * time.Second, key: "a", log: true},     // a new burst is logged at once
		{at: 10 * time.Second, key: "a", log: true},     // a clock stepped back logs, not mutes
		{at: 11 * time.Second, key: "a", suppressed: 0}, // and then counts again
	}
	for i, s := range steps {
		if s.good {
			ended, refused := l.Good(s.key)
			if ended != s.ended || refused != s.refused {
				t.Errorf("step %d: Good = %v, %d; want %v, %d", i, ended, refused, s.ended, s.refused)
			}
			continue
		}
		log, suppressed := l.Refused(s.key, t0.Add(s.at))
		if log != s.log || suppressed != s.suppressed {
			t.Errorf("step %d: Refused = %v, %d; want %v, %d", i, log, suppressed, s.log, s.suppressed)
		}
	}
}

// TestBounded: a flood of distinct sources does not grow the limiter without bound.
func TestBounded(t *testing.T) {
	l := New(time.Minute)
	t0 := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	for i := range 5000 {
		l.Refused(string(rune('a'+i%26))+string(rune(i)), t0.Add(time.Duration(i)*time.Second))
	}
	if n := len(l.keys); n > maxKeys {
		t.Fatalf("%d keys kept, at most %d", n, maxKeys)
	}
}
