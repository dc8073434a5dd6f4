package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/firmware-sim/zigbee2mqtt"
	"github.com/vagt-dk/vagt/gateway"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

const e2eGateway vagt.GatewayID = "gw-e2e"

// platform collects what arrives on the platform broker, in arrival order, with a
// persistent session so that nothing published while it reconnects is lost.
type platform struct {
	mu   sync.Mutex
	msgs []mqtt.Message
	c    mqtt.Client
}

func newPlatform(t *testing.T, url string) *platform {
	return newPlatformClient(t, url, "platform-e2e")
}

// login, if given, is a user name and password.
func newPlatformClient(t *testing.T, url, id string, login ...string) *platform {
	t.Helper()
	p := &platform{}
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).SetMaxReconnectInterval(time.Second).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { p.mu.Lock(); p.msgs = append(p.msgs, m); p.mu.Unlock() })
	if len(login) == 2 {
		o.SetUsername(login[0]).SetPassword(login[1])
	}
	p.c = mqtt.NewClient(o)
	if tok := p.c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if tok := p.c.Subscribe("vagt/v1/gw/+/+", 1, nil); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { p.c.Disconnect(100) })
	return p
}

func (p *platform) snapshot() []mqtt.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]mqtt.Message(nil), p.msgs...)
}

// seen is what the platform received, decoded: every reading by its key with the batch
// seqs it came in, every alarm event by seq, and the order of lanes.
type seen struct {
	readings map[string][]uint64 // "device/kind/value" → batch seqs
	batches  map[uint64]string   // seq → payload: a second delivery must be the same bytes
	alarms   map[uint64]vagt.Alarm
	alarmAt  map[uint64]int // first arrival index
	readAt   map[string]int // first arrival index of a reading
	statuses []vagt.Status
	dupDiff  []string
}

func key(d vagt.DeviceID, k vagt.Kind, v float64) string { return fmt.Sprintf("%s/%s/%.2f", d, k, v) }

func (p *platform) decode(t *testing.T) seen {
	t.Helper()
	s := seen{readings: map[string][]uint64{}, batches: map[uint64]string{}, alarms: map[uint64]vagt.Alarm{}, alarmAt: map[uint64]int{}, readAt: map[string]int{}}
	for i, m := range p.snapshot() {
		gw, lane, err := vagt.ParseTopic(m.Topic())
		if err != nil || gw != e2eGateway {
			continue
		}
		switch lane {
		case vagt.LaneTelemetry:
			b, err := vagt.DecodeBatch(m.Payload())
			if err != nil {
				t.Fatalf("batch: %v", err)
			}
			if prev, ok := s.batches[b.Seq]; ok {
				if prev != string(m.Payload()) {
					s.dupDiff = append(s.dupDiff, fmt.Sprintf("batch %d", b.Seq))
				}
				continue // an exact redelivery
			}
			s.batches[b.Seq] = string(m.Payload())
			for _, r := range b.Readings {
				k := key(r.Device, r.Kind, r.Value)
				s.readings[k] = append(s.readings[k], b.Seq)
				if _, ok := s.readAt[k]; !ok {
					s.readAt[k] = i
				}
			}
		case vagt.LaneAlarm:
			a, err := vagt.DecodeAlarm(m.Payload())
			if err != nil {
				t.Fatalf("alarm: %v", err)
			}
			if prev, ok := s.alarms[a.Seq]; ok {
				if fmt.Sprint(prev) != fmt.Sprint(a) {
					s.dupDiff = append(s.dupDiff, fmt.Sprintf("alarm %d", a.Seq))
				}
				continue
			}
			s.alarms[a.Seq], s.alarmAt[a.Seq] = a, i
		case vagt.LaneStatus:
			st, err := vagt.DecodeStatus(m.Payload())
			if err != nil {
				t.Fatalf("status: %v", err)
			}
			s.statuses = append(s.statuses, st)
		}
	}
	return s
}

func (s seen) alarmsOf(typ vagt.AlarmType) []vagt.Alarm {
	var out []vagt.Alarm
	for _, a := range s.alarms {
		if a.Type == typ && a.Clears == 0 {
			out = append(out, a)
		}
	}
	return out
}

// eventually polls cond (a bound against hanging, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	stacktest.WaitFor(t, what, 90*time.Second, cond)
}

// e2eHome is the home both end-to-end tests (TestEndToEnd, TestEndToEndOnCluster) start
// before their phases: an emulated base unit on a pseudo-terminal, Zigbee2MQTT on the home
// broker, and the real gateway binary between them and the platform broker, running and
// stopped (kill -9, its log shown on failure) when the test ends.
type e2eHome struct {
	dir  string
	line *baseunit.Line
	unit *baseunit.Unit
	z2m  *zigbee2mqtt.Bridge
	gw   *gatewayProc

	ctx context.Context
	wg  sync.WaitGroup
}

// buildGateway builds this package's binary into dir.
func buildGateway(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "vagt-gateway")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startE2EHome starts the home in dir with the gateway binary bin, its Zigbee2MQTT on the
// broker at localURL and its uplink to platformURL.
func startE2EHome(t *testing.T, bin, dir, localURL, platformURL string) *e2eHome {
	t.Helper()
	line, err := baseunit.NewLine(filepath.Join(dir, "ttyVAGT"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { line.Unplug() })
	h := &e2eHome{dir: dir, line: line, unit: baseunit.New("bu-17")}
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	t.Cleanup(func() { cancel(); h.wg.Wait() })
	h.plugIn()
	if h.z2m, err = zigbee2mqtt.Connect(localURL, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.z2m.Close)

	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	h.gw = &gatewayProc{bin: bin, log: filepath.Join(dir, "gateway.log"),
		config: writeConfig(t, dir, line.Path, localURL, platformURL, port), status: "127.0.0.1:" + itoa(port)}
	h.gw.start(t)
	t.Cleanup(func() {
		if h.gw.cmd.ProcessState == nil {
			h.gw.cmd.Process.Kill()
			<-h.gw.done
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", tail(h.gw.log))
		}
	})
	return h
}

// plugIn connects the unit to the line's end and runs it until the test ends (again after
// the line was unplugged and plugged).
func (h *e2eHome) plugIn() {
	h.unit.Attach(h.line.End())
	h.wg.Go(func() { h.unit.Run(h.ctx, h.line.End()) })
}

// gatewayProc is the real vagt-gateway binary, run as a subprocess so it can be killed.
type gatewayProc struct {
	bin, config, log, status string
	cmd                      *exec.Cmd
	done                     chan error
}

func (g *gatewayProc) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(g.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	g.cmd = exec.Command(g.bin, "-config", g.config, "-log-level", "debug")
	g.cmd.Stdout, g.cmd.Stderr = logf, logf
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.done = make(chan error, 1)
	go func() { g.done <- g.cmd.Wait(); logf.Close() }()
}

func (g *gatewayProc) snapshot() (gateway.Snapshot, bool) {
	var s gateway.Snapshot
	resp, err := http.Get("http://" + g.status + "/status")
	if err != nil {
		return s, false
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s) == nil
}

func (g *gatewayProc) signal(t testing.TB, sig syscall.Signal) error {
	t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-g.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("gateway did not exit on %s", sig)
	}
	return nil
}

func writeConfig(t *testing.T, dir, link, local, plat string, statusPort int) string {
	t.Helper()
	cfg := map[string]any{
		"gateway": e2eGateway, "municipality": 766,
		"spool":       map[string]any{"path": filepath.Join(dir, "spool.db"), "batch_readings": 20, "batch_age": "500ms"},
		"uplink":      map[string]any{"broker": plat, "keep_alive": "2s", "heartbeat": "2s", "max_backoff": "1s", "drain_rate": 0},
		"serial":      map[string]any{"path": link},
		"zigbee":      map[string]any{"broker": local, "base_topic": "zigbee2mqtt"},
		"status_addr": fmt.Sprintf("127.0.0.1:%d", statusPort),
		"home": map[string]any{
			"devices": []map[string]any{
				{"device": "bu-17", "technology": "personal_alarm"},
				{"device": "bu-17:btn", "technology": "personal_alarm", "panic_on_press": true},
				{"device": "bu-17:temp-1", "technology": "environment_sensor"},
				{"device": "0x00158d0001a2b3c7", "technology": "environment_sensor", "zigbee": "living_room"},
				{"device": "0x00158d0001a2b3c8", "technology": "water_alarm", "zigbee": "bathroom_leak"},
			},
			// Only rules that do not depend on the wall clock, so the test is the same at
			// any hour: device alarms are always on.
			"rules": map[string]any{"night": "", "day": ""},
		},
	}
	data, _ := json.MarshalIndent(cfg, "", "  ")
	path := filepath.Join(dir, "gateway.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func itoa(n int) string { return strconv.Itoa(n) }

// tail returns the last lines of a log file.
func tail(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(string(data), "\n")
	return strings.Join(lines[max(0, len(lines)-60):], "\n")
}

// zigbeeMessages reads the Zigbee subscriber's message count from a status snapshot.
func zigbeeMessages(s gateway.Snapshot) float64 {
	m, _ := s.Zigbee.(map[string]any)
	n, _ := m["Messages"].(float64)
	return n
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}
