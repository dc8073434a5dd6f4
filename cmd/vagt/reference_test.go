package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

var update = flag.Bool("update", false, "rewrite the flag reference in docs/configuration.md")

// TestConfigurationReference: docs/configuration.md lists every flag (and its VAGT_*
// variable) of every vagt subcommand exactly as the binary has it. After changing a flag,
// run: go test ./cmd/vagt -run TestConfigurationReference -update
func TestConfigurationReference(t *testing.T) {
	invocations := [][]string{{"api"}, {"ingest"}, {"registry", "import"}, {"registry", "pending"}, {"registry", "decommission"}, {"token", "create"}, {"token", "list"}, {"token", "revoke"}, {"audit", "verify"}, {"alarms", "replay"}, {"broker-auth"}}
	for n := range commands {
		if !slices.ContainsFunc(invocations, func(args []string) bool { return args[0] == n }) {
			t.Errorf("vagt %s is not in the reference: add it to invocations and a section to docs/configuration.md", n)
		}
	}
	sections := map[string]string{}
	for _, args := range invocations {
		var usage bytes.Buffer
		err := commands.Run(context.Background(), "vagt", append(slices.Clone(args), "-h"), func(string) string { return "" }, &usage, &usage)
		if err != nil && err != flag.ErrHelp {
			t.Fatalf("vagt %s -h: %v", strings.Join(args, " "), err)
		}
		sections["vagt "+strings.Join(args, " ")] = subcmd.FlagReference(withoutHost(usage.String()))
	}
	stale, err := subcmd.SyncDoc("../../docs/configuration.md", sections, *update)
	if err != nil {
		t.Fatal(err)
	}
	if stale {
		t.Error("docs/configuration.md does not list the flags as the binary has them; run: go test ./cmd/vagt -run TestConfigurationReference -update")
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
