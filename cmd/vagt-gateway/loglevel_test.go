package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestLogLevelRefused: the gateway reads --log-level with the helper the other binaries
// use, and refuses an unknown level before it opens anything.
func TestLogLevelRefused(t *testing.T) {
	dir := t.TempDir()
	err := run(context.Background(), []string{"-log-level", "loud", "-spool", dir + "/spool.db"}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "log level: ") {
		t.Errorf("vagt-gateway -log-level loud: %v, want a log level error", err)
	}
}
