package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestAlarmsReplay: vagt alarms replay files the alarms of the history window that the
// (restored) store has no receipt for, counts the ones it has, moves the event ids past
// the gap first, and a second run files nothing.
func TestAlarmsReplay(t *testing.T) {
	target := stacktest.SharedInfluxDB(t)
	db := filepath.Join(t.TempDir(), "vagt.db")
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	// Five alarms in ingest's line format (ingest/lineproto.go), the last a clear of the first.
	var lines strings.Builder
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&lines, "alarm,dev=pendant-%d,gw=gw-drill,mun=766,priority=critical,type=panic seq=%di,clears=0i %d\n", i, i, t0.Add(time.Duration(i)*time.Second).UnixMilli())
	}
	fmt.Fprintf(&lines, "alarm,dev=pendant-1,gw=gw-drill,mun=766,priority=critical,type=panic seq=5i,clears=1i %d\n", t0.Add(5*time.Second).UnixMilli())
	resp, err := http.Post(target.URL+"/write?precision=ms&db="+target.Database, "text/plain", strings.NewReader(lines.String()))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write: %v %v", err, resp)
	}
	resp.Body.Close()

	// The restored store had the first two.
	s, err := sqlstore.Open(t.Context(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		a := &vagt.Alarm{Gateway: "gw-drill", Seq: uint64(i), Municipality: 766, Time: t0.Add(time.Duration(i) * time.Second),
			Device: vagt.DeviceID(fmt.Sprint("pendant-", i)), Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical, Details: map[string]string{"room": "hall"}}
		if _, err := s.IngestAlarm(t.Context(), a, t0); err != nil {
			t.Fatal(err)
		}
	}
	newest, err := s.LastEventID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	replay := func() replayReport {
		t.Helper()
		var out, errOut bytes.Buffer
		err := commands.Run(context.Background(), "vagt", []string{"alarms", "replay", "--db", db, "--influx-url", target.URL,
			"--influx-bucket", target.Bucket, "--influx-token", target.Token, "--since", "2h", "--event-id-gap", "1000"}, func(string) string { return "" }, &out, &errOut)
		if err != nil {
			t.Fatalf("%v: %s", err, errOut.String())
		}
		var r replayReport
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%v: %q", err, out.String())
		}
		return r
	}
	r := replay()
	if r.History != 5 || r.Filed != 3 || r.AlreadyThere != 2 || r.Ignored != 0 || r.NextEventID <= newest+1000 {
		t.Fatalf("first replay: %+v (newest event before: %d)", r, newest)
	}
	if again := replay(); again.History != 5 || again.Filed != 0 || again.AlreadyThere != 5 {
		t.Fatalf("second replay: %+v", again)
	}

	s, err = sqlstore.Open(t.Context(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	list, err := s.ListAlerts(t.Context(), api.Scope{All: true}, alerts.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byDevice := map[vagt.DeviceID]int{}
	for _, a := range list {
		byDevice[a.Device]++
	}
	if len(list) != 4 || byDevice["pendant-1"] != 1 || byDevice["pendant-3"] != 1 || byDevice["pendant-4"] != 1 {
		t.Fatalf("alerts after the replay: %+v", list)
	}
	for _, a := range list {
		if a.Device == "pendant-1" && a.ClearedAt == nil {
			t.Errorf("pendant-1's alert %+v is not cleared by the replayed clear", a)
		}
	}
}
