// Package influxsetup_test runs setup-18.sh against a real InfluxDB 1.8 (test/localstack,
// authentication off) and checks what it made: the database, the retention of its default
// policy, and the users with their grants — and that a second run, with a changed
// password, succeeds too. auth_test.go runs it against an influxd with authentication on;
// setup2x_test.go runs setup-2x.sh against a stub of the influx 2.x CLI (no 2.x here).
package influxsetup_test

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

func TestSetup18(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatalf("curl is not installed (make tools) and %s=1", stacktest.RequireEnv)
		}
		t.Skipf("curl is not installed (make tools); setup-18.sh needs it (set %s=1 to fail instead)", stacktest.RequireEnv)
	}
	db := stacktest.InfluxDB(t, localstack.InfluxDBOptions{Database: "unused", DisableFlux: true})
	run := func(ingestPassword string) {
		t.Helper()
		cmd := exec.Command("bash", "setup-18.sh")
		cmd.Env = append(os.Environ(), "INFLUX_URL="+db.URL(), "VAGT_INFLUX_DB=vagt_prod",
			"VAGT_RETENTION=52w", "INFLUX_ADMIN_PASSWORD=admin's pw", "INFLUX_INGEST_PASSWORD="+ingestPassword,
			"INFLUX_API_PASSWORD=api-pw")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("setup-18.sh: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "VAGT_INFLUX_BUCKET=vagt_prod/autogen") {
			t.Errorf("output does not name the bucket:\n%s", out)
		}
	}
	run("ingest-pw")
	run("a new ingest pw") // idempotent, and a changed password is set

	rows := func(q string) [][]any {
		t.Helper()
		body, err := db.Query(t.Context(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var res struct {
			Results []struct {
				Series []struct{ Values [][]any }
				Error  string
			}
		}
		if err := json.Unmarshal(body, &res); err != nil || len(res.Results) != 1 || res.Results[0].Error != "" {
			t.Fatalf("%s: %v %s", q, err, body)
		}
		var all [][]any
		for _, s := range res.Results[0].Series {
			all = append(all, s.Values...)
		}
		return all
	}
	// name, duration, shardGroupDuration, replicaN, default
	var autogen []any
	for _, rp := range rows(`SHOW RETENTION POLICIES ON "vagt_prod"`) {
		if rp[0] == "autogen" {
			autogen = rp
		}
	}
	if autogen == nil || autogen[1] != "8736h0m0s" || autogen[2] != "168h0m0s" || autogen[4] != true {
		t.Errorf("autogen = %v, want 52w (8736h), shards of 1w, default", autogen)
	}
	admins := map[string]bool{}
	for _, u := range rows("SHOW USERS") {
		admins[u[0].(string)] = u[1].(bool)
	}
	if want := map[string]bool{"admin": true, "vagt_ingest": false, "vagt_api": false}; !maps.Equal(admins, want) {
		t.Errorf("users (name: admin) = %v, want %v", admins, want)
	}
	for user, want := range map[string]string{"vagt_ingest": "WRITE", "vagt_api": "ALL PRIVILEGES"} {
		got := rows(`SHOW GRANTS FOR "` + user + `"`)
		if len(got) != 1 || got[0][0] != "vagt_prod" || got[0][1] != want {
			t.Errorf("grants of %s = %v, want vagt_prod %s", user, got, want)
		}
	}
}
