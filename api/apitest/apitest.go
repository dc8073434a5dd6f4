// Package apitest is test support for tests that talk to a running vagt api over HTTP.
package apitest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/api/server"
)

// Call does method path (relative to base) with the bearer token, decodes a JSON answer
// into out when out is not nil (failing the test if it is not JSON), and returns the
// status. An empty token sends no Authorization header.
func Call(t testing.TB, base, token, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// Start makes an api server with cfg and deps, runs it until the test ends, and returns
// it; a server that cannot be made fails the test.
func Start(t testing.TB, cfg server.Config, deps server.Deps) *server.Server {
	t.Helper()
	if cfg.Broker == "" {
		cfg.NoAlarmLane = true // a test of the HTTP side: no alarm lane, on purpose
	}
	srv, err := server.New(t.Context(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("api server: %v", err)
		}
	})
	return srv
}
