package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestIngestRefusesBadConfig: without a broker or a token file there is nothing to ingest,
// and the command says so instead of starting.
func TestIngestRefusesBadConfig(t *testing.T) {
	err := commands.Run(context.Background(), "vagt", []string{"ingest", "--broker", "", "--batch-points", "0"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "nothing to ingest") {
		t.Errorf("got %v, want a config error", err)
	}
}
