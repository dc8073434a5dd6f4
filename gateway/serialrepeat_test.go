package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/gateway/serial"
)

// TestSerialSameSeqOtherAlarm: over a real pseudo-terminal, an alarm frame that carries the
// seq of one acknowledged a moment ago but another alarm (a unit restarted its counter, or
// it wrapped) is a new alarm, not a repeat: it is spooled and acknowledged. Before the fix
// the reader knew a repeat by unit and seq alone, so the second alarm was taken for the
// first, acknowledged with K, and never raised.
func TestSerialSameSeqOtherAlarm(t *testing.T) {
	u, link := plugUnit(t)
	cfg := testConfig(t, "tcp://127.0.0.1:1") // no uplink: alarms stay in the spool
	cfg.StatusAddr, cfg.Zigbee.Broker, cfg.Serial.Path = "", "", link
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "the serial port open", func() bool { return g.serial.Stats().Reopens > 0 })
	u.send(t, "bu-1,7,A,btn,panic")
	waitFor(t, "K for frame 7", func() bool { return u.heard(serial.AckFrame("bu-1", 7)) })
	u.send(t, "bu-1,7,A,btn,panic") // a true repeat: not a second alarm
	u.send(t, "bu-1,7,A,pir,fall")
	waitFor(t, "the fall spooled", func() bool { return g.spool.Stats().Alarms == 2 })
	if n := g.spool.Stats().Alarms; n != 2 {
		t.Fatalf("%d alarms spooled, want the panic and the fall", n)
	}
}

// TestSerialSameAlarmAfterUnitRestart: a unit that restarts begins its frame counter again,
// so a new press of the same button can carry the seq of a press acknowledged minutes
// before. Its heartbeat's uptime says it started after that acknowledgement: the press is a
// new alarm, spooled and acknowledged. Before the fix it was taken for a repeat (same unit,
// seq, device and alarm within 10 minutes), acknowledged with K, and never raised. A repeat
// within the unit's present run is still one alarm.
func TestSerialSameAlarmAfterUnitRestart(t *testing.T) {
	u, link := plugUnit(t)
	cfg := testConfig(t, "tcp://127.0.0.1:1") // no uplink: alarms stay in the spool
	cfg.StatusAddr, cfg.Zigbee.Broker, cfg.Serial.Path = "", "", link
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "the serial port open", func() bool { return g.serial.Stats().Reopens > 0 })
	u.send(t, "bu-1,1,H,3600,1,100")
	u.send(t, "bu-1,2,A,btn,panic")
	waitFor(t, "K for frame 2", func() bool { return u.heard(serial.AckFrame("bu-1", 2)) })
	u.send(t, "bu-1,3,H,3601,1,100") // the same run: a repeat of frame 2 is a repeat
	u.send(t, "bu-1,2,A,btn,panic")
	waitFor(t, "the repeat seen", func() bool { return g.serial.Stats().Duplicates == 1 })

	// The unit restarts (its uptime counts from 0 again, after the acknowledgement: the
	// heartbeat's seconds are whole, so the test waits past one) and its counter with it.
	time.Sleep(1100 * time.Millisecond)
	u.send(t, "bu-1,1,H,0,1,100")
	u.send(t, "bu-1,2,A,btn,panic")
	// The press reaches the pipeline, which commits it and acknowledges it (the rules fold a
	// second panic of the button within two minutes into the first; later it raises anew).
	frames := func() uint64 {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.counts.AlarmFrames
	}
	waitFor(t, "the new press committed and acknowledged", func() bool { return frames() == 2 })
	if d := g.serial.Stats().Duplicates; d != 1 {
		t.Fatalf("%d frames taken for repeats, want the one true repeat", d)
	}
}
