package sqlstore_test

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// A decommissioned home keeps its care plan for history and takes no new version; the
// plan it had is still readable.
func TestDecommissionedHomeTakesNoCarePlan(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := t.Context()
		w := setup(t, s)
		plan := func(text string) func(uint64) ([]byte, []byte, error) {
			return func(uint64) ([]byte, []byte, error) { return []byte(text), []byte(text), nil }
		}
		if _, err := s.SaveHomeConfig(ctx, w.home, 0, 0, "mads", "first", t0, plan(`{"night":"22-07"}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DecommissionGateway(ctx, api.Scope{All: true}, "gw-0042", t0, "mads", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DecommissionHome(ctx, api.Scope{All: true}, w.home, t0, "mads", t0); err != nil {
			t.Fatal(err)
		}
		_, err := s.SaveHomeConfig(ctx, w.home, 0, 0, "mads", "second", t0, plan(`{"night":"20-07"}`))
		if !errors.Is(err, api.ErrConflict) {
			t.Fatalf("a plan for a decommissioned home: %v, want a conflict", err)
		}
		row, err := s.HomeConfig(ctx, w.home)
		if err != nil || row.Version != 1 || string(row.Settings) != `{"night":"22-07"}` {
			t.Errorf("the kept plan: %+v %v", row, err)
		}
	})
}

// A decommissioned gateway that still reports is ignored, and said once, not at every
// heartbeat.
func TestDecommissionedGatewayStatusLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	s, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	setup(t, s)
	if _, err := s.DecommissionGateway(t.Context(), api.Scope{All: true}, "gw-0042", t0, "mads", t0); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.RecordStatus(t.Context(), &vagt.Status{Gateway: "gw-0042", Municipality: 766, Online: true, Time: t0.Add(time.Duration(i) * time.Minute)}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "decommissioned gateway ignored"); n != 1 {
		t.Errorf("%d log lines for three statuses of a decommissioned gateway, want 1:\n%s", n, logs.String())
	}
}
