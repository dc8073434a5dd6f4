package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/api/apitest"
	"github.com/vagt-dk/vagt/api/server"
)

// TestNotReadyWithoutAlarmLane (issue 15 defect 6): an api started without a broker can
// never receive an alarm, so /readyz says not ready and why; --no-alarm-lane (a replica
// that only serves) makes it ready; a broker and --no-alarm-lane together are refused.
func TestNotReadyWithoutAlarmLane(t *testing.T) {
	readyz := func(srv *server.Server) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + srv.Addr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Error struct{ Message string } }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error.Message
	}
	// Not apitest.Start: it says "no lane on purpose" for the HTTP tests.
	srv, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db")}, server.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if code, msg := readyz(srv); code != http.StatusServiceUnavailable || !strings.Contains(msg, "no alarm lane") || !strings.Contains(msg, "--no-alarm-lane") {
		t.Fatalf("without a broker: %d %q", code, msg)
	}
	srv = apitest.Start(t, server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"), NoAlarmLane: true}, server.Deps{})
	if code, msg := readyz(srv); code != http.StatusOK {
		t.Fatalf("without a broker, on purpose: %d %q", code, msg)
	}
	if _, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "vagt.db"),
		Broker: "tcp://127.0.0.1:1", ClientID: "x", NoAlarmLane: true}, server.Deps{}); err == nil {
		t.Fatal("a broker and no alarm lane were accepted")
	}
}
