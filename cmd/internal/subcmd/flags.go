package subcmd

import (
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
