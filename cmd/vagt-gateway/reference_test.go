package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

var update = flag.Bool("update", false, "rewrite the flag reference in docs/configuration.md")

// TestConfigurationReference: docs/configuration.md lists every flag of vagt-gateway as
// the binary has it. After changing a flag, run:
// go test ./cmd/vagt-gateway -run TestConfigurationReference -update
func TestConfigurationReference(t *testing.T) {
	var usage bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &usage); err != nil && err != flag.ErrHelp {
		t.Fatalf("vagt-gateway -h: %v", err)
	}
	stale, err := subcmd.SyncDoc("../../docs/configuration.md",
		map[string]string{"vagt-gateway": subcmd.FlagReference(withoutHost(usage.String()))}, *update)
	if err != nil {
		t.Fatal(err)
	}
	if stale {
		t.Error("docs/configuration.md does not list vagt-gateway's flags as the binary has them; run: go test ./cmd/vagt-gateway -run TestConfigurationReference -update")
	}
}

// withoutHost replaces this machine's name in defaults such as vagt-api-<hostname>, so the
// reference is the same on every machine.
func withoutHost(usage string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return usage
	}
	return strings.ReplaceAll(usage, "-"+host+`"`, `-<hostname>"`)
}
