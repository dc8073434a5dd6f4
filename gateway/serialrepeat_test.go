package gateway

import (
	"context"
	"testing"

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
	g, err := New(cfg, nil, nil)
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
