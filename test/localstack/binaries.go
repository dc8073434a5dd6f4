package localstack

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNotInstalled is matched (errors.Is) by every error that says a service's
// binary or system user is missing, so callers can skip instead of fail.
var ErrNotInstalled = errors.New("not installed")

// MissingBinaryError says which program was not found and how to install it.
type MissingBinaryError struct {
	Name   string   // the program, e.g. "influxd"
	Looked []string // where we looked, for the curious
	Hint   string   // a command that installs it
}

func (e *MissingBinaryError) Error() string {
	return fmt.Sprintf("localstack: %s not found (looked in %s); install it with: %s",
		e.Name, strings.Join(e.Looked, ", "), e.Hint)
}

// Is makes errors.Is(err, ErrNotInstalled) true.
func (e *MissingBinaryError) Is(target error) bool { return target == ErrNotInstalled }

// installHints are the commands we tell people to run; `make tools` runs
// deploy/tools.sh, which does all of them on Debian.
var installHints = map[string]string{
	"mosquitto": "make tools (or: apt-get install mosquitto)",
	"influxd": "make tools (or: GOBIN=$REPO/bin go install " +
		"github.com/influxdata/influxdb/cmd/influxd@v1.8.10)",
	"initdb":   "make tools (or: apt-get install postgresql)",
	"postgres": "make tools (or: apt-get install postgresql)",
	"nats-server": "make tools (or: GOBIN=$REPO/bin go install " +
		"github.com/nats-io/nats-server/v2@v2.15.3)",
}

// RepoRoot walks up from the working directory to the directory holding
// go.mod. It returns "" when there is none (an installed `vagt-demo`).
func RepoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// FindBinary looks for a service program in $VAGT_BIN_DIR, in the
// repository's ignored bin/ directory (where `make tools` puts influxd), on
// PATH, and in Debian's usual places, in that order. The repository's bin/
// comes before PATH because it holds the pinned version: Debian's own
// influxdb package, for one, is 1.6.7 and too old for /api/v2/write.
func FindBinary(name string) (string, error) {
	var dirs []string
	if d := os.Getenv("VAGT_BIN_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if root := RepoRoot(); root != "" {
		dirs = append(dirs, filepath.Join(root, "bin"))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	system := []string{"/usr/sbin", "/usr/local/sbin"}
	if name == "initdb" || name == "postgres" || name == "pg_ctl" {
		system = append(system, postgresBinDirs()...)
	}
	for _, d := range system {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p, nil
		}
	}
	dirs = append(append(dirs, "PATH"), system...)
	hint := installHints[name]
	if hint == "" {
		hint = "make tools"
	}
	return "", &MissingBinaryError{Name: name, Looked: dirs, Hint: hint}
}

// postgresBinDirs lists /usr/lib/postgresql/<version>/bin, highest version
// first, because Debian keeps the server programs off PATH.
func postgresBinDirs() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(matches, func(a, b string) int {
		switch va, vb := version(a), version(b); {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	return matches
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
