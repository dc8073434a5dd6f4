package demo_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/cmd/internal/demo"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestDemoTracker runs the demo in process on its embedded broker and sees the simulated
// OwnTracks phone walk out of its citizen's safe zone: a left_safe_zone alert whose track
// the staff can read.
func TestDemoTracker(t *testing.T) {
	if _, err := localstack.FindBinary("influxd"); err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	listen := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		done <- demo.Run(ctx, demo.Config{Dir: t.TempDir(), Homes: 2, Listen: listen, IngestListen: freeAddr(t), BrokerListen: freeAddr(t),
			Tick: time.Second, FirstAlarm: time.Hour, AlarmEvery: time.Hour}, nil, &syncWriter{b: &out})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo.Run: %v", err)
		}
	})
	p := &demoProcess{api: listen, tokens: map[string]string{}}
	waitFor(t, 90*time.Second, "the demo's tokens", func() bool {
		for _, m := range tokenLineMulti.FindAllStringSubmatch((&syncWriter{b: &out}).String(), -1) {
			p.tokens[m[1]] = m[2]
		}
		return p.tokens["admin"] != ""
	})
	var id int64
	waitFor(t, 90*time.Second, "the tracker's left_safe_zone alert", func() bool {
		var list struct {
			Alerts []struct {
				ID   int64
				Type string
			}
		}
		if err := json.Unmarshal([]byte(p.get(t, "/api/v1/alerts", p.token("staff"))), &list); err != nil {
			return false
		}
		for _, a := range list.Alerts {
			if a.Type == "left_safe_zone" {
				id = a.ID
				return true
			}
		}
		return false
	})
	var track struct {
		Tracker   string
		Zones     []any
		Positions []any
	}
	if err := json.Unmarshal([]byte(p.get(t, "/api/v1/alerts/"+strconv.FormatInt(id, 10)+"/track", p.token("staff"))), &track); err != nil ||
		track.Tracker != "gps.demo-001" || len(track.Zones) != 1 || len(track.Positions) < 2 {
		t.Errorf("track: %+v %v", track, err)
	}
}
