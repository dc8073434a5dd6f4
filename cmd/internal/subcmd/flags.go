package subcmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// FlagsFromEnv sets every flag of fs not given on the command line from VAGT_<FLAG>
// (upper case, '-' as '_'), so containers and systemd units can configure a binary with
// environment variables alone. Call it after fs.Parse.
func FlagsFromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := EnvName(f.Name)
		if v := getenv(name); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	return err
}

// EnvName is the environment variable for a flag: VAGT_<FLAG>.
func EnvName(flagName string) string {
	return "VAGT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Logger returns a text logger at level ("debug", "info", "warn", "error") on w.
func Logger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// ErrHelp is returned by Parse when -h or --help was asked for: the usage went to stdout,
// and Main exits 0, as the Go tools do.
var ErrHelp = flag.ErrHelp

// Parse parses args into fs the way the Go tools do: -h prints the flags to stdout and
// returns ErrHelp; a bad flag or a stray argument is one line and a hint, not the whole
// usage; then every flag not given is filled from its VAGT_<FLAG> variable.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer) error {
	if err := ParseWithArgs(fs, args, getenv, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (run '%s -h' for its flags)", fs.Arg(0), fs.Name())}
	}
	return nil
}

// ParseWithArgs is Parse for a command that takes arguments after its flags (fs.Args); the
// command checks them itself, with Usagef for a wrong count.
func ParseWithArgs(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	hint := fmt.Sprintf("(run '%s -h' for its flags)", fs.Name())
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "usage: %s [flags]\n\nflags (each also VAGT_<FLAG>):\n", fs.Name())
			fs.PrintDefaults()
			return ErrHelp
		}
		return usageError{fmt.Errorf("%w %s", err, hint)}
	}
	return FlagsFromEnv(fs, getenv)
}

// Usagef is a command line that cannot run (Main exits 2).
func Usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }
