package chaos

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/test/internal/chain"
)

// TestSoak runs the load generator as fast as the broker takes it for VAGT_SOAK_DURATION
// (`make soak DURATION=30m`) through Mosquitto into ingest and InfluxDB, with the alarm lane
// active (the generator's alarms, and a probe alarm a second whose way to the care staff's
// stream is timed), and reports throughput, alarm latency percentiles, the resident memory
// of every process over time, and that nothing was lost. Skipped without the variable.
func TestSoak(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("VAGT_SOAK_DURATION"))
	if err != nil || dur <= 0 {
		t.Skip("set VAGT_SOAK_DURATION (make soak DURATION=30m)")
	}
	homes, _ := strconv.Atoi(cmp.Or(os.Getenv("VAGT_SOAK_HOMES"), "2000"))
	// The offered load: VAGT_SOAK_RATE readings/s (the national 50,000 by default), each home
	// a batch of 100 readings every interval, and VAGT_SOAK_ALARMS alarms/s spread over the
	// homes. A rate above what the chain drains only fills the broker's queue until it drops
	// (Mosquitto's max_queued_messages), which measures the queue, not the platform; the
	// generator says what it reached when the broker took less than offered.
	rate, _ := strconv.ParseFloat(cmp.Or(os.Getenv("VAGT_SOAK_RATE"), "50000"), 64)
	alarmsPerS, _ := strconv.ParseFloat(cmp.Or(os.Getenv("VAGT_SOAK_ALARMS"), "10"), 64)
	if homes < 1 || rate <= 0 || alarmsPerS <= 0 {
		t.Fatalf("VAGT_SOAK_HOMES %d, VAGT_SOAK_RATE %g, VAGT_SOAK_ALARMS %g: each must be positive", homes, rate, alarmsPerS)
	}
	interval := time.Duration(float64(homes*100) / rate * float64(time.Second))
	alarmEvery := max(1, int(float64(homes)/(alarmsPerS*interval.Seconds())+0.5))
	p := startPlatform(t, chain.Build(t), productionAutosave)
	w := newWatcher("http://"+p.apiAddr+"/api/v1/alerts/stream", func() string { return p.token })
	ctx, stop := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	defer func() { stop(); bg.Wait() }()
	bg.Go(func() { w.run(ctx) })

	// Memory of every process: Mosquitto, InfluxDB, ingest, the api, and this one (the
	// load generator runs in it).
	type sample struct {
		at                                  time.Duration
		broker, influx, ingest, api, itself int64
	}
	var (
		samplesMu sync.Mutex
		samples   []sample
	)
	start := time.Now()
	bg.Go(func() {
		tick := time.NewTicker(max(dur/20, 5*time.Second))
		defer tick.Stop()
		for {
			s := sample{at: time.Since(start).Round(time.Second), broker: rss(p.broker.PID()), influx: rss(p.influx.PID()),
				ingest: rss(p.ingest.PID()), api: rss(p.api.PID()), itself: rss(os.Getpid())}
			samplesMu.Lock()
			samples = append(samples, s)
			samplesMu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})

	// The probe: a real-time alarm a second from a gateway of its own, each its own alert.
	probe := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(p.broker.URL()).SetClientID("soak-probe"))
	if tok := probe.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("probe: %v", tok.Error())
	}
	defer probe.Disconnect(100)
	sentAt := map[vagt.DeviceID]time.Time{}
	var sentMu sync.Mutex
	bg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for n := uint64(1); ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			dev := vagt.DeviceID(fmt.Sprintf("probe:%d", n))
			now := time.Now()
			payload, err := vagt.EncodeAlarm(&vagt.Alarm{Gateway: "gw-soak-probe", Seq: n, Municipality: municipality,
				Time: now.Truncate(time.Millisecond), Device: dev, Type: vagt.AlarmPanic, Priority: vagt.AlarmPanic.Priority()})
			if err != nil {
				t.Error(err)
				return
			}
			sentMu.Lock()
			sentAt[dev] = now
			sentMu.Unlock()
			probe.Publish(vagt.Topic("gw-soak-probe", vagt.LaneAlarm), 1, false, payload).Wait()
		}
	})

	rep, err := load.Run(t.Context(), load.Config{Broker: p.broker.URL(), ClientID: "soak-load", Homes: homes, Sensors: 10, Samples: 10,
		Duration: dur, Interval: interval, AlarmEvery: alarmEvery, Prefix: "soak"})
	if err != nil {
		t.Fatalf("load: %v (report so far %+v)", err, rep.Readings)
	}
	reached := float64(rep.Readings) / rep.Elapsed.Seconds()

	// Zero loss: every acknowledged reading in InfluxDB (counted per gateway), every alarm
	// received by the api.
	var stored int
	settled(t, "InfluxDB to hold every reading", func() (bool, string) {
		n, err := p.countAll(t.Context(), "reading", "soak-")
		stored = n
		return err == nil && uint64(n) >= rep.Readings, fmt.Sprintf("%d of %d (%v)", n, rep.Readings, err)
	})
	sentMu.Lock()
	probes := len(sentAt)
	sentMu.Unlock()
	settled(t, "the probe alarms on the stream", func() (bool, string) {
		sentMu.Lock()
		defer sentMu.Unlock()
		n := 0
		for dev := range sentAt {
			if _, ok := w.arrived(dev); ok {
				n++
			}
		}
		return n == len(sentAt), strconv.Itoa(n)
	})
	stop()
	bg.Wait()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	db := p.db(t)
	var receipts int
	must(db.QueryRowContext(t.Context(), `SELECT count(*) FROM alarm_receipts WHERE gateway_id LIKE 'soak-%'`).Scan(&receipts))

	var lat []time.Duration
	for dev, at := range sentAt {
		if got, ok := w.arrived(dev); ok {
			lat = append(lat, got.Sub(at))
		}
	}
	slices.Sort(lat)
	var b strings.Builder
	fmt.Fprintf(&b, "soak %s: %d homes × 10 sensors × 10 samples a batch every %s (offered %.0f readings/s, %.0f alarms/s), %d readings acknowledged in %s = %.0f readings/s; stored %d (lost %d)\n",
		dur, homes, interval, rate, alarmsPerS, rep.Readings, rep.Elapsed.Round(time.Second), reached, stored, int64(rep.Readings)-int64(stored))
	fmt.Fprintf(&b, "alarms: %d from the generator, %d received by the api (lost %d); probe alarms %d, on the stream %d, latency p50 %s p99 %s max %s\n",
		rep.Alarms, receipts, int64(rep.Alarms)-int64(receipts), probes, len(lat), ms(percentile(lat, .5)), ms(percentile(lat, .99)), ms(percentile(lat, 1)))
	b.WriteString("resident memory (MiB)   t  mosquitto  influxd  ingest     api  load\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "%24s  %9.1f  %7.1f  %6.1f  %6.1f  %4.1f\n", s.at, mib(s.broker), mib(s.influx), mib(s.ingest), mib(s.api), mib(s.itself))
	}
	t.Log(b.String())
	if uint64(stored) != rep.Readings {
		t.Errorf("InfluxDB holds %d readings, the broker acknowledged %d", stored, rep.Readings)
	}
	if uint64(receipts) != rep.Alarms {
		t.Errorf("the api received %d alarms, the broker acknowledged %d", receipts, rep.Alarms)
	}
	if len(lat) != probes {
		t.Errorf("%d of %d probe alarms reached the stream", len(lat), probes)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// rss is a process's resident set size in bytes, 0 when unknown.
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
