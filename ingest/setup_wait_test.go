package ingest_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/ingest"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestHealthWhileInfluxUnreachable: while ingest waits for an unreachable InfluxDB to
// set it up, /healthz answers and /readyz says what it waits for; the error at shutdown
// says "influx setup" once.
func TestHealthWhileInfluxUnreachable(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	influxURL := "http://" + dead.Addr().String()
	dead.Close() // nothing listens there now
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("gw-1 "+ingest.HashToken("s3cret")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		cfg := ingest.Config{InfluxURL: influxURL, InfluxBucket: "vagt/autogen", Setup: true, TokenFile: tokens, HTTPAddr: "127.0.0.1:0"}
		done <- ingest.Run(ctx, cfg, ingest.Deps{Logger: testLogger(t), Listener: ln})
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		select {
		case err := <-done:
			t.Fatalf("Run returned while InfluxDB was unreachable: %v", err)
		default:
		}
		resp, err := client.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	var code int
	var body string
	stacktest.WaitFor(t, "/readyz to report the failed InfluxDB set-up", patience, func() bool {
		code, body = get("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "influx setup")
	})
	if !strings.Contains(body, "InfluxDB set-up not done") {
		t.Errorf("/readyz: %q, want it to say the InfluxDB set-up is not done", body)
	}
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while InfluxDB is unreachable: %d %q, want 200", code, body)
	}
	if code, _ := get("/metrics"); code != http.StatusOK {
		t.Errorf("/metrics while InfluxDB is unreachable: %d, want 200", code)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run returned nil after a set-up that never succeeded")
		}
		if n := strings.Count(err.Error(), "influx setup"); n != 1 {
			t.Errorf("Run: %q says \"influx setup\" %d times, want once", err, n)
		}
	case <-time.After(patience):
		t.Fatal("Run did not return after cancel")
	}
}
