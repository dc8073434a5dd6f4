package subcmd

import (
	"bytes"
	"context"
	"flag"
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

func TestFlagsFromEnv(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	a := fs.String("broker-url", "", "")
	b := fs.Int("homes", 1, "")
	c := fs.String("dir", "var", "")
	if err := fs.Parse([]string{"-dir", "given"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"VAGT_BROKER_URL": "tcp://x:1883", "VAGT_HOMES": "7", "VAGT_DIR": "from-env"}
	if err := FlagsFromEnv(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *a != "tcp://x:1883" || *b != 7 || *c != "given" {
		t.Errorf("broker %q homes %d dir %q: the command line wins, the environment fills the rest", *a, *b, *c)
	}
	env["VAGT_HOMES"] = "many"
	fs2 := flag.NewFlagSet("t", flag.ContinueOnError)
	fs2.Int("homes", 1, "")
	if err := FlagsFromEnv(fs2, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "VAGT_HOMES") {
		t.Errorf("bad value: %v", err)
	}
}

func TestFlagReference(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("broker", "", "MQTT broker URL; empty: no lane")
	fs.Int("homes", 20, "simulated homes")
	fs.Bool("setup", true, "create the bucket | database")
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	fs.PrintDefaults()
	got := FlagReference(usage.String())
	for _, want := range []string{
		"| `--broker` | `VAGT_BROKER` | string |  | MQTT broker URL; empty: no lane |",
		"| `--homes` | `VAGT_HOMES` | int | `20` | simulated homes |",
		"| `--setup` | `VAGT_SETUP` | bool | `true` | create the bucket \\| database |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing row %q in\n%s", want, got)
		}
	}
}
