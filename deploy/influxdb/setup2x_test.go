package influxsetup_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// influxStub stands in for the influx 2.x CLI, which (like a 2.x server) the test machines
// do not have. It accepts only the flags the CLI documents for each command the script
// uses (influx setup, bucket list, bucket create, auth create), logs each call, and answers
// as the CLI does with --json.
const influxStub = `#!/usr/bin/env bash
set -euo pipefail
cmd="$1 ${2:-}"
case "$cmd" in
"setup "*) cmd=setup; shift ;;
"bucket list" | "bucket create" | "auth create") shift 2 ;;
*) echo "stub: unknown command $*" >&2; exit 2 ;;
esac
declare -A allowed=(
	[setup]="--host --force --token --username --password --org --bucket --retention"
	["bucket list"]="--host --token --org --name --json"
	["bucket create"]="--host --token --org --name --retention --json"
	["auth create"]="--host --token --org --write-bucket --read-bucket --description --json"
)
args=("$@")
for a in "${args[@]}"; do
	if [[ "$a" == --* ]] && [[ " ${allowed[$cmd]} " != *" $a "* ]]; then
		echo "stub: influx $cmd has no flag $a" >&2; exit 2
	fi
done
echo "$cmd|${args[*]}|token=${INFLUX_TOKEN:-}" >>"$STUB_LOG"
case "$cmd" in
"bucket list") echo '[{"id":"0a1b2c3d4e5f6789","name":"vagt","retentionRules":[]}]' ;;
"auth create")
	if [[ " ${args[*]} " == *" vagt ingest"* ]]; then echo '{"id":"1","token":"write-token-for-ingest"}'
	else echo '{"id":"2","token":"token-for-api"}'; fi ;;
esac
`

func TestSetup2xAgainstTheDocumentedCLI(t *testing.T) {
	for _, tool := range []string{"jq", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(stacktest.RequireEnv) == "1" {
				t.Fatalf("%s is not installed (make tools) and %s=1", tool, stacktest.RequireEnv)
			}
			t.Skipf("%s is not installed (make tools); setup-2x.sh needs it", tool)
		}
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "influx"), []byte(influxStub), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		fresh bool
		env   []string
		want  []string // lines of the stub's log, in order, as prefixes
	}{
		{"new server", true, []string{"INFLUX_ADMIN_PASSWORD=a long admin password"}, []string{
			"setup|--host URL --force --token ",
			"bucket list|--host URL --org vagt --name vagt --json|token=",
			"auth create|--host URL --org vagt --write-bucket 0a1b2c3d4e5f6789 --description vagt ingest: write vagt --json",
			"auth create|--host URL --org vagt --read-bucket 0a1b2c3d4e5f6789 --write-bucket 0a1b2c3d4e5f6789 --description vagt api: read and delete vagt --json",
		}},
		{"set up already", false, []string{"INFLUX_TOKEN=operator-token"}, []string{
			"bucket list|--host URL --token operator-token --org vagt --name vagt --json|token=operator-token",
			"bucket list|--host URL --org vagt --name vagt --json|token=operator-token",
			"auth create|--host URL --org vagt --write-bucket 0a1b2c3d4e5f6789",
			"auth create|--host URL --org vagt --read-bucket 0a1b2c3d4e5f6789 --write-bucket 0a1b2c3d4e5f6789",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/v2/setup" {
					http.NotFound(w, r)
					return
				}
				fmt.Fprintf(w, `{"allowed": %t}`, c.fresh)
			}))
			defer srv.Close()
			dir := t.TempDir()
			log := filepath.Join(dir, "calls")
			script, err := filepath.Abs("setup-2x.sh")
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", script)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STUB_LOG="+log,
				"INFLUX_HOST="+srv.URL, "INFLUX_TOKEN=")
			cmd.Env = append(cmd.Env, c.env...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("setup-2x.sh: %v\n%s", err, stderr.String())
			}
			raw, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			calls := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(raw), srv.URL, "URL")), "\n")
			if len(calls) != len(c.want) {
				t.Fatalf("influx was called %d times, want %d:\n%s", len(calls), len(c.want), strings.Join(calls, "\n"))
			}
			for i, want := range c.want {
				if !strings.HasPrefix(calls[i], want) {
					t.Errorf("call %d:\n got %s\nwant %s...", i+1, calls[i], want)
				}
			}
			for _, want := range []string{"VAGT_INFLUX_TOKEN=write-token-for-ingest", "VAGT_INFLUX_TOKEN=token-for-api", "VAGT_INFLUX_BUCKET=vagt"} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %s:\n%s", want, stdout.String())
				}
			}
			if c.fresh {
				token, err := os.ReadFile(filepath.Join(dir, "influx-operator.token"))
				if err != nil || len(strings.TrimSpace(string(token))) < 32 {
					t.Fatalf("operator token file: %q, %v", token, err)
				}
				if !strings.Contains(calls[0], "--token "+strings.TrimSpace(string(token))) {
					t.Errorf("setup did not get the operator token it wrote: %s", calls[0])
				}
				if fi, _ := os.Stat(filepath.Join(dir, "influx-operator.token")); fi.Mode().Perm() != 0o600 {
					t.Errorf("operator token file mode %v, want 0600", fi.Mode().Perm())
				}
			}
		})
	}
}
