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

// TestIngestHTTPWaitFromEnv: VAGT_HTTP_WAIT reaches the config (a negative bound is refused
// by name), and the flag wins over the variable.
func TestIngestHTTPWaitFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "VAGT_HTTP_WAIT" {
				return v
			}
			return ""
		}
	}
	err := commands.Run(context.Background(), "vagt", []string{"ingest", "--broker", "", "--tokens", "t"}, env("-1s"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "http wait -1s") {
		t.Errorf("VAGT_HTTP_WAIT=-1s: %v, want the http wait refused", err)
	}
	err = commands.Run(context.Background(), "vagt", []string{"ingest", "--broker", "", "--tokens", "t", "--http-wait", "-2s"}, env("5s"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "http wait -2s") {
		t.Errorf("--http-wait -2s over VAGT_HTTP_WAIT=5s: %v, want the flag's value refused", err)
	}
}
