package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

var update = flag.Bool("update", false, "rewrite the flag reference in docs/configuration.md")

func noEnv(string) string { return "" }

// TestConfigurationReference: docs/configuration.md lists every flag of vagt-demo as the
// binary has it. After changing a flag, run:
// go test ./cmd/vagt-demo -run TestConfigurationReference -update
func TestConfigurationReference(t *testing.T) {
	var usage bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, noEnv, &usage, &usage); err != nil && !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("vagt-demo -h: %v", err)
	}
	stale, err := subcmd.SyncDoc("../../docs/configuration.md",
		map[string]string{"vagt-demo": subcmd.FlagReference(usage.String())}, *update)
	if err != nil {
		t.Fatal(err)
	}
	if stale {
		t.Error("docs/configuration.md does not list vagt-demo's flags as the binary has them; run: go test ./cmd/vagt-demo -run TestConfigurationReference -update")
	}
}

// TestCommandLine: help goes to stdout, and a bad level, flag or argument is refused
// before anything starts (no InfluxDB, no broker, no data directory).
func TestCommandLine(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, noEnv, &out, io.Discard); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "-night-speed") {
		t.Errorf("vagt-demo -h: %v, stdout %q", err, out.String())
	}
	dir := t.TempDir() + "/never"
	for _, args := range [][]string{
		{"--dir", dir, "--log-level", "loud"},
		{"--dir", dir, "--homes", "many"},
		{"--dir", dir, "stray"},
	} {
		err := run(context.Background(), args, noEnv, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("vagt-demo %v: no error", args)
		}
	}
	if err := run(context.Background(), []string{"--log-level", "loud"}, noEnv, io.Discard, io.Discard); err == nil || !strings.HasPrefix(err.Error(), "log level: ") {
		t.Errorf("vagt-demo --log-level loud: %v, want a log level error", err)
	}
}
