package subcmd

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
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
	if err := set.Run(context.Background(), "t", []string{"nope"}, env, &out, &errOut); err == nil || !strings.Contains(err.Error(), "run 't -h'") {
		t.Errorf("unknown subcommand: %v", err)
	}
	out.Reset()
	if err := set.Run(context.Background(), "t", []string{"-h"}, env, &out, &errOut); err != nil || !strings.Contains(out.String(), "repeat the arguments") || !strings.Contains(out.String(), "version") {
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

// TestParseLikeTheGoTools: -h prints the flags to stdout and is no failure; a bad flag and a
// stray argument are one line with a hint and a usage error (exit 2), not the whole usage;
// no subcommand is a usage error with the list on stderr.
func TestParseLikeTheGoTools(t *testing.T) {
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("vagt api", flag.ContinueOnError)
		fs.String("db", "var/vagt.db", "SQLite file")
		return fs
	}
	env := func(string) string { return "" }
	var out bytes.Buffer
	if err := Parse(newFS(), []string{"-h"}, env, &out); !errors.Is(err, ErrHelp) || !strings.Contains(out.String(), "-db") {
		t.Errorf("-h: %v, stdout %q", err, out.String())
	}
	for _, args := range [][]string{{"--nope"}, {"stray"}, {"--db", "x", "stray"}} {
		out.Reset()
		err := Parse(newFS(), args, env, &out)
		if err == nil || !errors.As(err, new(usageError)) || strings.Count(err.Error(), "\n") != 0 ||
			!strings.Contains(err.Error(), "run 'vagt api -h'") || out.Len() != 0 {
			t.Errorf("%q: %v (usage error %v), stdout %q", args, err, errors.As(err, new(usageError)), out.String())
		}
	}
	var stdout, stderr bytes.Buffer
	set := Set{"api": {"serve", nil}}
	if err := set.Run(context.Background(), "vagt", nil, env, &stdout, &stderr); !errors.As(err, new(usageError)) ||
		!strings.Contains(stderr.String(), "serve") || stdout.Len() != 0 {
		t.Errorf("no subcommand: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
	stderr.Reset()
	if err := set.Run(context.Background(), "vagt", []string{"nope"}, env, &stdout, &stderr); !errors.As(err, new(usageError)) || stderr.Len() != 0 {
		t.Errorf("unknown subcommand: %v, stderr %q (one line, not the usage)", err, stderr.String())
	}
}

// TestGroupLikeTheGoTools: a subcommand made of subcommands (vagt token create, ...) answers
// as the binary does: -h lists them on stdout and is no failure; none lists them on stderr
// and is a usage error (exit 2); an unknown one is one line with a hint, nothing else.
func TestGroupLikeTheGoTools(t *testing.T) {
	var ran []string
	set := Set{"token": Group("vagt token", "API bearer tokens", Set{
		"create": {"make a token", func(_ context.Context, args []string, _ func(string) string, _, _ io.Writer) error {
			ran = append(ran, args...)
			return nil
		}},
	})}
	env := func(string) string { return "" }
	run := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := set.Run(context.Background(), "vagt", args, env, &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	if _, _, err := run("token", "create", "--x", "1"); err != nil || strings.Join(ran, ",") != "--x,1" {
		t.Errorf("vagt token create --x 1: %v, ran with %q", err, ran)
	}
	for _, h := range []string{"-h", "--help", "help"} {
		if stdout, stderr, err := run("token", h); !errors.Is(err, ErrHelp) && err != nil ||
			!strings.Contains(stdout, "make a token") || !strings.Contains(stdout, "vagt token <subcommand>") || stderr != "" {
			t.Errorf("vagt token %s: %v, stdout %q, stderr %q", h, err, stdout, stderr)
		}
	}
	if stdout, stderr, err := run("token"); !errors.As(err, new(usageError)) || stdout != "" || !strings.Contains(stderr, "make a token") {
		t.Errorf("vagt token: %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	for _, args := range [][]string{{"token", "nope"}, {"token", "--nope"}} {
		stdout, stderr, err := run(args...)
		if !errors.As(err, new(usageError)) || stdout != "" || stderr != "" || strings.Contains(err.Error(), "\n") ||
			!strings.Contains(err.Error(), "run 'vagt token -h'") {
			t.Errorf("vagt %q: %v, stdout %q, stderr %q (one line with a hint, not the usage)", args, err, stdout, stderr)
		}
	}
	if stdout, _, err := run("token", "version"); err == nil || stdout != "" {
		t.Errorf("vagt token version: %v, stdout %q (version is the binary's, not a group's)", err, stdout)
	}
}

// TestStoppedIsQuiet: Ctrl-C (the signal context ending) while a command starts up makes
// the command return the context's error, wrapped; that is a stop asked for, not a failure
// to print. The same error without the signal, or another error after it, is a failure.
func TestStoppedIsQuiet(t *testing.T) {
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	interrupted := fmt.Errorf("demo: InfluxDB: localstack: influxd start interrupted: %w", context.Canceled)
	setup := fmt.Errorf("ingest: %w", errors.Join(errors.New("influx setup: connection refused"), context.Canceled))
	for _, err := range []error{interrupted, setup, nil} {
		if got := Stopped(stopped, err); got != nil {
			t.Errorf("after the signal, %v: %v, want nil", err, got)
		}
	}
	if got := Stopped(context.Background(), interrupted); got != interrupted {
		t.Errorf("without a signal, %v: %v, want it kept", interrupted, got)
	}
	other := errors.New("listen tcp 127.0.0.1:8080: address already in use")
	if got := Stopped(stopped, other); got != other {
		t.Errorf("after the signal, %v: %v, want it kept", other, got)
	}
}

// TestUsageAligned: the list of subcommands keeps one column for the summaries, also for a
// name longer than most (broker-auth).
func TestUsageAligned(t *testing.T) {
	var out bytes.Buffer
	set := Set{"api": {"serve the api", nil}, "broker-auth": {"authorize the clients", nil}}
	if err := set.Run(context.Background(), "vagt", []string{"-h"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	col := -1
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(line, "  ") {
			continue
		}
		fields := strings.Fields(line)
		c := strings.Index(line, fields[1])
		if col >= 0 && c != col {
			t.Errorf("summary at column %d, want %d: %q\n%s", c, col, line, out.String())
		}
		col = c
	}
}
