package influxsetup_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// The production path of setup-18.sh: a server with authentication on and no users yet.
// The local stack's InfluxDB runs with authentication off, so this test starts its own
// influxd (the same 1.8 binary) with auth-enabled = true, runs the script twice (the
// second time with a changed password) and checks what each user may do.
func TestSetup18WithAuthentication(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatalf("curl is not installed (make tools) and %s=1", stacktest.RequireEnv)
		}
		t.Skip("curl is not installed (make tools)")
	}
	base := startInfluxWithAuth(t)

	run := func(ingestPassword string) {
		t.Helper()
		cmd := exec.Command("bash", "setup-18.sh")
		cmd.Env = append(os.Environ(), "INFLUX_URL="+base, "INFLUX_ADMIN_PASSWORD=it's the admin",
			"INFLUX_INGEST_PASSWORD="+ingestPassword, "INFLUX_API_PASSWORD=api-pw")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("setup-18.sh: %v\n%s", err, out)
		}
	}
	run("first-ingest-pw")
	run("second-ingest-pw")
	for _, q := range []string{"CREATE USER reader WITH PASSWORD 'reader-pw'", "GRANT READ ON vagt TO reader"} {
		resp, err := http.PostForm(base+"/query?u=admin&p="+url.QueryEscape("it's the admin"), url.Values{"q": {q}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", q, resp.Status)
		}
	}

	for _, c := range []struct {
		name, user, password, path, body string
		want                             int
		denied                           bool // a /query answer of 200 that carries an authorisation error
	}{
		{"anonymous may not query", "", "", "/query?q=SHOW+DATABASES", "", http.StatusUnauthorized, false},
		{"the admin may", "admin", "it's the admin", "/query?q=SHOW+USERS", "", http.StatusOK, false},
		{"ingest writes", "vagt_ingest", "second-ingest-pw", "/write?db=vagt", "reading value=1", http.StatusNoContent, false},
		{"with its old password it may not", "vagt_ingest", "first-ingest-pw", "/write?db=vagt", "reading value=1", http.StatusUnauthorized, false},
		{"ingest through the 2.x API, token user:password", "", "", "/api/v2/write?bucket=vagt/autogen", "reading value=2", http.StatusNoContent, false},
		{"api reads", "vagt_api", "api-pw", "/query?db=vagt&q=SELECT+count(*)+FROM+reading", "", http.StatusOK, false},
		// Erasure and retention: DELETE through /query, as api/stats does on 1.8.
		{"api deletes", "vagt_api", "api-pw", "/query?db=vagt&q=DELETE+WHERE+%22gw%22+%3D+%27gw-1%27", "", http.StatusOK, false},
		{"ingest may not read", "vagt_ingest", "second-ingest-pw", "/query?db=vagt&q=SELECT+count(*)+FROM+reading", "", http.StatusForbidden, false},
		// Why vagt_api gets ALL and not READ: a reader cannot DELETE.
		{"a reader may not delete", "reader", "reader-pw", "/query?db=vagt&q=DELETE+WHERE+%22gw%22+%3D+%27gw-1%27", "", http.StatusForbidden, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			method := http.MethodGet
			if c.body != "" {
				method = http.MethodPost
			}
			req, err := http.NewRequestWithContext(t.Context(), method, base+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.user != "" {
				req.SetBasicAuth(c.user, c.password)
			}
			if strings.HasPrefix(c.path, "/api/v2/") {
				req.Header.Set("Authorization", "Token vagt_ingest:second-ingest-pw")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.want {
				t.Errorf("%s %s as %q: %s, want %d: %s", method, c.path, c.user, resp.Status, c.want, body)
			}
			if denied := strings.Contains(string(body), `"error"`); resp.StatusCode == http.StatusOK && denied != c.denied {
				t.Errorf("%s %s as %q: %s (want denied: %t)", method, c.path, c.user, body, c.denied)
			}
		})
	}
}

// startInfluxWithAuth starts influxd 1.8 with authentication on, in a temporary directory
// on free ports, and stops it when t ends. It returns the HTTP base URL.
func startInfluxWithAuth(t *testing.T) string {
	t.Helper()
	bin, err := localstack.FindBinary("influxd")
	if err != nil {
		if errors.Is(err, localstack.ErrNotInstalled) && os.Getenv(stacktest.RequireEnv) != "1" {
			t.Skipf("influxd is not installed (make tools): %v", err)
		}
		t.Fatal(err)
	}
	dir := t.TempDir()
	httpPort, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rpcPort, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%d"
  auth-enabled = true
  log-enabled = false
  flux-enabled = false
[monitor]
  store-enabled = false
[logging]
  level = "warn"
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
	path := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd := exec.Command(bin, "run", "-config", path)
	cmd.Stdout, cmd.Stderr = &log, &log
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("influxd log:\n%s", log.String())
		}
	})
	base := (&url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", httpPort)}).String()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/ping", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return base
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("influxd exited during start: %v\n%s", err, log.String())
		case <-ctx.Done():
			t.Fatalf("influxd did not answer /ping: %v", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
