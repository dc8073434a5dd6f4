package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

// TestCommandGroupsLikeTheGoTools: the commands made of subcommands (vagt token create, ...)
// list them for -h on stdout without failing, and refuse none or an unknown one with the
// list or one line, never by running something.
func TestCommandGroupsLikeTheGoTools(t *testing.T) {
	env := func(string) string { return "" }
	for group, sub := range map[string]string{"alarms": "replay", "audit": "verify", "registry": "decommission", "token": "revoke"} {
		var stdout, stderr bytes.Buffer
		if err := commands.Run(context.Background(), "vagt", []string{group, "-h"}, env, &stdout, &stderr); err != nil && !errors.Is(err, subcmd.ErrHelp) ||
			!strings.Contains(stdout.String(), "vagt "+group+" <subcommand>") || !strings.Contains(stdout.String(), sub) || stderr.Len() != 0 {
			t.Errorf("vagt %s -h: %v, stdout %q, stderr %q", group, err, stdout.String(), stderr.String())
		}
		stdout.Reset()
		stderr.Reset()
		if err := commands.Run(context.Background(), "vagt", []string{group}, env, &stdout, &stderr); err == nil || stdout.Len() != 0 || !strings.Contains(stderr.String(), sub) {
			t.Errorf("vagt %s: %v, stdout %q, stderr %q", group, err, stdout.String(), stderr.String())
		}
		stderr.Reset()
		err := commands.Run(context.Background(), "vagt", []string{group, "--db"}, env, &stdout, &stderr)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "vagt "+group+" -h") || stderr.Len() != 0 {
			t.Errorf("vagt %s --db: %v, stderr %q (one line with a hint)", group, err, stderr.String())
		}
	}
}
