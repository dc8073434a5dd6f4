package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/firmware-sim/zigbee2mqtt"
	"github.com/vagt-dk/vagt/gateway"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// BenchmarkPanicToPuback: from writing a panic frame on the pty to the platform broker's
// PUBACK of its alarm (the uplink counts an item as sent right after its PUBACK, when the
// spool has deleted it), on a loopback Mosquitto. Reports p50 and p99.
func BenchmarkPanicToPuback(b *testing.B) {
	dir := b.TempDir()
	broker := stacktest.Mosquitto(b)
	line, err := baseunit.NewLine(filepath.Join(dir, "tty"))
	if err != nil {
		b.Fatal(err)
	}
	defer line.Unplug()
	cfg := gateway.Defaults()
	cfg.Gateway, cfg.Municipality = "gw-bench", 766
	cfg.Spool.Path = filepath.Join(dir, "spool.db")
	cfg.Uplink.Broker, cfg.Serial.Path, cfg.StatusAddr = broker.URL(), line.Path, ""
	g, err := gateway.New(cfg, gateway.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	unit := baseunit.New("bu-1")
	unit.Attach(line.End())
	wg.Go(func() { unit.Run(ctx, line.End()) })
	wg.Go(func() { g.Run(ctx) })
	for !g.Snapshot().UplinkUp {
		time.Sleep(10 * time.Millisecond)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sent := g.Snapshot().Sent
		start := time.Now()
		// A new button each time: presses of one button within two minutes are one episode.
		if _, err := unit.Alarm("btn-"+strconv.Itoa(i), "panic"); err != nil {
			b.Fatal(err)
		}
		for g.Snapshot().Sent == sent {
			if time.Since(start) > time.Minute {
				b.Fatal("no PUBACK within a minute")
			}
			time.Sleep(50 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
}

// BenchmarkGateway50Devices runs the gateway binary with 50 devices reporting every 10 s
// (25 on the base unit, 25 Zigbee climate sensors: 125 readings per 10 s) for 30 s and
// reports its resident memory and CPU use from /proc.
func BenchmarkGateway50Devices(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "vagt-gateway")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	local := stacktest.Mosquitto(b)
	plat := stacktest.Mosquitto(b, localstack.MosquittoOptions{})
	line, err := baseunit.NewLine(filepath.Join(dir, "tty"))
	if err != nil {
		b.Fatal(err)
	}
	defer line.Unplug()
	port, _ := localstack.FreePort()
	var devices []map[string]any
	for i := range 25 {
		devices = append(devices, map[string]any{"device": fmt.Sprintf("0x00158d00000000%02x", i), "technology": "environment_sensor", "zigbee": fmt.Sprintf("sensor-%d", i), "report_every": "10s"})
	}
	cfgPath := filepath.Join(dir, "gateway.json")
	cfgJSON := fmt.Sprintf(`{"gateway":"gw-bench","municipality":766,"spool":{"path":%q},"uplink":{"broker":%q},
		"serial":{"path":%q},"zigbee":{"broker":%q},"status_addr":"127.0.0.1:%d","home":{"devices":%s,"rules":{"silent_factor":3,"low_battery":20}}}`,
		filepath.Join(dir, "spool.db"), plat.URL(), line.Path, local.URL(), port, mustJSON(devices))
	if err := os.WriteFile(cfgPath, []byte(cfgJSON), 0o600); err != nil {
		b.Fatal(err)
	}
	gw := &gatewayProc{bin: bin, config: cfgPath, log: filepath.Join(dir, "log"), status: "127.0.0.1:" + strconv.Itoa(port)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	unit := baseunit.New("bu-1")
	unit.Attach(line.End())
	wg.Go(func() { unit.Run(ctx, line.End()) })
	z, err := zigbee2mqtt.Connect(local.URL(), "")
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	for i := 0; i < b.N; i++ {
		startGateway(b, gw)
		for s, ok := gw.snapshot(); !ok || !s.UplinkUp; s, ok = gw.snapshot() {
			time.Sleep(20 * time.Millisecond)
		}
		cpu0 := cpuTime(b, gw.cmd.Process.Pid)
		start := time.Now()
		const run, every = 30 * time.Second, 10 * time.Second
		for round := 0; time.Since(start) < run; round++ {
			// Spread each round's 50 reports over the 10 s, as real devices would be.
			for d := range 50 {
				if d < 25 {
					unit.Reading(fmt.Sprintf("temp-%d", d), "temperature", 20+float64(round%10)/10)
				} else {
					z.Climate(fmt.Sprintf("sensor-%d", d-25), 21+float64(round%10)/10, 45)
				}
				time.Sleep(every / 50)
			}
		}
		elapsed := time.Since(start)
		cpu := cpuTime(b, gw.cmd.Process.Pid) - cpu0
		rss := rssKiB(b, gw.cmd.Process.Pid)
		s, _ := gw.snapshot()
		gw.signal(b, 15)
		b.ReportMetric(float64(rss)/1024, "RSS-MiB")
		b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "CPU-%")
		b.ReportMetric(float64(s.Counters.Readings)/elapsed.Seconds(), "readings/s")
	}
	cancel()
	wg.Wait()
}

func startGateway(b *testing.B, g *gatewayProc) {
	b.Helper()
	logf, err := os.OpenFile(g.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	g.cmd = exec.Command(g.bin, "-config", g.config, "-log-level", "warn")
	g.cmd.Stdout, g.cmd.Stderr = logf, logf
	if err := g.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	g.done = make(chan error, 1)
	go func() { g.done <- g.cmd.Wait(); logf.Close() }()
}

// cpuTime is the process's user + system CPU time from /proc/<pid>/stat.
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func rssKiB(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}
