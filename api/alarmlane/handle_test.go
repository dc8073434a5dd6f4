package alarmlane

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
)

type msg struct {
	mqtt.Message
	topic   string
	payload []byte
}

func (m msg) Topic() string   { return m.topic }
func (m msg) Payload() []byte { return m.payload }

// flakySink fails its first fails calls.
type flakySink struct {
	fails  int32
	calls  atomic.Int32
	alarms atomic.Int32
}

func (s *flakySink) Alarm(_ context.Context, a *vagt.Alarm) (string, error) {
	if s.calls.Add(1) <= s.fails {
		return "", errors.New("database is down")
	}
	s.alarms.Add(1)
	if a.Details["reused"] != "" {
		return FlagSeqReused, nil
	}
	return "", nil
}

func (s *flakySink) Status(context.Context, *vagt.Status) error { return nil }

func alarmPayload(t *testing.T, gw vagt.GatewayID) []byte {
	t.Helper()
	b, err := vagt.EncodeAlarm(&vagt.Alarm{Gateway: gw, Seq: 1, Municipality: 766, Time: time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC),
		Device: "btn", Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandleRejectsAndCounts(t *testing.T) {
	sink := &flakySink{}
	l, err := New(sink, Options{Broker: "tcp://127.0.0.1:1", ClientID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		m      msg
		lane   vagt.Lane
		reason string
	}{
		{"garbage", msg{topic: "vagt/v1/gw/gw-0042/alarm", payload: []byte{0xff}}, vagt.LaneAlarm, "malformed"},
		{"another gateway's alarm", msg{topic: "vagt/v1/gw/gw-0042/alarm", payload: alarmPayload(t, "gw-0043")}, vagt.LaneAlarm, "gateway_mismatch"},
		{"a status that is not one", msg{topic: "vagt/v1/gw/gw-0042/status", payload: alarmPayload(t, "gw-0042")}, vagt.LaneStatus, "malformed"},
		{"a topic outside the lanes", msg{topic: "vagt/v1/gw/gw-0042/config", payload: []byte{0xa0}}, "unknown", "invalid_id"},
	} {
		if !l.handle(t.Context(), c.m) {
			t.Errorf("%s: not acknowledged (it would come back forever)", c.name)
		}
		if got := l.Rejected(c.lane, c.reason); got != 1 {
			t.Errorf("%s: rejected{%s,%s} = %v", c.name, c.lane, c.reason, got)
		}
	}
	if sink.calls.Load() != 0 {
		t.Fatalf("invalid messages reached the store: %d", sink.calls.Load())
	}
}

func TestHandleRetriesUntilCommitted(t *testing.T) {
	sink := &flakySink{fails: 3}
	l, _ := New(sink, Options{Broker: "tcp://127.0.0.1:1", ClientID: "t", RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond})
	if !l.handle(t.Context(), msg{topic: "vagt/v1/gw/gw-0042/alarm", payload: alarmPayload(t, "gw-0042")}) {
		t.Fatal("not acknowledged after the store came back")
	}
	if sink.alarms.Load() != 1 || l.StoreErrors() != 3 {
		t.Fatalf("alarms %d, store errors %v", sink.alarms.Load(), l.StoreErrors())
	}
	// A store that stays down: nothing to acknowledge when the lane stops.
	down := &flakySink{fails: 1 << 30}
	l, _ = New(down, Options{Broker: "tcp://127.0.0.1:1", ClientID: "t", RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for down.calls.Load() < 5 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if l.handle(ctx, msg{topic: "vagt/v1/gw/gw-0042/alarm", payload: alarmPayload(t, "gw-0042")}) {
		t.Fatal("acknowledged an alarm the store never took")
	}
}
