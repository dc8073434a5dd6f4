package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/deploy/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// settings of a run: the short one in `make test` holds each fault for 2 s (standing in
// for minutes: a cut uplink is a cut uplink, the spool fills at a burst's pace rather than
// in ten minutes of 4G outage); `make test-chaos` holds longer and repeats.
type settings struct {
	hold     time.Duration // how long a fault lasts, and the quiet after it
	rounds   int
	interval time.Duration // between readings of one home
	alarmGap time.Duration
}

func settingsFromEnv(t *testing.T) settings {
	s := settings{hold: 2 * time.Second, rounds: 1, interval: 10 * time.Millisecond, alarmGap: 300 * time.Millisecond}
	if v := os.Getenv("VAGT_CHAOS_HOLD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("VAGT_CHAOS_HOLD: %v", err)
		}
		s.hold = d
	}
	if v := os.Getenv("VAGT_CHAOS_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("VAGT_CHAOS_ROUNDS %q", v)
		}
		s.rounds = n
	}
	return s
}

type alarmRecord struct {
	home  *home
	dev   vagt.DeviceID
	at    time.Time
	phase int
}

// knownLossy are the faults whose losses the short run reports rather than fails on, each
// with what was found (docs/resilience.md). VAGT_CHAOS_STRICT=1 fails on them too.
var knownLossy = map[string]string{
	"kill -9 mosquitto": "what the broker had acknowledged and not saved, and what gateways published before ingest " +
		"resubscribed: Mosquitto 2.0.11 does not restore shared subscriptions",
	"kill -9 influxdb": "none expected: InfluxDB fsyncs its WAL before it answers",
	"gateway restart":  "readings the stopped gateway had spooled (counted as heard) and never delivered: open finding",
}

// settled waits until cond holds, or until its state has not changed for 15 s (what is
// lost stays lost; the counts then tell what).
func settled(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	since := time.Now()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ok, state := cond()
		if ok {
			return
		}
		if state != last {
			last, since = state, time.Now()
		} else if time.Since(since) > 15*time.Second {
			t.Logf("%s: settled short: %s", what, state)
			return
		}
	}
	t.Fatalf("gave up waiting for %s: %s", what, last)
}

func TestChaos(t *testing.T) {
	set := settingsFromEnv(t)
	p := startPlatform(t)
	homes := []*home{startHome(t, 1, p.broker.URL(), false), startHome(t, 2, p.broker.URL(), false),
		startHome(t, 3, p.broker.URL(), true)}
	alarmHomes, fill := homes[:2], homes[2]

	watchCtx, stopWatch := context.WithCancel(context.Background())
	w := newWatcher("http://"+p.apiAddr+"/api/v1/alerts/stream", func() string { return p.token })
	var watching sync.WaitGroup
	watching.Go(func() { w.run(watchCtx) })
	defer func() { stopWatch(); watching.Wait() }()

	// The units start sending once their gateways listen (a pty keeps what is sent before,
	// see home.down).
	for _, h := range homes {
		waitUntil(t, string(h.id)+" to hear its unit", func() bool {
			_ = h.unit.Heartbeat(time.Second, true, 100)
			heard, _ := h.totals()
			return heard > 0
		}, nil)
	}
	rep := &report{}
	var phase atomic.Int64
	begin := func(name string) {
		rep.phases = append(rep.phases, phaseRecord{name: name, start: time.Now()})
		phase.Store(int64(len(rep.phases) - 1))
	}
	begin("baseline")

	// Steady load: every home's sensors, and a panic press every alarmGap somewhere.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var load sync.WaitGroup
	for _, h := range homes {
		load.Go(func() {
			tick := time.NewTicker(set.interval)
			defer tick.Stop()
			for {
				select {
				case <-loadCtx.Done():
					return
				case <-tick.C:
					if err := h.reading("t", 100); err != nil {
						t.Errorf("%s: %v", h.id, err)
						return
					}
				}
			}
		})
	}
	var (
		alarmsMu sync.Mutex
		alarms   []alarmRecord
	)
	load.Go(func() {
		tick := time.NewTicker(set.alarmGap)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
			}
			h := alarmHomes[n%len(alarmHomes)]
			at := time.Now()
			dev := h.alarm(n)
			alarmsMu.Lock()
			alarms = append(alarms, alarmRecord{home: h, dev: dev, at: at, phase: int(phase.Load())})
			alarmsMu.Unlock()
		}
	})

	ctx := t.Context()
	sleep := func() { time.Sleep(set.hold) }
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	type fault struct {
		name            string
		inject, recover func() error
	}
	faults := []fault{
		{"kill -9 mosquitto", p.broker.Kill, func() error { return p.broker.Start(ctx) }},
		{"kill -9 influxdb", p.influx.Kill, func() error { return p.influx.Start(ctx) }},
		{"ingest crash+restart", p.ingest.Stop, func() error { p.ingest.Start(); return nil }},
		{"api crash+restart", p.api.Stop, func() error { p.api.Start(); return nil }},
		{"gateway restart", func() error { alarmHomes[1].down.Store(true); return alarmHomes[1].gw.Stop() },
			func() error { alarmHomes[1].gw.Start(); alarmHomes[1].down.Store(false); return nil }},
		{"uplink cut, spool full", func() error {
			fill.uplink.Cut()
			_, before := fill.totals()
			// A burst fills the 64 KiB spool (~2,000 readings) while the link is down:
			// the oldest telemetry goes, and the gateway counts what it dropped.
			for n := 0; n < 20000; n++ {
				if n%500 == 0 {
					if _, d := fill.totals(); d > before {
						break
					}
				}
				if err := fill.reading("b", 400); err != nil {
					return err
				}
			}
			return nil
		}, func() error { fill.uplink.Restore(); return nil }},
	}
	only := os.Getenv("VAGT_CHAOS_FAULTS") // a comma-separated list of fault names; "" all
	sleep()
	for round := 0; round < set.rounds; round++ {
		for _, f := range faults {
			if only != "" && !slices.Contains(strings.Split(only, ","), f.name) {
				continue
			}
			begin(f.name)
			must(f.inject())
			sleep()
			must(f.recover())
			sleep()
			rep.injected++
		}
	}
	begin("after")
	sleep()
	stopLoad()
	load.Wait()
	rep.end = time.Now()

	// Reconcile: wait until everything produced has arrived where it should (or nothing
	// moves any more: what a fault lost stays lost), then count.
	want := func(h *home) int {
		heard, dropped := h.totals()
		return int(heard - dropped)
	}
	var state string
	settled(t, "the spools to empty and InfluxDB to hold every reading", func() (bool, string) {
		done := true
		state = ""
		for _, h := range homes {
			s, ok := h.snapshot()
			n, err := p.count(ctx, "reading", string(h.id))
			heard, dropped := h.totals()
			state += fmt.Sprintf("%s: running %t depth %d alarms %d uplink %t stored %d heard %d dropped %d err %v; ",
				h.id, ok, s.SpoolDepth, s.Spool.Alarms, s.UplinkUp, n, heard, dropped, err)
			if !ok || s.SpoolDepth != 0 || s.Spool.Alarms != 0 || err != nil {
				return false, state
			}
			if n < want(h) {
				done = false
			}
		}
		return done, state
	})
	settled(t, "every alarm on the stream", func() (bool, string) {
		n := 0
		for _, a := range alarms {
			if _, ok := w.arrived(a.dev); ok {
				n++
			}
		}
		return n == len(alarms), strconv.Itoa(n)
	})

	for _, h := range homes {
		heard, dropped := h.totals()
		stored, err := p.count(ctx, "reading", string(h.id))
		must(err)
		var nAlarms int
		for _, a := range alarms {
			if a.home == h {
				nAlarms++
			}
		}
		storedAlarms, err := p.count(ctx, "alarm", string(h.id))
		must(err)
		rep.homes = append(rep.homes, homeRecord{id: h.id, produced: h.produced.Load(), heard: heard, dropped: dropped,
			stored: uint64(stored), alarms: nAlarms, storedAlarms: storedAlarms})
		if heard < h.produced.Load()+uint64(nAlarms) {
			t.Errorf("%s: the gateway heard %d readings; the unit sent %d and %d alarms", h.id, heard, h.produced.Load(), nAlarms)
		}
		// Which of the unit's readings are missing, by the fault during which it was sent.
		got, err := p.temperatures(ctx, h.id)
		must(err)
		missing := make([]int, len(rep.phases))
		h.sentMu.Lock()
		for _, r := range h.sent {
			k := keyOf(r.dev, r.value)
			if got[k] > 0 {
				got[k]--
				continue
			}
			missing[rep.lossPhase(r.at)]++
		}
		h.sentMu.Unlock()
		for k, n := range got {
			if n > 0 {
				t.Errorf("%s: %d readings of %s value %v in InfluxDB that the unit did not send (or twice)", h.id, n, k.dev, float64(k.value)/100)
			}
		}
		if h == fill {
			// The readings the full spool dropped were all sent while the uplink was cut.
			for i, ph := range rep.phases {
				if ph.name == "uplink cut, spool full" {
					take := min(uint64(missing[i]), dropped)
					missing[i] -= int(take)
					dropped -= take
				}
			}
		}
		for i, n := range missing {
			rep.phases[i].lostReadings += n
		}
	}
	if _, dropped := fill.totals(); dropped == 0 && (only == "" || strings.Contains(only, "spool")) {
		t.Errorf("%s: the spool-full fault dropped nothing: the burst did not fill it", fill.id)
	}

	// Every alarm exactly one alert, every alert on the stream.
	must(p.api.Stop())
	db, err := sql.Open("sqlite", p.dbPath)
	must(err)
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT id, device_id, count FROM alerts WHERE type <> ?`, int(vagt.AlarmGatewayOffline))
	must(err)
	alertsOf := map[vagt.DeviceID][]int{}
	for rows.Next() {
		var (
			id, count int
			dev       string
		)
		must(rows.Scan(&id, &dev, &count))
		alertsOf[vagt.DeviceID(dev)] = append(alertsOf[vagt.DeviceID(dev)], count)
		if !w.sawAlert(int64(id)) {
			t.Errorf("alert %d (%s) never reached the stream", id, dev)
		}
	}
	must(rows.Err())
	for _, a := range alarms {
		arrived, ok := w.arrived(a.dev)
		c := alertsOf[a.dev]
		switch {
		case !ok && len(c) == 0:
			rep.phases[a.phase].lostAlarms++
		case len(c) != 1:
			t.Errorf("alarm of %s: alerts with counts %v, want exactly one alert", a.dev, c)
		case !ok:
			t.Errorf("alarm of %s: an alert, but never on the stream", a.dev)
		default:
			rep.latency(a.phase, arrived.Sub(a.at))
			// A unit repeats an alarm frame until acked; a gateway that stopped between
			// spooling the alarm and acking the frame raises it again after its restart,
			// and the api folds the repeat into the same alert (count 2): one alert still.
			rep.phases[a.phase].folded += c[0] - 1
		}
		delete(alertsOf, a.dev)
	}
	for dev := range alertsOf {
		t.Errorf("an alert for %s, which raised no alarm", dev)
	}
	// What a kill -9 of the broker or of InfluxDB costs is measured and reported (see
	// docs/resilience.md); every other fault must lose nothing. VAGT_CHAOS_STRICT=1
	// holds those two to the same promise.
	strict := os.Getenv("VAGT_CHAOS_STRICT") == "1"
	for _, ph := range rep.phases {
		if ph.lostReadings+ph.lostAlarms == 0 {
			continue
		}
		why, known := knownLossy[ph.name]
		if strict || !known || ph.lostAlarms > 0 {
			t.Errorf("%s: %d readings and %d alarms lost", ph.name, ph.lostReadings, ph.lostAlarms)
		} else {
			t.Logf("FINDING: %s lost %d readings (%s)", ph.name, ph.lostReadings, why)
		}
	}
	t.Logf("chaos run (hold %s, %d round(s), stream reconnects %d):\n%s", set.hold, set.rounds, w.connects, rep.table())
	fmt.Fprint(os.Stdout, "")
}
