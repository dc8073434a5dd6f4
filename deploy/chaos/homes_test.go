package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/gateway"
)

// home is a real gateway (in-process) with an emulated base unit on a pseudo-terminal.
// The unit and its line outlive the gateway's restarts, as the hardware in a home does.
type home struct {
	id     vagt.GatewayID
	unitID string
	unit   *baseunit.Unit
	line   *baseunit.Line
	gw     *runner
	uplink *uplinkCut // nil: straight to the broker

	mu        sync.Mutex
	current   *gateway.Gateway
	heard     uint64 // readings the gateway instances that stopped had spooled
	dropped   uint64 // readings the spool dropped when full (kept in the spool, ever)
	produced  atomic.Uint64
	unitCtx   context.CancelFunc
	unitDone  chan struct{}
	sensorSeq atomic.Uint64
	// down: the gateway is stopped. A real serial line has nobody listening then and the
	// unit's readings go nowhere (alarms are repeated until acked); a pty would keep them
	// and hand the restarted gateway a burst of one sensor within one millisecond, which
	// InfluxDB keys as one point. So the unit sends no readings while down.
	down   atomic.Bool
	sentMu sync.Mutex
	sent   []sentReading
}

// sentReading is one reading the unit sent: its device and value identify it in InfluxDB.
type sentReading struct {
	dev   vagt.DeviceID
	value float64
	at    time.Time
}

func startHome(t *testing.T, n int, brokerURL string, cut bool) *home {
	t.Helper()
	dir := t.TempDir()
	h := &home{id: vagt.GatewayID(fmt.Sprintf("gw-chaos-%d", n)), unitID: fmt.Sprintf("bu-%d", n)}
	var err error
	if h.line, err = baseunit.NewLine(filepath.Join(dir, "tty")); err != nil {
		t.Fatal(err)
	}
	h.unit = baseunit.New(h.unitID)
	h.unit.RepeatEvery = 500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	h.unitCtx, h.unitDone = cancel, make(chan struct{})
	go func() { defer close(h.unitDone); _ = h.unit.Run(ctx, h.line.End()) }()
	uplink := brokerURL
	if cut {
		if h.uplink, err = newUplinkCut(brokerURL[len("tcp://"):]); err != nil {
			t.Fatal(err)
		}
		uplink = h.uplink.URL()
	}
	c := gateway.Defaults()
	c.Gateway, c.Municipality = h.id, municipality
	c.Spool.Path = filepath.Join(dir, "spool.db")
	c.Spool.MaxBytes = 64 << 10 // the smallest allowed: the spool-fill fault fills it
	c.Spool.BatchReadings = 50
	c.Spool.BatchAge = gateway.Duration(300 * time.Millisecond)
	c.Uplink.Broker = uplink
	c.Uplink.KeepAlive = gateway.Duration(2 * time.Second)
	c.Uplink.Heartbeat = gateway.Duration(5 * time.Second)
	c.Uplink.MaxBackoff = gateway.Duration(500 * time.Millisecond)
	c.Uplink.DrainRate = 0
	c.Serial.Path = h.line.Path
	c.StatusAddr = ""
	c.Home.Rules.Night, c.Home.Rules.Day = "", ""
	c.Home.Devices = []gateway.DeviceFile{{Device: vagt.DeviceID(h.unitID), Technology: vagt.TechPersonalAlarm}}
	h.gw = &runner{name: string(h.id), run: func(ctx context.Context) error {
		g, err := gateway.New(c, nil, nil)
		if err != nil {
			return err
		}
		h.mu.Lock()
		h.current = g
		h.mu.Unlock()
		err = g.Run(ctx)
		s := g.Snapshot()
		h.mu.Lock()
		h.current = nil
		h.heard += s.Counters.Readings
		h.dropped = s.Spool.DroppedReadings
		h.mu.Unlock()
		return err
	}}
	h.gw.Start()
	t.Cleanup(func() {
		if err := h.gw.Stop(); err != nil {
			t.Errorf("%v", err)
		}
		h.unitCtx()
		<-h.unitDone
		h.line.Unplug()
		if h.uplink != nil {
			h.uplink.Close()
		}
	})
	return h
}

// snapshot is the running gateway's state; ok is false while it is stopped.
func (h *home) snapshot() (gateway.Snapshot, bool) {
	h.mu.Lock()
	g := h.current
	h.mu.Unlock()
	if g == nil {
		return gateway.Snapshot{}, false
	}
	return g.Snapshot(), true
}

// totals are what the gateways heard and dropped, over all their runs so far (the
// current one included).
func (h *home) totals() (heard, dropped uint64) {
	s, ok := h.snapshot()
	h.mu.Lock()
	defer h.mu.Unlock()
	heard, dropped = h.heard, h.dropped
	if ok {
		heard += s.Counters.Readings
		dropped = s.Spool.DroppedReadings
	}
	return heard, dropped
}

// reading sends one temperature reading from one of the unit's sensors named prefix0...;
// each sensor is a series, and readings of one series are far enough apart to have
// distinct timestamps (the steady load and a burst use different prefixes).
func (h *home) reading(prefix string, sensors int) error {
	if h.down.Load() {
		return nil
	}
	n := h.sensorSeq.Add(1)
	dev := prefix + strconv.Itoa(int(n)%sensors)
	value := float64(n%15000)/100 - 50
	at := time.Now()
	if err := h.unit.Reading(dev, "temperature", value); err != nil {
		return err
	}
	h.produced.Add(1)
	h.sentMu.Lock()
	h.sent = append(h.sent, sentReading{dev: vagt.DeviceID(h.unitID + ":" + dev), value: value, at: at})
	h.sentMu.Unlock()
	return nil
}

// alarm presses a panic button that has not been pressed before, so that each alarm is
// its own alert (repeats of one device's alarm fold into one alert by design).
func (h *home) alarm(n int) vagt.DeviceID {
	dev := "a" + strconv.Itoa(n)
	_, _ = h.unit.Alarm(dev, "panic")
	return vagt.DeviceID(h.unitID + ":" + dev)
}

// waitUntil waits for cond, failing with state() after a patience that is no latency target.
func waitUntil(t *testing.T, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			if state != nil {
				what += ": " + state()
			}
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
