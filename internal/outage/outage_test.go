package outage

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

type counter struct{ n int }

func (c *counter) Inc() { c.n++ }

// TestOnceAnOutage: a store that does not answer for an hour of one-second ticks makes two
// log lines (the first failure, the recovery with the count), not 3,600; every failure is
// counted; a second outage is logged again.
func TestOnceAnOutage(t *testing.T) {
	var buf bytes.Buffer
	c := &counter{}
	l := &Log{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Loop: "escalate", Counter: c}
	down := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	l.OK() // a quiet start logs nothing
	for range 3600 {
		l.Failed(down)
	}
	l.OK()
	l.OK()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("an hour's outage: %d log lines, want 2:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "loop=escalate") || !strings.Contains(lines[0], `err="dial tcp`) {
		t.Errorf("first failure: %s", lines[0])
	}
	if !strings.Contains(lines[1], "level=INFO") || !strings.Contains(lines[1], "failed_runs=3600") {
		t.Errorf("recovery: %s", lines[1])
	}
	if l.Failures() != 3600 || c.n != 3600 {
		t.Errorf("counted %d, counter %d, want 3600", l.Failures(), c.n)
	}
	buf.Reset()
	l.Failed(down)
	l.Failed(down)
	if n := strings.Count(buf.String(), "\n"); n != 1 || l.Failures() != 3602 {
		t.Errorf("second outage: %d lines, %d failures:\n%s", n, l.Failures(), buf.String())
	}
}

// TestNilLogger: a loop built without a logger still counts.
func TestNilLogger(t *testing.T) {
	var l Log
	l.Failed(errors.New("x"))
	l.OK()
	if l.Failures() != 1 {
		t.Errorf("failures %d", l.Failures())
	}
}
