package alarmprop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/firmware-sim/zigbee2mqtt"
	"github.com/vagt-dk/vagt/gateway"
	"github.com/vagt-dk/vagt/test/internal/chain"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

const (
	gatewayID    = vagt.GatewayID("gw-prop-1")
	unitID       = "bu-prop"
	municipality = 766
	zigbeeBase   = "zigbee2mqtt"
	// zigbeeClient is the gateway's client id on the home broker (gateway.New).
	zigbeeClient = "vagt-gateway-" + string(gatewayID)
)

// Mosquitto's autosave for the platform broker, which the test kills with -9: the
// persistence file is written on every change (as in test/chaos).
const platformAutosave = "autosave_interval 1\nautosave_on_changes true"

// world is everything the plan acts on: the home (base unit on a pty, Zigbee2MQTT on the
// home broker, the gateway process with its spool and clock file, its uplink through a
// relay that can be cut) and the platform (broker, two apis: SQLite and PostgreSQL).
type world struct {
	dir string

	platform *localstack.Mosquitto
	home     *localstack.Mosquitto
	relay    *chain.UplinkCut
	apis     []*api

	unit     *baseunit.Unit
	line     *baseunit.Line
	unitStop context.CancelFunc
	unitDone chan struct{}
	bridge   *zigbee2mqtt.Bridge
	zbEnv    []string // Zigbee devices that send readings
	zbJunk   []string // Zigbee devices that send what is no alarm

	gw        *chain.Process
	spool     string
	clockFile string
	nudging   atomic.Bool // a heartbeat write is under way (nudge)
	// What the home broker had delivered when the gateway had its Zigbee session.
	homeBase deliveries
	// Raises that were in the spool when the test deleted it, by device.
	spoolLost map[vagt.DeviceID]int
	lostSeqs  map[uint64]bool // their event seqs
}

// api is one vagt api process and the database it keeps its alerts in.
type api struct {
	name   string // "sqlite", "postgres"
	driver string // database/sql driver
	dsn    string
	proc   *chain.Process
	addr   string
}

// pool is the Zigbee device map the gateway starts with: the alarm devices the plan may
// use (buttons, water and smoke sensors), devices that only ever send garbage, and
// environment sensors that send readings.
type pool struct {
	buttons, water, smoke, garbage, env []string
}

func newPool(alarms int) pool {
	n := func(prefix string, k int) []string {
		out := make([]string, k)
		for i := range out {
			out[i] = fmt.Sprintf("%s-%d", prefix, i+1)
		}
		return out
	}
	return pool{buttons: n("zb-btn", alarms), water: n("zb-water", alarms), smoke: n("zb-smoke", alarms),
		garbage: n("zb-junk", 4), env: n("zb-env", 4)}
}

func startWorld(t *testing.T, bins chain.Binaries, zb pool) *world {
	t.Helper()
	w := &world{dir: t.TempDir(), zbEnv: zb.env, zbJunk: zb.garbage, spoolLost: map[vagt.DeviceID]int{}, lostSeqs: map[uint64]bool{}}
	w.platform = stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true, Extra: platformAutosave})
	// The home broker logs every PUBLISH it sends and every PUBACK it gets: that is how the
	// test knows which Zigbee messages the gateway received.
	w.home = stacktest.Mosquitto(t, localstack.MosquittoOptions{Extra: "log_type debug"})
	pgDSN := stacktest.SharedPostgres(t)

	var err error
	if w.relay, err = chain.NewUplinkCut(strings.TrimPrefix(w.platform.URL(), "tcp://")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.relay.Close() })

	for _, a := range []*api{
		{name: "sqlite", driver: "sqlite", dsn: filepath.Join(w.dir, "api.db")},
		{name: "postgres", driver: "pgx", dsn: pgDSN},
	} {
		port, err := localstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		a.addr = "127.0.0.1:" + strconv.Itoa(port)
		// Not shared ("-"): each api takes every alarm, as replicas do (cmd/vagt api --group).
		a.proc = &chain.Process{Name: "api-" + a.name, Bin: bins.Vagt, Log: filepath.Join(w.dir, "api-"+a.name+".log"),
			Args: []string{"api", "--listen", a.addr, "--db", a.dsn, "--broker", w.platform.URL(),
				"--client-id", "prop-api-" + a.name, "--group", "-", "--tick", "200ms", "--log-level", "warn"}}
		if err := a.proc.Start(); err != nil {
			t.Fatal(err)
		}
		w.apis = append(w.apis, a)
	}
	t.Cleanup(func() {
		for _, a := range w.apis {
			if err := a.proc.Stop(); err != nil {
				t.Errorf("%v", err)
			}
			a.proc.CheckRaces(t)
			if t.Failed() {
				t.Logf("%s log:\n%s", a.proc.Name, chain.Tail(a.proc.Log, 30))
			}
		}
	})
	for _, a := range w.apis {
		waitFor(t, a.proc.Name+" to be ready", func() bool { return ready("http://" + a.addr + "/readyz") })
	}

	// The home: the unit on its line, Zigbee2MQTT on the home broker.
	if w.line, err = baseunit.NewLine(filepath.Join(w.dir, "tty")); err != nil {
		t.Fatal(err)
	}
	w.unit = baseunit.New(unitID)
	w.unit.RepeatEvery = 500 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	w.unitStop, w.unitDone = cancel, make(chan struct{})
	w.unit.Attach(w.line.End())
	go func() { defer close(w.unitDone); _ = w.unit.Run(ctx, w.line.End()) }()
	if w.bridge, err = zigbee2mqtt.Connect(w.home.URL(), zigbeeBase); err != nil {
		t.Fatal(err)
	}

	w.startGateway(t, bins, zb)
	return w
}

func (w *world) startGateway(t *testing.T, bins chain.Binaries, zb pool) {
	t.Helper()
	w.spool = filepath.Join(w.dir, "spool.db")
	w.clockFile = filepath.Join(w.dir, "clock")
	c := gateway.Defaults()
	c.Gateway, c.Municipality = gatewayID, municipality
	c.Spool.Path = w.spool
	c.Spool.MaxBytes = 16 << 20
	c.Spool.BatchReadings = 50
	c.Spool.BatchAge = gateway.Duration(300 * time.Millisecond)
	c.Uplink.Broker = w.relay.URL()
	c.Uplink.KeepAlive = gateway.Duration(2 * time.Second)
	c.Uplink.Heartbeat = gateway.Duration(5 * time.Second)
	c.Uplink.MaxBackoff = gateway.Duration(500 * time.Millisecond)
	c.Uplink.DrainRate = 0
	c.Serial.Path = w.line.Path
	c.Zigbee.Broker = w.home.URL()
	c.Zigbee.BaseTopic = zigbeeBase
	// Port 0: the gateway binds a free port on every start and logs it ("gateway running",
	// key "status"), so no other test on the machine can take it between a free-port probe
	// and the bind, or between a kill and the restart (statusAddr reads it).
	c.StatusAddr = "127.0.0.1:0"
	// Only the device alarms: no timed rule (inactivity, silent device, low battery, ...)
	// may raise anything of its own when the clock jumps years.
	c.Home.Rules.Night, c.Home.Rules.Day = "", ""
	devs := []gateway.DeviceFile{{Device: unitID, Technology: vagt.TechPersonalAlarm}}
	add := func(names []string, tech vagt.Technology) {
		for _, n := range names {
			devs = append(devs, gateway.DeviceFile{Device: vagt.DeviceID(n), Technology: tech, Zigbee: n})
		}
	}
	add(zb.buttons, vagt.TechPersonalAlarm)
	add(zb.water, vagt.TechWaterAlarm)
	add(zb.smoke, vagt.TechSmokeAlarm)
	add(zb.garbage, vagt.TechPersonalAlarm)
	add(zb.env, vagt.TechEnvironmentSensor)
	c.Home.Devices = devs
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(w.dir, "gateway.json")
	if err := os.WriteFile(config, data, 0o600); err != nil {
		t.Fatal(err)
	}
	w.gw = &chain.Process{Name: "gateway", Bin: bins.Gateway, Log: filepath.Join(w.dir, "gateway.log"),
		Args: []string{"-config", config, "-log-level", "info"}, Env: []string{"VAGT_TEST_CLOCK_FILE=" + w.clockFile}}
	if err := w.gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.gw.Stop(); err != nil {
			t.Errorf("%v", err)
		}
		w.gw.CheckRaces(t)
		if t.Failed() {
			t.Logf("gateway log (%s), last lines:\n%s", w.gw.Log, chain.Tail(w.gw.Log, 400))
		}
		w.bridge.Close()
		w.unitStop()
		// Unplugged first: a write blocked on a pty nobody reads (holding the unit's lock,
		// which Run needs to return) ends when the pty is closed.
		w.line.Unplug()
		<-w.unitDone
	})
	// The gateway hears the unit and has its Zigbee session before the plan starts: a
	// message published before its first subscription would be no one's.
	waitFor(t, "the gateway to hear its unit and its Zigbee devices", func() bool {
		if !w.gw.Running() || w.gw.Exited() {
			t.Fatalf("the gateway exited while starting:\n%s", chain.Tail(w.gw.Log, 40))
		}
		w.nudge()
		_ = w.bridge.Climate(zb.env[0], 21, 40)
		s, ok := w.snapshot()
		return ok && s.Counters.Readings > 0 && zigbeeMessages(s) > 0
	})
	if w.homeBase, err = homeDeliveries(w.home.LogPath()); err != nil {
		t.Fatal(err)
	}
}

// nudge sends the unit's heartbeat without waiting for it: a pty keeps only so much that
// nobody reads, and a gateway that is not running reads nothing, so a write may block until
// the line is unplugged. At most one is under way; a wait that nudges stays bounded by its
// own deadline.
func (w *world) nudge() {
	if !w.nudging.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer w.nudging.Store(false)
		_ = w.unit.Heartbeat(time.Second, true, 100)
	}()
}

// statusAddr is the status page's address of the gateway's current run, from its log ("" if
// that run has not logged it yet).
func (w *world) statusAddr() string {
	data, err := os.ReadFile(w.gw.Log)
	if err != nil {
		return ""
	}
	run := string(data)
	if i := strings.LastIndex(run, "=== gateway start"); i >= 0 {
		run = run[i:]
	}
	for _, line := range strings.Split(run, "\n") {
		var l struct{ Msg, Status string }
		if strings.Contains(line, `"gateway running"`) && json.Unmarshal([]byte(line), &l) == nil && l.Status != "" {
			return l.Status
		}
	}
	return ""
}

// snapshot is the gateway's state from its status page; ok is false while it is down.
func (w *world) snapshot() (gateway.Snapshot, bool) {
	var s gateway.Snapshot
	addr := w.statusAddr()
	if addr == "" {
		return s, false
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/status")
	if err != nil {
		return s, false
	}
	defer resp.Body.Close()
	return s, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&s) == nil
}

func zigbeeMessages(s gateway.Snapshot) float64 {
	m, _ := s.Zigbee.(map[string]any)
	n, _ := m["Messages"].(float64)
	return n
}

func ready(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitFor waits for cond, failing after a patience that is no latency target.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}
