package server_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/server"
)

// TestStatisticsWithInfluxDBDown: with InfluxDB unreachable the API starts and serves
// alerts and the registry; statistics that need telemetry answer 503 with a JSON error.
func TestStatisticsWithInfluxDBDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	srv := apitest.Start(t, server.Config{Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"),
		Influx: influx.Config{URL: dead, Bucket: "vagt/autogen"}}, server.Deps{})
	tok, hash, _ := auth.NewToken()
	if _, err := srv.Store.IssueToken(t.Context(), api.Principal{Name: "mads", Role: api.RoleManager, Municipality: 766}, hash, nil, t0); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"/api/v1/alerts":         200,
		"/api/v1/municipalities": 200,
		"/api/v1/stats/alerts?from=2026-01-01&to=2026-02-01":   200, // from the SQL store alone
		"/api/v1/stats/adoption?from=2026-01-01&to=2026-02-01": 503,
		"/api/v1/stats/benefits?from=2026-01-01&to=2026-02-01": 503,
	} {
		req, _ := http.NewRequest("GET", "http://"+srv.Addr()+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error struct{ Code string } }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 503 && body.Error.Code != "unavailable") {
			t.Errorf("%s: %d %q, want %d", path, resp.StatusCode, body.Error.Code, want)
		}
	}
	// The daily roll-up's runs fail, are counted, and the api goes on serving.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + srv.MetricsAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "\nvagt_rollup_failed_runs_total 1\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed roll-up run counted:\n%s", b)
		}
	}
	resp, err := http.Get("http://" + srv.Addr() + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("readyz with the roll-up failing: %v %v", err, resp)
	}
	if resp != nil {
		resp.Body.Close()
	}
}
