package ingest_test

import (
	"net"
	"testing"

	"github.com/vagt-dk/vagt/ingest"
)

// TestHTTPDefaultsToLoopback: ingest's HTTP side (POST /v1/telemetry, /metrics) listens on
// loopback unless it is told otherwise, as the README and docs/operations.md say.
func TestHTTPDefaultsToLoopback(t *testing.T) {
	var c ingest.Config
	c.Defaults()
	host, _, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		t.Fatalf("default HTTP address %q, want a loopback one", c.HTTPAddr)
	}
}
