package demo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// lockDir takes the data directory for this run: a second `make run` on the same directory
// would otherwise wait silently on the broker's store (bbolt's file lock) or fight over
// InfluxDB's and SQLite's files. It refuses at once, naming the process that holds it. The
// lock is the kernel's (flock), so a killed demo leaves none behind.
func lockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "demo.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another vagt-demo"
			if pid := strings.TrimSpace(string(holder)); pid != "" {
				who += " (pid " + pid + ")"
			}
			return nil, fmt.Errorf("demo: %s is in use by %s; stop it first (Ctrl-C), or run with another --dir", dir, who)
		}
		return nil, fmt.Errorf("demo: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	}
	return func() { f.Close() }, nil
}
