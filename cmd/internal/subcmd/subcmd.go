// Package subcmd dispatches a binary's subcommands (vagt ingest, vagt-sim load, ...), so
// each main stays a signal context and a table, and each subcommand a function that tests
// can call with their own arguments, environment and writers.
package subcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/vagt-dk/vagt"
)

// usageError is a command line that cannot run: no or an unknown subcommand, a bad flag, a
// stray argument. Main exits 2 for it, as the Go tools do.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// Command is one subcommand. Run returns when ctx is done (after a clean shutdown) or when
// it fails; it never calls os.Exit.
type Command struct {
	Summary string
	Run     func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

// Set is a binary's subcommands by name.
type Set map[string]Command

// Main runs the subcommand that os.Args names, stopping it with SIGINT or SIGTERM, and
// exits 1 when it fails.
func Main(name string, cmds Set) {
	MainFunc(name, func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		return cmds.Run(ctx, name, args, getenv, stdout, stderr)
	})
}

// MainFunc is Main for a binary without subcommands (vagt-demo): run gets os.Args[1:] and
// a context that SIGINT or SIGTERM ends.
func MainFunc(name string, run func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Stopped(ctx, run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
	stop()
	Exit(name, err)
}

// Stopped is err unless the signal ended ctx and err only says so (it wraps
// context.Canceled): Ctrl-C while a command still starts up (waiting for InfluxDB, starting
// influxd) is a stop asked for, to end quietly as a stop after the start does.
func Stopped(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Exit ends a binary the way the Go tools do: nothing for success or help, exit 2 with the
// one-line error for a command line that cannot run, exit 1 for a failure.
func Exit(name string, err error) {
	switch {
	case errors.Is(err, ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Run runs the subcommand args[0] with the rest of args. "version" is always there.
func (s Set) Run(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return s.run(ctx, name, true, args, getenv, stdout, stderr)
}

// Group is a subcommand made of subcommands (vagt token create, list, revoke): name is its
// whole name ("vagt token"). It answers -h, no subcommand and an unknown one as the binary
// does.
func Group(name, summary string, cmds Set) Command {
	return Command{Summary: summary, Run: func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		return cmds.run(ctx, name, false, args, getenv, stdout, stderr)
	}}
}

func (s Set) run(ctx context.Context, name string, version bool, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		// A subcommand is required: the usage goes to stderr, and the exit is not 0.
		if err := s.usage(name, version, stderr); err != nil {
			return err
		}
		return usageError{errors.New("no subcommand")}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		return s.usage(name, version, stdout)
	}
	if version && args[0] == "version" {
		_, err := fmt.Fprintln(stdout, name, vagt.Version)
		return err
	}
	c, ok := s[args[0]]
	if !ok {
		return usageError{fmt.Errorf("unknown subcommand %q (run '%s -h' for the list)", args[0], name)}
	}
	return c.Run(ctx, args[1:], getenv, stdout, stderr)
}

func (s Set) usage(name string, version bool, w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s <subcommand> [flags]\n\nsubcommands:\n", name)
	var names []string
	if version {
		names = append(names, "version")
	}
	width := 10
	for n := range s {
		names = append(names, n)
		width = max(width, len(n))
	}
	slices.Sort(names)
	for _, n := range names {
		summary := "print the version"
		if c, ok := s[n]; ok {
			summary = c.Summary
		}
		fmt.Fprintf(&b, "  %-*s %s\n", width, n, summary)
	}
	fmt.Fprintf(&b, "\nRun '%s <subcommand> -h' for its flags; every flag can also be set as VAGT_<FLAG>.\n", name)
	_, err := io.WriteString(w, b.String())
	return err
}
