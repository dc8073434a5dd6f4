package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestProductionBinaryLinksNoDemo: the production vagt links neither the simulator
// (firmware-sim), nor the demo's embedded broker (mochi-mqtt), nor the demo itself with
// its fsync-off PostgreSQL launcher (the local stack); `make run` is cmd/vagt-demo.
func TestProductionBinaryLinksNoDemo(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		//lint:ignore SA1019 the fallback for a PATH without go: this test runs where it was built
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-deps", "github.com/vagt-dk/vagt/cmd/vagt").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/vagt: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 || !slices.Contains(deps, "github.com/vagt-dk/vagt/ingest") {
		t.Fatalf("go list -deps gave %d packages without ingest: not the dependency list", len(deps))
	}
	for _, banned := range []string{
		"github.com/vagt-dk/vagt/firmware-sim",
		"github.com/mochi-mqtt/server",
		"github.com/vagt-dk/vagt/cmd/internal/demo",
		"github.com/vagt-dk/vagt/test/",
	} {
		for _, d := range deps {
			if strings.HasPrefix(d, banned) {
				t.Errorf("cmd/vagt links %s (from %s)", d, banned)
			}
		}
	}
}
