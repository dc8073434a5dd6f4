package main

import (
	"os"
	"strings"
	"sync"
	"time"
)

// testClockEnv names a file whose content sets the gateway's clock. TEST ONLY, off unless
// the variable is set: Go programs ignore libfaketime, so the alarm property test
// (test/alarmprop) steps a gateway process's clock to 1970 and years ahead through it.
// Never set it on a real gateway.
const testClockEnv = "VAGT_TEST_CLOCK_FILE"

// fileClock is the wall clock shifted by what the file says. The file holds an RFC 3339
// time, optionally followed by a space and a comment: the clock reads that time when this
// process first sees that content, and runs on from there at the wall clock's pace. So a
// new content is a clock step, and a process started on a file that did not change is a
// box booting with its clock at that time (a Raspberry Pi without RTC: 1970 on every
// boot). An empty or missing file is the wall clock. The file is read at most every
// fileClockRefresh; what cannot be parsed leaves the clock as it was.
type fileClock struct {
	path string

	mu      sync.Mutex
	checked time.Time // monotonic: when the file was last read
	content string
	offset  time.Duration
}

const fileClockRefresh = 20 * time.Millisecond

func newFileClock(path string) *fileClock { return &fileClock{path: path} }

// Now returns the shifted wall clock, without a monotonic reading: a stepped clock is a
// wall clock, as after settimeofday.
func (c *fileClock) Now() time.Time {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checked.IsZero() || now.Sub(c.checked) >= fileClockRefresh {
		c.checked = now
		c.read(now)
	}
	return now.Round(0).Add(c.offset)
}

func (c *fileClock) read(now time.Time) {
	data, err := os.ReadFile(c.path)
	if err != nil {
		data = nil // missing: the wall clock
	}
	content := strings.TrimSpace(string(data))
	if content == c.content {
		return
	}
	c.content = content
	if content == "" {
		c.offset = 0
		return
	}
	at, _, _ := strings.Cut(content, " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return
	}
	c.offset = t.Sub(now.Round(0))
}

// Synced answers the gateway's question whether its clock is synchronised to a time
// source (the kernel's flag, for the wall clock): a clock the file has set is not; the
// wall clock is what the kernel says.
func (c *fileClock) Synced() bool {
	c.mu.Lock()
	set := c.content != ""
	c.mu.Unlock()
	return !set && kernelSynced()
}
