// Package configref reads the configuration reference, docs/configuration.md, for the
// deployment tests. Its tables are generated from the binaries' own flag sets and kept
// true by TestConfigurationReference in cmd/vagt and cmd/vagt-gateway, so the systemd
// environment files and the compose file can be checked against what the programs
// really read, without parsing Go source.
package configref

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vagt-dk/vagt/test/localstack"
)

// row is one line of a generated table: | `--flag` | `VAGT_FLAG` | type | default | meaning |
var row = regexp.MustCompile("^\\| `--[a-z0-9-]+` \\| `(VAGT_[A-Z0-9_]+)` \\| ([a-z0-9]+) \\|")

// Variables returns the VAGT_* variables a command reads, each with its flag's type as
// the flag package prints it (string, bool, int, uint, int64, float, duration). command
// names a generated section: "vagt api", "vagt ingest", "vagt-gateway", ...
func Variables(command string) (map[string]string, error) {
	root := localstack.RepoRoot()
	if root == "" {
		return nil, fmt.Errorf("configref: not inside the repository")
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		return nil, fmt.Errorf("configref: %w", err)
	}
	begin, end := "<!-- begin "+command+" -->", "<!-- end "+command+" -->"
	_, rest, ok := strings.Cut(string(doc), begin)
	section, _, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		return nil, fmt.Errorf("configref: docs/configuration.md has no section %q", command)
	}
	out := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			out[m[1]] = m[2]
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("configref: section %q of docs/configuration.md lists no variables", command)
	}
	return out, nil
}

// Check reports whether value is a valid value for a flag of the type.
func Check(kind, value string) error {
	var err error
	switch kind {
	case "bool":
		_, err = strconv.ParseBool(value)
	case "int", "int64":
		_, err = strconv.ParseInt(value, 10, 64)
	case "uint", "uint64":
		_, err = strconv.ParseUint(value, 10, 64)
	case "float":
		_, err = strconv.ParseFloat(value, 64)
	case "duration":
		_, err = time.ParseDuration(value)
	}
	return err
}
