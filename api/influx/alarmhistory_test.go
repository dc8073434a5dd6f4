package influx_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// historyLine is one alarm as ingest writes it (ingest/lineproto.go AppendAlarm, written
// with precision=ms), spelled out by hand: the api does not import ingest, so this test
// is where a change to that format shows.
func historyLine(a vagt.Alarm, typ, prio string) string {
	return fmt.Sprintf("alarm,dev=%s,gw=%s,mun=%d,priority=%s,type=%s seq=%di,clears=%di %d\n",
		a.Device, a.Gateway, a.Municipality, prio, typ, a.Seq, a.Clears, a.Time.UnixMilli())
}

func writeLines(t *testing.T, target localstack.InfluxTarget, lines string) {
	t.Helper()
	resp, err := http.Post(target.URL+"/write?precision=ms&db="+target.Database, "text/plain", strings.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write: %s", resp.Status)
	}
}

// TestAlarmHistory: the alarms ingest recorded in [from, to) come back rebuilt (gateway,
// seq, municipality, time, device, type, priority, clears), oldest first; what lies
// outside the window, readings and alarms stamped exactly at to, does not.
func TestAlarmHistory(t *testing.T) {
	target := stacktest.SharedInfluxDB(t)
	from := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	to := from.Add(time.Hour)
	raise := vagt.Alarm{Gateway: "gw-1", Seq: 7, Municipality: 766, Time: from, Device: "pendant-1", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}
	fall := vagt.Alarm{Gateway: "gw-2", Seq: 3, Municipality: 615, Time: from.Add(10*time.Minute + 123*time.Millisecond), Device: "fall-2", Type: vagt.AlarmFall, Priority: vagt.PriorityCritical}
	clear := vagt.Alarm{Gateway: "gw-1", Seq: 9, Municipality: 766, Time: from.Add(20 * time.Minute), Device: "pendant-1", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical, Clears: 7}
	door := vagt.Alarm{Gateway: "gw-1", Seq: 8, Municipality: 766, Time: from.Add(15 * time.Minute), Device: "door-1", Type: vagt.AlarmDoorAtNight, Priority: vagt.PriorityHigh}
	before := raise
	before.Seq, before.Time = 5, from.Add(-time.Millisecond)
	atTo := raise
	atTo.Seq, atTo.Time = 11, to
	lines := historyLine(raise, "panic", "critical") + historyLine(fall, "fall", "critical") +
		historyLine(clear, "panic", "critical") + historyLine(door, "door_at_night", "high") +
		historyLine(before, "panic", "critical") + historyLine(atTo, "panic", "critical") +
		fmt.Sprintf("reading,dev=t-1,gw=gw-1,kind=temperature,mun=766,tech=environment_sensor value=21 %d\n", from.Add(time.Minute).UnixMilli())
	writeLines(t, target, lines)

	tel, err := influx.NewTelemetry(influx.Config{URL: target.URL, Bucket: target.Bucket, Token: target.Token, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	got, err := tel.AlarmHistory(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := []vagt.Alarm{raise, fall, door, clear}
	if len(got) != len(want) {
		t.Fatalf("got %d alarms, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.Gateway != w.Gateway || g.Seq != w.Seq || g.Municipality != w.Municipality ||
			g.Device != w.Device || g.Type != w.Type || g.Priority != w.Priority || g.Clears != w.Clears || len(g.Details) != 0 {
			t.Errorf("alarm %d:\n got %+v\nwant %+v", i, g, w)
		}
	}

	if _, err := tel.AlarmHistory(context.Background(), to, to); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("empty window: %v, want ErrInvalid", err)
	}
}

// TestAlarmHistoryUnknownName: a point whose type the api does not know is an error, not
// a skipped alarm: a replay must not leave one out quietly.
func TestAlarmHistoryUnknownName(t *testing.T) {
	target := stacktest.SharedInfluxDB(t)
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	a := vagt.Alarm{Gateway: "gw-1", Seq: 1, Municipality: 766, Time: at, Device: "d-1"}
	writeLines(t, target, historyLine(a, "earthquake", "critical"))
	tel, err := influx.NewTelemetry(influx.Config{URL: target.URL, Bucket: target.Bucket, Token: target.Token})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	if got, err := tel.AlarmHistory(context.Background(), at, at.Add(time.Second)); !errors.Is(err, vagt.ErrUnknownAlarmType) {
		t.Fatalf("got %v, %v; want ErrUnknownAlarmType", got, err)
	}
}
