package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFileClock: the test-only clock starts at the file's time, steps when the content
// changes (also to the same time with another comment), keeps running otherwise, and is
// the wall clock without a file.
func TestFileClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock")
	c := newFileClock(path)
	near := func(what string, got, want time.Time) {
		t.Helper()
		if d := got.Sub(want); d < -time.Minute || d > time.Minute {
			t.Errorf("%s: clock %s, want about %s", what, got, want)
		}
	}
	near("no file", c.Now(), time.Now())
	set := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c.checked = time.Time{} // read at the next call, not fileClockRefresh later
	}
	boot := time.Date(1970, 1, 1, 0, 0, 7, 0, time.UTC)
	set(boot.Format(time.RFC3339Nano) + " boot 1")
	near("1970", c.Now(), boot)
	if c.Synced() {
		t.Error("a clock the file set says it is synchronised")
	}
	if got := c.Now(); got.Before(boot) || got.Year() != 1970 {
		t.Errorf("the clock ran backwards or away: %s", got)
	}
	ahead := time.Now().AddDate(30, 0, 0)
	set(ahead.Format(time.RFC3339Nano) + " step 2")
	near("30 years ahead", c.Now(), ahead)
	set("not a time")
	near("an unreadable file leaves the clock", c.Now(), ahead)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	c.checked = time.Time{}
	near("file removed", c.Now(), time.Now())
	// A new process on an unchanged file boots at the file's time again.
	set(boot.Format(time.RFC3339Nano) + " boot 1")
	near("reboot", newFileClock(path).Now(), boot)
}
