package chaos

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/gateway"
	"github.com/vagt-dk/vagt/test/internal/chain"
	"github.com/vagt-dk/vagt/test/localstack"
)

// home is a vagt-gateway process with its bbolt spool and an emulated base unit on a
// pseudo-terminal. The unit and its line outlive the gateway's kills and restarts, as the
// hardware in a home does; the spool file is the one the restarted gateway opens again.
type home struct {
	id     vagt.GatewayID
	unitID string
	unit   *baseunit.Unit
	line   *baseunit.Line
	gw     *chain.Process
	status string           // the gateway's status page, host:port
	uplink *chain.UplinkCut // nil: straight to the broker

	produced  atomic.Uint64
	unitCtx   context.CancelFunc
	unitDone  chan struct{}
	sensorSeq atomic.Uint64
	// down: the gateway is dead. A real serial line has nobody listening then and the
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

// homeOptions: cut puts the uplink through a relay the suite can cut; spoolBytes bounds
// the spool (0: 16 MiB, which ten minutes of the suite's readings do not fill).
type homeOptions struct {
	cut        bool
	spoolBytes int64
}

func startHome(t *testing.T, n int, bins chain.Binaries, broker chaosBroker, o homeOptions) *home {
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
	uplink := broker.URL()
	if o.cut {
		// The relay passes TLS through: the gateway's certificate reaches the broker.
		scheme, addr, _ := strings.Cut(uplink, "://")
		if h.uplink, err = chain.NewUplinkCut(addr); err != nil {
			t.Fatal(err)
		}
		_, relay, _ := strings.Cut(h.uplink.URL(), "://")
		uplink = scheme + "://" + relay
	}
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	h.status = "127.0.0.1:" + strconv.Itoa(port)
	c := gateway.Defaults()
	c.Gateway, c.Municipality = h.id, municipality
	c.Spool.Path = filepath.Join(dir, "spool.db")
	c.Spool.MaxBytes = cmp.Or(o.spoolBytes, 16<<20)
	c.Spool.BatchReadings = 50
	c.Spool.BatchAge = gateway.Duration(300 * time.Millisecond)
	c.Uplink.Broker = uplink
	if l := broker.login(t, string(h.id)); l != nil {
		c.Uplink.CAFile, c.Uplink.CertFile, c.Uplink.KeyFile = l.caFile, l.certFile, l.keyFile
	}
	c.Uplink.KeepAlive = gateway.Duration(2 * time.Second)
	c.Uplink.Heartbeat = gateway.Duration(5 * time.Second)
	c.Uplink.MaxBackoff = gateway.Duration(500 * time.Millisecond)
	c.Uplink.DrainRate = 0
	c.Serial.Path = h.line.Path
	c.StatusAddr = h.status
	c.Home.Rules.Night, c.Home.Rules.Day = "", ""
	c.Home.Devices = []gateway.DeviceFile{{Device: vagt.DeviceID(h.unitID), Technology: vagt.TechPersonalAlarm}}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "gateway.json")
	if err := os.WriteFile(config, data, 0o600); err != nil {
		t.Fatal(err)
	}
	h.gw = &chain.Process{Name: string(h.id), Bin: bins.Gateway, Log: filepath.Join(dir, "gateway.log"),
		Args: []string{"-config", config, "-log-level", "warn"}}
	if err := h.gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.gw.Stop(); err != nil {
			t.Errorf("%v", err)
		}
		h.gw.CheckRaces(t)
		if t.Failed() {
			t.Logf("%s log:\n%s", h.id, chain.Tail(h.gw.Log, 20))
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

// kill ends the gateway with SIGKILL mid-load; restart starts it again on the same spool.
func (h *home) kill() error {
	err := h.gw.Kill()
	h.down.Store(true)
	return err
}

func (h *home) restart() error {
	if err := h.gw.Start(); err != nil {
		return err
	}
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, ok := h.snapshot(); ok {
			h.down.Store(false)
			return nil
		}
	}
	return fmt.Errorf("%s: no status page 90 s after the restart (log %s)", h.id, h.gw.Log)
}

// snapshot is the gateway's state from its status page; ok is false while it is down.
func (h *home) snapshot() (gateway.Snapshot, bool) {
	var s gateway.Snapshot
	resp, err := http.Get("http://" + h.status + "/status")
	if err != nil {
		return s, false
	}
	defer resp.Body.Close()
	return s, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&s) == nil
}

// dropped is how many readings the spool dropped because it was full (the spool keeps
// the count, so it survives the gateway's restarts).
func (h *home) dropped() uint64 {
	s, _ := h.snapshot()
	return s.Spool.DroppedReadings
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
	// The value counts the sensor's own readings (-50.00, -49.99, ... °C), so device and
	// value name one reading until the sensor has sent 15,000: the reconciliation looks
	// readings up by them, and a value that came round again within a sensor would let a
	// dropped reading pass for a stored one sent later.
	value := float64((n/uint64(sensors))%15000)/100 - 50
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
func (h *home) alarm(dev string) vagt.DeviceID {
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
