// Package systemdunits_test checks the systemd units in this directory: that each carries
// the hardening the deployment promises, that the example environment files set only
// variables the programs read, and — where systemd-analyze is installed — that systemd
// accepts the units (systemd-analyze verify), rates their exposure as OK
// (systemd-analyze security), and that systemd-sysusers makes the gateway's user from
// vagt-gateway.sysusers (a dry run on an empty root).
//
// systemd-analyze verify wants ExecStart's program to exist. The test copies the units into
// a temporary directory and rewrites the program path /usr/local/bin/<name> to a symlink
// <tmp>/bin/<name> → /bin/true; nothing else in the unit changes.
package systemdunits_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/deploy/internal/configref"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

var units = []string{"vagt-ingest.service", "vagt-api.service", "vagt-gateway.service"}

// unit is a unit file's [Service] and [Unit] settings; a key set more than once keeps
// every value in order.
type unit map[string][]string

func readUnit(t *testing.T, name string) unit {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not a setting: %q", name, line)
			}
			u[section+"."+k] = append(u[section+"."+k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// last is the value that counts for a key set once or more.
func (u unit) last(key string) string {
	v := u[key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func TestUnitsAreHardened(t *testing.T) {
	want := map[string]string{
		"Service.NoNewPrivileges":         "yes",
		"Service.ProtectSystem":           "strict",
		"Service.ProtectHome":             "yes",
		"Service.PrivateTmp":              "yes",
		"Service.CapabilityBoundingSet":   "",
		"Service.AmbientCapabilities":     "",
		"Service.RestrictSUIDSGID":        "yes",
		"Service.SystemCallArchitectures": "native",
		"Service.Restart":                 "always",
		"Service.KillSignal":              "SIGTERM",
		"Unit.StartLimitIntervalSec":      "0",
	}
	for _, name := range units {
		t.Run(name, func(t *testing.T) {
			u := readUnit(t, name)
			for k, v := range want {
				if got, ok := u[k]; !ok || u.last(k) != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if !slices.Contains(u["Service.SystemCallFilter"], "@system-service") {
				t.Errorf("SystemCallFilter = %q, want @system-service among them", u["Service.SystemCallFilter"])
			}
			if u.last("Service.DynamicUser") != "yes" && u.last("Service.User") == "" {
				t.Error("runs as root: neither DynamicUser=yes nor User=")
			}
			if u.last("Service.StateDirectory") == "" {
				t.Error("no StateDirectory=")
			}
			if rs := u.last("Service.RestartSec"); rs == "" || rs == "0" {
				t.Errorf("RestartSec = %q: a failing start would spin", rs)
			}
			env := u.last("Service.EnvironmentFile")
			if !strings.HasPrefix(env, "-/etc/") || !strings.HasSuffix(env, ".env") {
				t.Errorf("EnvironmentFile = %q, want an optional -/etc/.../*.env", env)
			}
			if !strings.HasPrefix(u.last("Service.ExecStart"), "/usr/local/bin/") {
				t.Errorf("ExecStart = %q: the test and the docs expect /usr/local/bin/", u.last("Service.ExecStart"))
			}
		})
	}
	gw := readUnit(t, "vagt-gateway.service")
	if !slices.Contains(gw["Service.SupplementaryGroups"], "dialout") {
		t.Error("vagt-gateway.service: not in dialout, cannot open the serial port")
	}
	if !slices.Contains(gw["Service.DeviceAllow"], "char-ttyUSB rw") || gw.last("Service.PrivateDevices") == "yes" {
		t.Errorf("vagt-gateway.service: DeviceAllow = %q, PrivateDevices = %q: the serial port is not reachable",
			gw["Service.DeviceAllow"], gw.last("Service.PrivateDevices"))
	}
}

// Each example environment file sets only VAGT_* variables that its program reads, each to
// a value of the flag's type, and the unit loads the file under the name the example's
// header gives.
func TestEnvFilesSetOnlyVariablesTheProgramsRead(t *testing.T) {
	for _, c := range []struct{ env, unit, command string }{
		{"ingest.env", "vagt-ingest.service", "vagt ingest"},
		{"api.env", "vagt-api.service", "vagt api"},
		{"gateway.env", "vagt-gateway.service", "vagt-gateway"},
	} {
		t.Run(c.env, func(t *testing.T) {
			known, err := configref.Variables(c.command)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(c.env)
			if err != nil {
				t.Fatal(err)
			}
			set := regexp.MustCompile(`(?m)^#?(VAGT_[A-Z0-9_]+)=(.*)$`).FindAllStringSubmatch(string(data), -1)
			if len(set) == 0 {
				t.Fatal("sets nothing")
			}
			for _, m := range set {
				kind, ok := known[m[1]]
				if !ok {
					t.Errorf("%s is not read by %s (docs/configuration.md)", m[1], c.command)
				} else if err := configref.Check(kind, m[2]); m[2] != "" && err != nil {
					t.Errorf("%s=%s: not a valid %s: %v", m[1], m[2], kind, err)
				}
			}
			installed := regexp.MustCompile(`^# (/etc/\S+\.env)`).FindStringSubmatch(string(data))
			if installed == nil {
				t.Fatal("the first line does not say where the file goes")
			}
			if got := readUnit(t, c.unit).last("Service.EnvironmentFile"); got != "-"+installed[1] {
				t.Errorf("%s loads %q, the example says it goes to %s", c.unit, got, installed[1])
			}
		})
	}
}

// ExecStart runs a subcommand and flags the programs have.
func TestExecStartMatchesThePrograms(t *testing.T) {
	for _, c := range []struct{ unit, source string }{
		{"vagt-ingest.service", "../../cmd/vagt"},
		{"vagt-api.service", "../../cmd/vagt"},
		{"vagt-gateway.service", "../../cmd/vagt-gateway"},
	} {
		t.Run(c.unit, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(c.source, "*.go"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no Go files in %s (%v)", c.source, err)
			}
			var src strings.Builder
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				src.Write(data)
			}
			args := strings.Fields(readUnit(t, c.unit).last("Service.ExecStart"))
			if len(args) == 0 || filepath.Base(args[0]) != filepath.Base(c.source) {
				t.Fatalf("ExecStart %q does not run %s", args, filepath.Base(c.source))
			}
			for _, a := range args[1:] {
				switch {
				case strings.HasPrefix(a, "-"):
					name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
					if !strings.Contains(src.String(), `"`+name+`"`) {
						t.Errorf("ExecStart flag %s: no flag %q in %s", a, name, c.source)
					}
				case strings.HasPrefix(a, "/"): // a flag's value
				default:
					if !strings.Contains(src.String(), `commands["`+a+`"]`) {
						t.Errorf("ExecStart subcommand %q is not registered in %s", a, c.source)
					}
				}
			}
		})
	}
}

func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatalf("systemd-analyze is not installed (make tools, or apt-get install systemd) and %s=1", stacktest.RequireEnv)
		}
		t.Skipf("systemd-analyze is not installed (make tools, or apt-get install systemd); the units were not verified (set %s=1 to fail instead)", stacktest.RequireEnv)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, name := range units {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		exe := regexp.MustCompile(`(?m)^ExecStart=/usr/local/bin/(\S+)`).FindStringSubmatch(string(data))
		if exe == nil {
			t.Fatalf("%s: no ExecStart=/usr/local/bin/...", name)
		}
		if err := os.Symlink("/bin/true", filepath.Join(bin, exe[1])); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
		rewritten := strings.ReplaceAll(string(data), "ExecStart=/usr/local/bin/", "ExecStart="+bin+"/")
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(rewritten), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}

	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	// verify exits 0 on unknown keys and misplaced settings and only says so: any line
	// about our units is a failure. Lines about other units it loaded (dependencies on
	// this machine) are logged, not ours to judge.
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		if strings.Contains(line, dir) || slices.ContainsFunc(units, func(u string) bool { return strings.Contains(line, u) }) {
			t.Errorf("systemd-analyze verify: %s", line)
		} else {
			t.Logf("systemd-analyze verify (not about our units): %s", line)
		}
	}
	if err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	// Exposure 2.0 or lower is what systemd-analyze calls "OK"; --offline needs systemd
	// 250 or later.
	for _, path := range paths {
		out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
		if err != nil && strings.Contains(string(out), "unrecognized option") {
			t.Skipf("this systemd-analyze cannot rate unit files offline: %s", out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err != nil {
			t.Errorf("%s: exposure above 2.0 (%v): %s", filepath.Base(path), err, lines[len(lines)-1])
		} else {
			t.Logf("%s: %s", filepath.Base(path), lines[len(lines)-1])
		}
	}
}

// vagt-gateway.sysusers makes the user the gateway's unit runs as, in dialout.
func TestSysusersMakesTheGatewayUser(t *testing.T) {
	sysusers, err := exec.LookPath("systemd-sysusers")
	if err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatalf("systemd-sysusers is not installed (make tools) and %s=1", stacktest.RequireEnv)
		}
		t.Skip("systemd-sysusers is not installed (make tools, or apt-get install systemd)")
	}
	conf, err := filepath.Abs("vagt-gateway.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	// An empty root: nothing of this machine's users is read or written.
	out, err := exec.Command(sysusers, "--dry-run", "--root="+t.TempDir(), conf).CombinedOutput()
	if err != nil || strings.Contains(string(out), "ignoring") {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	u := readUnit(t, "vagt-gateway.service")
	if want := "Creating user '" + u.last("Service.User") + "'"; !strings.Contains(string(out), want) {
		t.Errorf("no %q in:\n%s", want, out)
	}
	// The m line: the user joins dialout (the unit also asks for it).
	data, err := os.ReadFile("vagt-gateway.sysusers")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^m vagt-gateway dialout$`).Match(data) {
		t.Error("vagt-gateway.sysusers does not put the user in dialout")
	}
}
