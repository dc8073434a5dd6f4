// Command bench measures vagt ingest against the ceiling of the InfluxDB it writes to, in
// one run on one machine (make bench-ingest):
//
//	(a) raw: line protocol straight to InfluxDB, 5 tags, 5,000-line batches, a few
//	    concurrent writers — the most this InfluxDB takes here;
//	(b) ingest: the vagt binary (a subprocess, so its CPU and peak RSS are its own) fed by
//	    the load generator through Mosquitto.
//
// It prints sustained readings/s of both, their ratio, ingest CPU seconds per million
// readings and peak RSS, and counts in InfluxDB that every reading sent was stored.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/ingest"
	"github.com/vagt-dk/vagt/test/internal/probe"
	"github.com/vagt-dk/vagt/test/localstack"
)

type options struct {
	vagt      string
	homes     int
	sensors   int
	samples   int
	batches   int
	rawPoints int
	writers   int
	inflight  int
	queue     int
	modes     string
	feeds     string
	prepare   bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var o options
	flag.StringVar(&o.vagt, "vagt", "bin/vagt", "the vagt binary to measure")
	flag.IntVar(&o.homes, "homes", 1000, "gateways the load generator plays")
	flag.IntVar(&o.sensors, "sensors", 25, "sensors per home")
	flag.IntVar(&o.samples, "samples", 20, "readings per sensor per batch (25×20 = 500, a typical batch)")
	flag.IntVar(&o.batches, "batches", 6, "batches per gateway")
	flag.IntVar(&o.rawPoints, "raw-points", 0, "points for the raw ceiling; 0: as many as (b) sends")
	flag.IntVar(&o.writers, "writers", 2, "concurrent writers, raw and ingest")
	flag.IntVar(&o.inflight, "inflight", 1000, "Mosquitto max_inflight_messages")
	flag.IntVar(&o.queue, "ingest-inflight", 1000, "ingest --inflight (its intake queue)")
	flag.StringVar(&o.modes, "modes", "blocking,raw", "ingest write modes to measure: blocking (WriteAPIBlocking.WriteRecord), raw (--influx-raw)")
	flag.BoolVar(&o.prepare, "prepare", true, "live: the load generator encodes every message before the clock starts, as (a) prepares its batches (the gateways' encoding is not on the machine under test); false: it encodes while it publishes")
	flag.StringVar(&o.feeds, "feeds", "live,backlog", "how (b) is fed: live (the load generator publishes while ingest runs, on the same cores), backlog (published into ingest's session first; the clock runs from ingest's start)")
	flag.Parse()
	if o.rawPoints == 0 {
		o.rawPoints = o.homes * o.batches * o.sensors * o.samples
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	fmt.Printf("starting InfluxDB 1.8 and Mosquitto (%d cores)\n", numCPU())
	db, err := localstack.StartInfluxDB(ctx, localstack.InfluxDBOptions{DisableFlux: true})
	if err != nil {
		return err
	}
	defer db.Close()
	mq, err := localstack.StartMosquitto(ctx, localstack.MosquittoOptions{
		Persistence: true, MaxInflightMessages: o.inflight, MaxQueuedMessages: 10_000_000,
	})
	if err != nil {
		return err
	}
	defer mq.Close()

	rawBefore, busyBefore, err := benchRaw(ctx, db, mq, o, "raw_before")
	if err != nil {
		return fmt.Errorf("raw: %w", err)
	}
	var results []ingestResult
	for _, mode := range strings.Split(o.modes, ",") {
		for _, feed := range strings.Split(o.feeds, ",") {
			// The previous phase leaves InfluxDB compacting; measuring through that would
			// charge its work to this phase.
			if err := waitIdle(ctx, db.PID()); err != nil {
				return err
			}
			res, err := benchIngest(ctx, db, mq, o, mode, feed)
			if err != nil {
				return fmt.Errorf("ingest (%s, %s): %w", mode, feed, err)
			}
			results = append(results, res)
		}
	}
	// The ceiling again after (b), on a machine others share: the ratio uses the better of
	// the two, which is the conservative choice.
	if err := waitIdle(ctx, db.PID()); err != nil {
		return err
	}
	rawAfter, busyAfter, err := benchRaw(ctx, db, mq, o, "raw_after")
	if err != nil {
		return fmt.Errorf("raw: %w", err)
	}
	rawRate := max(rawBefore, rawAfter)
	// InfluxDB's cores in the raw run that gave the ceiling: how busy a writer that does
	// nothing else keeps it.
	rawBusy := busyBefore
	if rawAfter > rawBefore {
		rawBusy = busyAfter
	}
	fmt.Println()
	fmt.Printf("(a) raw line protocol → InfluxDB: %.0f points/s, the better of %.0f before and %.0f after (b) (%d points, 5 tags, 5000-line batches, %d writers)\n",
		rawRate, rawBefore, rawAfter, o.rawPoints, o.writers)
	var failed bool
	for _, res := range results {
		fmt.Printf("(b) load → Mosquitto → vagt ingest [%s] → InfluxDB: %.0f readings/s (%d readings + %d alarms in %.2fs)\n",
			res.mode, res.rate, res.readings, res.alarms, res.elapsed.Seconds())
		fmt.Printf("    ratio (b)/(a): %.2f (target ≥ 0.9)\n", res.rate/rawRate)
		// InfluxDB's own CPU per point varies ±15 % between phases (its compactions and
		// caches), and the ratio with it; the cores it was kept busy with say whether
		// ingest fed it as fast as the raw writer did, apart from that variance.
		fmt.Printf("    InfluxDB kept busy: %.2f cores, against %.2f in the raw run of the ceiling: %.2f of it\n",
			res.influxBusy, rawBusy, res.influxBusy/rawBusy)
		fmt.Printf("    ingest CPU: %.2f s user+sys = %.2f CPU-s per million readings (target ≤ 0.4)\n", res.cpu.Seconds(), res.cpu.Seconds()/(float64(res.readings)/1e6))
		fmt.Printf("    ingest peak RSS: %.1f MB (target ≤ 64); intake queue found full %.0f times\n", float64(res.maxRSS)/(1<<20), res.queueFull)
		fmt.Printf("    writes: %.0f of %.0f points on average, %.1f ms each, %.2f in flight on average; load average %s\n",
			res.writes, float64(res.readings+res.alarms)/res.writes, res.writeTime*1000/res.writes, res.writeTime/res.elapsed.Seconds(), res.load)
		fmt.Printf("    %s\n", res.others)
		fmt.Printf("    stored: %d of %d readings, %d of %d alarms: %s\n", res.storedReadings, res.readings, res.storedAlarms, res.alarms, verdict(res))
		failed = failed || res.storedReadings != res.readings || res.storedAlarms != res.alarms
	}
	if failed {
		return errors.New("the database does not hold exactly what was sent")
	}
	return nil
}

// waitIdle waits until the process uses less than a tenth of a core over a second (at most
// a minute), so one phase's background work does not run into the next.
func waitIdle(ctx context.Context, pid int) error {
	prev, err := procCPU(pid)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		cur, err := procCPU(pid)
		if err != nil {
			return err
		}
		if cur-prev < 100*time.Millisecond {
			return nil
		}
		prev = cur
	}
	fmt.Println("InfluxDB still busy after a minute; measuring anyway")
	return nil
}

// procCPU returns the user+system CPU a process has used so far (/proc/PID/stat).
func procCPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil // clock ticks, 100 per second
}

// cpuMeter reads the CPU InfluxDB, Mosquitto and this process (the load generator in (b))
// used during a phase: where the two cores went besides ingest.
type cpuMeter struct {
	pids   [3]int
	before [3]time.Duration
}

func startCPU(db *localstack.InfluxDB, mq *localstack.Mosquitto) *cpuMeter {
	m := &cpuMeter{pids: [3]int{db.PID(), mq.PID(), os.Getpid()}}
	for i, pid := range m.pids {
		m.before[i], _ = procCPU(pid)
	}
	return m
}

// used says the CPU-s each used since startCPU: InfluxDB, Mosquitto, this process.
func (m *cpuMeter) used() [3]float64 {
	var used [3]float64
	for i, pid := range m.pids {
		now, _ := procCPU(pid)
		used[i] = (now - m.before[i]).Seconds()
	}
	return used
}

func cpuText(used [3]float64) string {
	return fmt.Sprintf("CPU-s: InfluxDB %.1f, Mosquitto %.1f, bench+load generator %.1f", used[0], used[1], used[2])
}

func verdict(r ingestResult) string {
	if r.storedReadings == r.readings && r.storedAlarms == r.alarms {
		return "exact, nothing lost"
	}
	return "MISMATCH"
}

func numCPU() int {
	out, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(out), "processor\t:")
}

// benchRaw writes rawPoints of the same shape as ingest's (measurement reading, tags dev gw
// kind mun tech, field value, precision ms) in 5,000-line batches, prepared beforehand.
func benchRaw(ctx context.Context, db *localstack.InfluxDB, mq *localstack.Mosquitto, o options, database string) (rate, influxBusy float64, err error) {
	if err := db.CreateDatabase(ctx, database); err != nil {
		return 0, 0, err
	}
	// The same points as (b) in the same order — gateway after gateway, each batch sample
	// by sample — cut into 5,000-line batches: (b) minus MQTT, decoding and acknowledging.
	const perBatch = 5000
	base := time.Now().Truncate(time.Second).UnixMilli()
	muns := vagt.Municipalities()
	var batches [][]byte
	var buf []byte
	n := 0
	emit := func(line []byte) {
		buf = append(buf, line...)
		n++
		if n%perBatch == 0 {
			batches = append(batches, buf)
			buf = nil
		}
	}
	var line []byte
	for round := 0; n < o.rawPoints; round++ {
		for gw := 0; gw < o.homes && n < o.rawPoints; gw++ {
			for sample := round * o.samples; sample < (round+1)*o.samples && n < o.rawPoints; sample++ {
				for s := 0; s < o.sensors && n < o.rawPoints; s++ {
					// The load generator's own values: whole numbers would compress and parse more
					// cheaply in InfluxDB (~15 % less of its CPU per point) and flatter ingest.
					kind, v := load.SensorReading(s, sample)
					value, err := valueText(kind, v)
					if err != nil {
						return 0, 0, err
					}
					line = fmt.Appendf(line[:0], "reading,dev=0x00158d00%04x%04x,gw=%s,kind=%s,mun=%d,tech=%s value=%s %d\n",
						gw, s, load.GatewayID("load", gw), kind, muns[gw%len(muns)].Code, ingest.TechnologyOf(kind),
						value, base+int64(sample)*1000)
					emit(line)
				}
			}
		}
	}
	if len(buf) > 0 {
		batches = append(batches, buf)
	}
	url := db.URL() + "/api/v2/write?bucket=" + database + "/autogen&precision=ms"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.writers}}
	work := make(chan []byte)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		lastErr error
		busy    time.Duration // summed over writers: the mean writes in flight is busy/elapsed
	)
	cpu := startCPU(db, mq)
	start := time.Now()
	for range o.writers {
		wg.Go(func() {
			for b := range work {
				t := time.Now()
				err := postLines(ctx, client, url, b)
				mu.Lock()
				busy += time.Since(t)
				if err != nil {
					lastErr = err
				}
				mu.Unlock()
			}
		})
	}
	for _, b := range batches {
		work <- b
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	used := cpu.used()
	if lastErr != nil {
		return 0, 0, lastErr
	}
	stored, err := probe.Count(ctx, db.URL(), `SELECT count(value) FROM "`+database+`"."autogen"."reading"`)
	if err != nil {
		return 0, 0, err
	}
	if stored != uint64(o.rawPoints) {
		return 0, 0, fmt.Errorf("raw: stored %d of %d points", stored, o.rawPoints)
	}
	rate = float64(o.rawPoints) / elapsed.Seconds()
	fmt.Printf("(a) raw [%s]: %d points in %.2fs = %.0f points/s (all stored); %d writes of %d points, %.1f ms each, %.2f in flight on average; load average %s\n    %s\n",
		database, o.rawPoints, elapsed.Seconds(), rate, len(batches), perBatch, busy.Seconds()*1000/float64(len(batches)), busy.Seconds()/elapsed.Seconds(), probe.LoadAvg(), cpuText(used))
	return rate, used[0] / elapsed.Seconds(), nil
}

// valueText is v as it reaches InfluxDB through the wire: rounded to the kind's scale.
func valueText(k vagt.Kind, v float64) (string, error) {
	w, err := k.ToWire(v)
	if err != nil {
		return "", err
	}
	v, err = k.FromWire(w)
	return strconv.FormatFloat(v, 'f', -1, 64), err
}

func postLines(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("write: %s: %s", resp.Status, msg)
	}
	return nil
}

type ingestResult struct {
	mode                         string
	queueFull                    float64
	writes, writeTime            float64 // writes to InfluxDB and their summed duration (s)
	load                         string  // load average when (b) ended
	others                       string  // CPU of InfluxDB, Mosquitto and the load generator in (b)
	influxBusy                   float64 // InfluxDB's CPU-s per second of (b): the cores it was kept busy with
	readings, alarms             uint64
	storedReadings, storedAlarms uint64
	elapsed                      time.Duration
	rate                         float64
	cpu                          time.Duration
	maxRSS                       int64
}

// benchIngest measures one write mode fed one way:
//   - live: the load generator publishes while ingest runs, as fast as Mosquitto takes it;
//     the clock runs from the first publish. The generator (here; gateways elsewhere in
//     production) encodes and publishes on the same two cores as InfluxDB.
//   - backlog: ingest subscribes once and stops, the load generator publishes everything
//     into its persistent session, and the clock runs from ingest's start again until all
//     is written: Mosquitto → ingest → InfluxDB alone, as (a) is InfluxDB alone, and what
//     catching up after an ingest outage looks like.
func benchIngest(ctx context.Context, db *localstack.InfluxDB, mq *localstack.Mosquitto, o options, mode, feed string) (ingestResult, error) {
	res := ingestResult{mode: mode + "/" + feed}
	database := "ingest_" + mode + "_" + feed
	port, err := localstack.FreePort()
	if err != nil {
		return res, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"ingest", "--broker", mq.URL(), "--client-id", "bench-ingest-" + mode + "-" + feed,
		// A group per run: the previous run's session, persistent and still subscribed,
		// would otherwise take its share of this run's messages.
		"--group", "bench-" + mode + "-" + feed,
		"--influx-url", db.URL(), "--influx-bucket", database + "/autogen", "--influx-token", db.Token,
		"--http", addr, "--batch-points", "5000", "--inflight", strconv.Itoa(o.queue),
		"--writers", strconv.Itoa(o.writers), "--log-level", "warn"}
	switch mode {
	case "raw":
		args = append(args, "--influx-raw=true")
	case "blocking":
		args = append(args, "--influx-raw=false")
	default:
		return res, fmt.Errorf("unknown mode %q", mode)
	}
	if feed != "live" && feed != "backlog" {
		return res, fmt.Errorf("unknown feed %q", feed)
	}
	var cmd *exec.Cmd
	startIngest := func() error {
		cmd = exec.CommandContext(ctx, o.vagt, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Start()
	}
	stopIngest := func() error {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return err
		}
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("vagt ingest: %w", err)
		}
		return nil
	}
	defer func() {
		if cmd != nil && cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	if err := startIngest(); err != nil {
		return res, err
	}
	if err := probe.WaitReady(ctx, addr); err != nil { // ready: connected and subscribed
		return res, err
	}
	cfg := load.Config{Broker: mq.URL(), Homes: o.homes, Sensors: o.sensors, Samples: o.samples, Batches: o.batches,
		AlarmEvery: 3, Conns: 4, Window: 512, Prefix: "load"} // as (a)'s gateway ids: the same lines, byte for byte, but for the times
	var (
		cpu    *cpuMeter
		start  time.Time
		report load.Report
		sent   time.Duration
	)
	if feed == "live" {
		how := "encoded while published"
		if o.prepare {
			how = "encoded before the clock starts"
		}
		fmt.Printf("(b) ingest [%s]: %d homes × %d batches of %d readings, as fast as the broker takes them (%s)\n", res.mode, o.homes, o.batches, o.sensors*o.samples, how)
		// The clock starts when every connection is open (and, prepared, every message
		// encoded), just before the first publish.
		cfg.Prepare = o.prepare
		cfg.Ready = func() { cpu, start = startCPU(db, mq), time.Now() }
		if report, err = load.Run(ctx, cfg); err != nil {
			return res, err
		}
		sent = time.Since(start)
	} else {
		if err := stopIngest(); err != nil {
			return res, err
		}
		fmt.Printf("(b) ingest [%s]: %d homes × %d batches of %d readings published into its session, then ingest started\n", res.mode, o.homes, o.batches, o.sensors*o.samples)
		t := time.Now()
		if report, err = load.Run(ctx, cfg); err != nil {
			return res, err
		}
		sent = time.Since(t)
		cpu, start = startCPU(db, mq), time.Now()
		if err := startIngest(); err != nil {
			return res, err
		}
		if err := probe.WaitReady(ctx, addr); err != nil {
			return res, err
		}
	}
	res.readings, res.alarms = report.Readings, report.Alarms
	want := float64(report.Readings + report.Alarms)
	// Each scrape costs ingest a full /metrics gather (a profile showed a fixed 20 ms
	// poll at about a third of ingest's CPU in this phase, and 500 ms polls still ~5 %),
	// and that CPU counts in the CPU-s per million below. So wait about half the time the
	// rest should take at the rate seen so far, between 20 ms (the end is still seen within
	// 20 ms) and 2 s.
	for {
		v, err := probe.Scrape(ctx, addr, "vagt_ingest_points_written_total")
		if err != nil {
			return res, err
		}
		if v >= want {
			break
		}
		wait := 2 * time.Second
		if el := time.Since(start); v > 0 {
			wait = min(wait, time.Duration(float64(el)*(want-v)/v/2))
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(max(wait, 20*time.Millisecond)):
		}
	}
	res.elapsed = time.Since(start)
	if res.queueFull, err = probe.Scrape(ctx, addr, "vagt_ingest_queue_full_total"); err != nil {
		return res, err
	}
	if res.writes, err = probe.Scrape(ctx, addr, "vagt_ingest_write_duration_seconds_count"); err != nil {
		return res, err
	}
	if res.writeTime, err = probe.Scrape(ctx, addr, "vagt_ingest_write_duration_seconds_sum"); err != nil {
		return res, err
	}
	res.load = probe.LoadAvg()
	used := cpu.used()
	res.others = cpuText(used)
	res.influxBusy = used[0] / res.elapsed.Seconds()
	res.rate = float64(report.Readings) / res.elapsed.Seconds()
	fmt.Printf("(b) load published in %.2fs (%.0f readings/s); ingest had written everything after %.2fs\n",
		sent.Seconds(), float64(report.Readings)/sent.Seconds(), res.elapsed.Seconds())
	// Peak RSS from the kernel's high-water mark of this process's own memory. (Rusage's
	// Maxrss would include the bench's own RSS: exec records the forking image's peak.)
	if res.maxRSS, err = vmHWM(cmd.Process.Pid); err != nil {
		return res, err
	}
	if err := stopIngest(); err != nil {
		return res, err
	}
	res.cpu = probe.CPU(cmd.ProcessState)
	if res.storedReadings, err = probe.Count(ctx, db.URL(), `SELECT count(value) FROM "`+database+`"."autogen"."reading"`); err != nil {
		return res, err
	}
	if res.storedAlarms, err = probe.Count(ctx, db.URL(), `SELECT count(seq) FROM "`+database+`"."autogen"."alarm"`); err != nil {
		return res, err
	}
	return res, nil
}

// vmHWM returns a process's peak resident set size in bytes.
func vmHWM(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/pid/status")
}
