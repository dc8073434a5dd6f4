package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/zigbee2mqtt"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// coldFor is the low-temperature duration of TestTimerSurvivesKill: long enough that the
// kill comes well before it runs out, short enough for a test.
const coldFor = 20 * time.Second

// TestTimerSurvivesKill: the real binary, a real Zigbee2MQTT emulator and brokers. The
// living room goes cold, the gateway is killed with -9 mid-timer and started again: the
// low-temperature alarm comes with the time it was due at (cold since + 20 s), which is
// before restart + 20 s, where a timer started afresh would put it. A second kill -9
// while it is open raises nothing twice, and warming up clears it with the raise's seq.
func TestTimerSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "vagt-gateway")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	local := stacktest.Mosquitto(t)
	plat := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	platform := newPlatformClient(t, plat.URL(), "platform-timers")
	z2m, err := zigbee2mqtt.Connect(local.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer z2m.Close()
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"gateway": e2eGateway, "municipality": 766,
		"spool":       map[string]any{"path": filepath.Join(dir, "spool.db"), "batch_age": "200ms"},
		"uplink":      map[string]any{"broker": plat.URL(), "keep_alive": "2s", "heartbeat": "2s", "max_backoff": "1s"},
		"zigbee":      map[string]any{"broker": local.URL(), "base_topic": "zigbee2mqtt"},
		"status_addr": fmt.Sprintf("127.0.0.1:%d", port),
		"home": map[string]any{
			"devices": []map[string]any{{"device": zigbeeTemp, "technology": "environment_sensor", "zigbee": "living_room"}},
			// No windows: the test is the same at any hour.
			"rules": map[string]any{"night": "", "day": "", "low_temperature": 16, "low_temperature_for": coldFor.String()},
		},
	}
	data, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "gateway.json")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	gw := &gatewayProc{bin: bin, log: filepath.Join(dir, "gateway.log"), config: cfgPath, status: "127.0.0.1:" + itoa(port)}
	start := func() {
		t.Helper()
		gw.start(t)
		eventually(t, "the Zigbee subscription", func() bool {
			s, ok := gw.snapshot()
			if ok && zigbeeMessages(s) == 0 {
				z2m.Availability("living_room", true, false)
			}
			return ok && zigbeeMessages(s) > 0
		})
	}
	start()
	defer func() {
		if gw.cmd.ProcessState == nil {
			gw.cmd.Process.Kill()
			<-gw.done
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", tail(gw.log))
		}
	}()

	// Cold. Once its reading is on the platform, the timer is kept: the pipeline keeps
	// the timers in the same step that spools the reading, before the batch is cut.
	if err := z2m.Climate("living_room", 12.5, 50); err != nil {
		t.Fatal(err)
	}
	coldKey := key(zigbeeTemp, vagt.KindTemperature, 12.5)
	var coldAt time.Time
	eventually(t, "the cold reading on the platform", func() bool {
		for _, m := range platform.snapshot() {
			if b, err := vagt.DecodeBatch(m.Payload()); err == nil {
				for _, r := range b.Readings {
					if key(r.Device, r.Kind, r.Value) == coldKey {
						coldAt = r.Time
						return true
					}
				}
			}
		}
		return false
	})
	gw.signal(t, syscall.SIGKILL)
	if n := len(platform.decode(t).alarmsOf(vagt.AlarmLowTemperature)); n != 0 {
		t.Fatalf("the alarm came before the kill (%d): the machine is too slow for this test's %s", n, coldFor)
	}
	time.Sleep(2 * time.Second) // off for a while: the restart is clearly after the cold began
	restartAt := time.Now()
	start()
	eventually(t, "the low-temperature alarm after the restart", func() bool {
		return len(platform.decode(t).alarmsOf(vagt.AlarmLowTemperature)) > 0
	})
	raise := platform.decode(t).alarmsOf(vagt.AlarmLowTemperature)[0]
	if raise.Time.Sub(coldAt) < coldFor || !raise.Time.Before(restartAt.Add(coldFor)) {
		t.Fatalf("alarm time %s: cold since %s (+%s), restarted %s: the timer was not resumed", raise.Time, coldAt, coldFor, restartAt)
	}

	// Killed again with the episode open: it is not raised twice, and warming clears it.
	gw.signal(t, syscall.SIGKILL)
	start()
	if err := z2m.Climate("living_room", 19, 50); err != nil {
		t.Fatal(err)
	}
	var clear vagt.Alarm
	eventually(t, "the clear", func() bool {
		for _, a := range platform.decode(t).alarms {
			if a.Type == vagt.AlarmLowTemperature && a.Clears != 0 {
				clear = a
				return true
			}
		}
		return false
	})
	if clear.Clears != raise.Seq {
		t.Fatalf("clear %+v names %d, the raise was %d", clear, clear.Clears, raise.Seq)
	}
	if n := len(platform.decode(t).alarmsOf(vagt.AlarmLowTemperature)); n != 1 {
		t.Fatalf("%d low-temperature raises, want 1", n)
	}
	if err := gw.signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("gateway exit: %v", err)
	}
}
