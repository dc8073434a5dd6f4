package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestLogLevelRefused: every command with --log-level reads it with the one helper
// (subcmd.Logger) and refuses a level it does not know before it starts anything.
func TestLogLevelRefused(t *testing.T) {
	for _, cmd := range []string{"api", "ingest"} {
		err := commands.Run(context.Background(), "vagt", []string{cmd, "--log-level", "loud"},
			func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "log level: ") {
			t.Errorf("vagt %s --log-level loud: %v, want a log level error", cmd, err)
		}
	}
}
