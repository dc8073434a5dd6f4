package subcmd

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var got []string
	set := Set{"echo": {"repeat the arguments", func(_ context.Context, args []string, getenv func(string) string, stdout, _ io.Writer) error {
		got = append(args, getenv("VAGT_X"))
		return nil
	}}}
	env := func(k string) string { return map[string]string{"VAGT_X": "x"}[k] }
	var out, errOut bytes.Buffer
	if err := set.Run(context.Background(), "t", []string{"echo", "a", "b"}, env, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a,b,x" {
		t.Errorf("args %v", got)
	}
	if err := set.Run(context.Background(), "t", []string{"nope"}, env, &out, &errOut); err == nil || !strings.Contains(errOut.String(), "echo") {
		t.Errorf("unknown subcommand: %v, usage %q", err, errOut.String())
	}
	out.Reset()
	if err := set.Run(context.Background(), "t", nil, env, &out, &errOut); err != nil || !strings.Contains(out.String(), "repeat the arguments") || !strings.Contains(out.String(), "version") {
		t.Errorf("usage: %v %q", err, out.String())
	}
	out.Reset()
	if err := set.Run(context.Background(), "t", []string{"version"}, env, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "t ") {
		t.Errorf("version: %v %q", err, out.String())
	}
}
