package chaos

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/test/internal/chain"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// settings of a run: the short one in `make test` holds each fault for 2 s (the uplink cut
// runs ten minutes of device time in that hold, see deviceClock); `make test-chaos` holds
// longer and repeats.
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

// The load generator's share of the steady load (see TestChaos).
const (
	genHomes      = 10 // × 100 readings a second
	genAlarmEvery = 4  // batches: one alarm every 4 s per home, 2.5 a second in all
)

// knownLossy are the faults whose losses the short run reports rather than fails on, each
// with what was found (docs/resilience.md). VAGT_CHAOS_STRICT=1 fails on them too. Alarms
// are never in it: a lost alarm fails every run.
var knownLossy = map[string]string{
	"kill -9 mosquitto": "what the broker had acknowledged and not saved, and what gateways published before ingest " +
		"resubscribed: Mosquitto 2.0.11 does not restore shared subscriptions",
	"kill -9 influxdb": "none expected: InfluxDB fsyncs its WAL before it answers",
	"kill -9 gateway": "readings the gateway had read from the serial line and not yet committed to its spool: " +
		"a serial reading carries no acknowledgement, so nothing acknowledged is lost",
}

// The uplink cut covers ten minutes of device time: the cut home's unit runs on a clock
// that is faster than the wall clock by cutDeviceTime/hold, and on that clock each of
// cutSensors sensors reports every cutPeriod and a panic button is pressed every
// cutAlarmEvery (docs/resilience.md, "simulated time").
const (
	cutDeviceTime = 10 * time.Minute
	cutSensors    = 100
	cutPeriod     = 50 * time.Second // → 1,200 readings in ten minutes
	cutAlarmEvery = 2 * time.Minute  // → 5 alarms, at minutes 1, 3, 5, 7 and 9
)

// deviceClock runs the cut home's profile for span of device time in wall-clock time wall,
// calling reading at each sensor report and alarm at each press; it returns how many
// readings it sent.
func deviceClock(span, wall time.Duration, reading func() error, alarm func(at time.Duration)) (int, error) {
	step := cutPeriod / cutSensors
	start := time.Now()
	n := 0
	nextAlarm := cutAlarmEvery / 2
	for dt := time.Duration(0); dt < span; dt += step {
		if wait := time.Until(start.Add(time.Duration(float64(dt) * float64(wall) / float64(span)))); wait > 0 {
			time.Sleep(wait)
		}
		if dt >= nextAlarm {
			alarm(dt)
			nextAlarm += cutAlarmEvery
		}
		if err := reading(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// settled waits until cond holds, or until its state has not changed for 15 s (what is
// lost stays lost; the counts then tell what).
func settled(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	since := time.Now()
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
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
	bins := chain.Build(t)
	p := startPlatform(t, bins, chaosAutosave)
	url := p.broker.URL()
	homes := []*home{
		startHome(t, 1, bins, p.broker, homeOptions{}),
		startHome(t, 2, bins, p.broker, homeOptions{}),                                // killed with SIGKILL
		startHome(t, 3, bins, p.broker, homeOptions{cut: true}),                       // its uplink cut for ten device minutes
		startHome(t, 4, bins, p.broker, homeOptions{cut: true, spoolBytes: 64 << 10}), // its spool filled
	}
	alarmHomes, killed, cutHome, fill := homes[:2], homes[1], homes[2], homes[3]

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
			s, ok := h.snapshot()
			return ok && s.Counters.Readings > 0
		}, nil)
	}
	rep := &report{}
	var phase atomic.Int64
	begin := func(name string) {
		rep.phases = append(rep.phases, phaseRecord{name: name, start: time.Now()})
		phase.Store(int64(len(rep.phases) - 1))
	}
	begin("baseline")

	var (
		alarmsMu sync.Mutex
		alarms   []alarmRecord
	)
	press := func(h *home, name string) vagt.DeviceID {
		at := time.Now()
		dev := h.alarm(name)
		alarmsMu.Lock()
		alarms = append(alarms, alarmRecord{home: h, dev: dev, at: at, phase: int(phase.Load())})
		alarmsMu.Unlock()
		return dev
	}
	// Steady load: every home's sensors, and a panic press every alarmGap somewhere.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var loading sync.WaitGroup
	for _, h := range homes {
		loading.Go(func() {
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
	loading.Go(func() {
		tick := time.NewTicker(set.alarmGap)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
			}
			press(alarmHomes[n%len(alarmHomes)], "a"+strconv.Itoa(n))
		}
	})

	// And the load generator beside the units, as `vagt-sim load` plays homes straight to
	// the broker: genHomes homes, a batch of 100 readings each a second, an alarm every
	// genAlarmEvery batches. The broker's kill ends its connections; each run after that
	// plays new gateway ids (gen1-…, gen2-…), so no two runs write the same series and time.
	// What counts is what the broker acknowledged (load.Report).
	var (
		genMu     sync.Mutex
		genAcked  load.Report
		genRuns   int
		genFailed uint64
	)
	var fleet *fleetGenerator
	if p.broker.login(t, "svc_api") != nil {
		fleet = newFleetGenerator(t, p.broker)
	}
	loading.Go(func() {
		if fleet != nil { // one connection per home, each with its own certificate
			r, err := fleet.run(loadCtx)
			genMu.Lock()
			genRuns, genAcked, genFailed = 1, r, r.Failed
			genMu.Unlock()
			if err != nil {
				t.Errorf("%v", err)
			}
			return
		}
		for loadCtx.Err() == nil {
			genRuns++
			r, err := load.Run(loadCtx, load.Config{Broker: url, ClientID: fmt.Sprintf("chaos-gen%d", genRuns), Homes: genHomes,
				Sensors: 10, Samples: 10, Interval: time.Second, AlarmEvery: genAlarmEvery, Prefix: fmt.Sprintf("gen%d", genRuns),
				Duration: 24 * time.Hour}) // until the load stops
			genMu.Lock()
			genAcked.Readings += r.Readings
			genAcked.Alarms += r.Alarms
			genAcked.Batches += r.Batches
			genFailed += r.Failed
			genMu.Unlock()
			if err != nil && loadCtx.Err() == nil {
				if genRuns <= 3 || r.Readings == 0 && genRuns%20 == 0 || os.Getenv("VAGT_CHAOS_DEBUG") == "1" {
					t.Logf("load generator run %d: %d readings acknowledged, then %v", genRuns, r.Readings, err)
				}
				time.Sleep(500 * time.Millisecond) // the broker is down; try again
			}
		}
	})

	ctx := t.Context()
	sleep := func() { time.Sleep(set.hold) }
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The uplink cut, per round: the alarms raised during it, when the link came back, how
	// deep the spool was then.
	type cutRecord struct {
		readings int
		alarms   []vagt.DeviceID
		depth    uint64
		dropped  uint64
		restored time.Time
	}
	var cuts []*cutRecord
	var failedBefore int
	type fault struct {
		name            string
		inject, recover func() error
	}
	var faults []fault
	for _, f := range p.broker.faults(ctx, t, rep) {
		faults = append(faults, fault(f))
	}
	faults = append(faults, []fault{
		{"kill -9 influxdb", p.influx.Kill, func() error { return p.influx.Start(ctx) }},
		{"kill -9 postgresql", func() error {
			failedBefore = chain.CountLines(p.api.Log, "commit failed")
			return p.postgres.Kill()
		}, func() error {
			if err := p.postgres.Start(ctx); err != nil {
				return err
			}
			// How many times the api's alarm lane failed to store an alarm meanwhile:
			// each such message stayed unacknowledged and was retried (alarmlane).
			waitUntil(t, "the api to store again", func() bool { return ready("http://" + p.apiAddr + "/readyz") }, nil)
			rep.notes = append(rep.notes, fmt.Sprintf("kill -9 postgresql: the api's alarm lane failed %d commit attempts, acknowledged none of those messages, and retried until they were stored",
				chain.CountLines(p.api.Log, "commit failed")-failedBefore))
			return nil
		}},
		{"kill -9 ingest", p.ingest.Kill, p.ingest.Start},
		{"kill -9 api", p.api.Kill, p.api.Start},
		{"kill -9 gateway", func() error {
			s, _ := killed.snapshot()
			err := killed.kill()
			rep.notes = append(rep.notes, fmt.Sprintf("kill -9 gateway: %s killed at %s with %d items in its spool (%d alarms), %d items acknowledged by the broker in that run; restarted on the same spool",
				killed.id, time.Now().Format("15:04:05.000"), s.SpoolDepth, s.Spool.Alarms, s.Sent))
			return err
		}, killed.restart},
		{"uplink cut, 10 min device time", func() error {
			c := &cutRecord{}
			cuts = append(cuts, c)
			cutHome.uplink.Cut()
			n, err := deviceClock(cutDeviceTime, set.hold, func() error { return cutHome.reading("c", cutSensors) },
				func(at time.Duration) {
					c.alarms = append(c.alarms, press(cutHome, fmt.Sprintf("cut%d-%s", len(cuts), at)))
				})
			c.readings = n
			return err
		}, func() error {
			c := cuts[len(cuts)-1]
			s, ok := cutHome.snapshot()
			if !ok {
				return fmt.Errorf("%s: no status", cutHome.id)
			}
			c.depth, c.dropped = s.SpoolDepth, s.Spool.DroppedReadings
			c.restored = time.Now()
			cutHome.uplink.Restore()
			return nil
		}},
		{"uplink cut, spool full", func() error {
			fill.uplink.Cut()
			before := fill.dropped()
			// A burst fills the 64 KiB spool (~2,000 readings) while the link is down:
			// the oldest telemetry goes, and the gateway counts what it dropped. Two
			// alarms raised then must survive the rest of the burst.
			pressed := 0
			for n := 0; n < 40000; n++ {
				if n%500 == 0 && fill.dropped() > before {
					if pressed == 2 {
						break
					}
					press(fill, fmt.Sprintf("full%d-%d", len(rep.phases), pressed))
					pressed++
				}
				if err := fill.reading("b", 400); err != nil {
					return err
				}
			}
			return nil
		}, func() error { fill.uplink.Restore(); return nil }},
	}...)
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
	loading.Wait()
	rep.end = time.Now()

	// Reconcile: wait until everything produced has arrived where it should (or nothing
	// moves any more: what a fault lost stays lost), then count.
	settled(t, "the spools to empty and InfluxDB to hold every reading", func() (bool, string) {
		done := true
		state := ""
		for _, h := range homes {
			s, ok := h.snapshot()
			n, err := p.countWhere(ctx, "reading", fmt.Sprintf("gw = '%s' AND kind = 'temperature'", h.id))
			state += fmt.Sprintf("%s: running %t depth %d alarms %d uplink %t stored %d sent %d dropped %d err %v; ",
				h.id, ok, s.SpoolDepth, s.Spool.Alarms, s.UplinkUp, n, h.produced.Load(), s.Spool.DroppedReadings, err)
			if !ok || s.SpoolDepth != 0 || s.Spool.Alarms != 0 || err != nil {
				return false, state
			}
			if uint64(n)+s.Spool.DroppedReadings < h.produced.Load() {
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
		dropped := h.dropped()
		got, err := p.temperatures(ctx, h.id)
		must(err)
		stored := 0
		for _, n := range got {
			stored += n
		}
		var nAlarms int
		for _, a := range alarms {
			if a.home == h {
				nAlarms++
			}
		}
		storedAlarms, err := p.count(ctx, "alarm", string(h.id))
		must(err)
		rep.homes = append(rep.homes, homeRecord{id: h.id, produced: h.produced.Load(), dropped: dropped,
			stored: uint64(stored), alarms: nAlarms, storedAlarms: storedAlarms})
		// Which of the unit's readings are missing, by the fault during which it was sent.
		missing := make([]int, len(rep.phases))
		shown := 0
		h.sentMu.Lock()
		for _, r := range h.sent {
			k := keyOf(r.dev, r.value)
			if got[k] > 0 {
				got[k]--
				continue
			}
			missing[rep.lossPhase(r.at)]++
			if h != fill && shown < 20 {
				shown++
				t.Logf("%s: missing %s %.2f sent %s (phase %s)", h.id, r.dev, r.value, r.at.Format("15:04:05.000"), rep.phases[rep.phaseAt(r.at)].name)
			}
		}
		h.sentMu.Unlock()
		for k, n := range got {
			if n > 0 {
				t.Errorf("%s: %d readings of %s value %v in InfluxDB that the unit did not send (or twice)", h.id, n, k.dev, float64(k.value)/100)
			}
		}
		if h == fill {
			// The readings the full spool dropped were all sent while its uplink was cut:
			// they explain that many of those phases' missing readings, and what they do
			// not explain is lost. The count may exceed what is missing: a batch whose
			// publish reached the broker as the link went down, its acknowledgement cut
			// off, goes back to the spool and may be dropped there, yet is delivered.
			left := dropped
			for i, ph := range rep.phases {
				if ph.name == "uplink cut, spool full" {
					take := min(uint64(missing[i]), left)
					missing[i] -= int(take)
					left -= take
				}
			}
			if left != 0 {
				rep.notes = append(rep.notes, fmt.Sprintf("%s: %d of the %d readings its spool counts as dropped are in InfluxDB "+
					"(sent before the cut, acknowledgement lost, then dropped from the spool)", h.id, left, dropped))
			}
		} else if dropped != 0 {
			t.Errorf("%s: its spool dropped %d readings; only %s's spool is meant to fill", h.id, dropped, fill.id)
		}
		for i, n := range missing {
			rep.phases[i].lostReadings += n
		}
	}
	if dropped := fill.dropped(); dropped == 0 && (only == "" || strings.Contains(only, "spool")) {
		t.Errorf("%s: the spool-full fault dropped nothing: the burst did not fill it", fill.id)
	}

	// Every alarm exactly one alert, every alert on the stream.
	db := p.db(t)
	rows, err := db.QueryContext(ctx, `SELECT id, device_id, count FROM alerts WHERE type <> $1 AND gateway_id NOT LIKE 'gen%'`, int(vagt.AlarmGatewayOffline))
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
	rows.Close()
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
			// A unit repeats an alarm frame until acked; a gateway killed between
			// spooling the alarm and acking the frame hears it again after its restart,
			// and the api folds the repeat into the same alert (count 2): one alert still.
			rep.phases[a.phase].folded += c[0] - 1
		}
		delete(alertsOf, a.dev)
	}
	for dev := range alertsOf {
		t.Errorf("an alert for %s, which raised no alarm", dev)
	}
	// The cut: ten device minutes piled up in the spool, nothing dropped, and every alarm
	// raised during it reached the stream after the link came back, not before.
	for i, c := range cuts {
		if c.depth < uint64(c.readings) {
			t.Errorf("cut %d: the spool held %d items when the link came back; the unit sent %d readings during the cut", i+1, c.depth, c.readings)
		}
		if c.dropped != 0 {
			t.Errorf("cut %d: the spool dropped %d readings", i+1, c.dropped)
		}
		if len(c.alarms) != int(cutDeviceTime/cutAlarmEvery) {
			t.Errorf("cut %d: %d alarms pressed, want %d", i+1, len(c.alarms), cutDeviceTime/cutAlarmEvery)
		}
		var first, last time.Duration
		for j, dev := range c.alarms {
			at, ok := w.arrived(dev)
			if !ok {
				continue // counted as lost above
			}
			if at.Before(c.restored) {
				t.Errorf("cut %d: the alarm of %s reached the stream %s before the uplink came back", i+1, dev, c.restored.Sub(at))
			}
			d := at.Sub(c.restored)
			if j == 0 || d < first {
				first = d
			}
			last = max(last, d)
		}
		rep.notes = append(rep.notes, fmt.Sprintf("uplink cut %d: %s of device time in %s (clock ×%.0f): %d readings and %d alarms "+
			"spooled (spool depth %d at restore, %d dropped); the alarms reached the stream %s–%s after the link came back",
			i+1, cutDeviceTime, set.hold, float64(cutDeviceTime)/float64(set.hold), c.readings, len(c.alarms), c.depth, c.dropped, ms(first), ms(last)))
	}
	// The load generator: every reading and alarm the broker acknowledged is stored, the
	// readings in InfluxDB (each series and time once, so a redelivery adds nothing) and the
	// alarms as the api's receipts. More may be stored than acknowledged (a publish whose
	// acknowledgement the broker's kill cut off); fewer is a loss, which only the broker's
	// kill is known to cause (finding 2).
	var genStored, genReceipts int
	settled(t, "the generator's readings in InfluxDB and alarms in the api", func() (bool, string) {
		n, err := p.countWhere(ctx, "reading", "gw =~ /^gen[0-9]+-/")
		genStored = n
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM alarm_receipts WHERE gateway_id LIKE 'gen%'`).Scan(&genReceipts); err != nil {
			return false, err.Error()
		}
		return err == nil && uint64(n) >= genAcked.Readings && uint64(genReceipts) >= genAcked.Alarms,
			fmt.Sprintf("readings %d of %d, alarms %d of %d (%v)", n, genAcked.Readings, genReceipts, genAcked.Alarms, err)
	})
	genLostReadings := max(0, int64(genAcked.Readings)-int64(genStored))
	genLostAlarms := max(0, int64(genAcked.Alarms)-int64(genReceipts))
	rep.notes = append(rep.notes, fmt.Sprintf("load generator: %d runs of %d homes (a new run after each broker kill); the broker acknowledged %d readings "+
		"and %d alarms (%d publishes unacknowledged); stored %d readings (lost %d) and %d alarms (lost %d)",
		genRuns, genHomes, genAcked.Readings, genAcked.Alarms, genFailed, genStored, genLostReadings, genReceipts, genLostAlarms))
	brokerKilled := brokerKind == "mosquitto" && (only == "" || strings.Contains(only, "mosquitto"))
	switch {
	case genAcked.Readings == 0 || genAcked.Alarms == 0:
		t.Errorf("the load generator had %d readings and %d alarms acknowledged: it was not part of the load", genAcked.Readings, genAcked.Alarms)
	case genLostAlarms > 0:
		t.Errorf("load generator: %d alarms the broker acknowledged never reached the api", genLostAlarms)
	case genLostReadings > 0 && (os.Getenv("VAGT_CHAOS_STRICT") == "1" || !brokerKilled):
		t.Errorf("load generator: %d readings the broker acknowledged are not in InfluxDB", genLostReadings)
	case genLostReadings > 0:
		t.Logf("FINDING: load generator lost %d acknowledged readings (%s)", genLostReadings, knownLossy["kill -9 mosquitto"])
	}

	// What a kill -9 of the broker or of InfluxDB, or of a gateway mid-line, costs in
	// readings is measured and reported (see docs/resilience.md); every other fault must
	// lose nothing, and no fault may lose an alarm. VAGT_CHAOS_STRICT=1 holds those to
	// the same promise.
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
	t.Logf("chaos run (hold %s, %d round(s), stream reconnects %d):\n%s", set.hold, set.rounds, w.reconnects(), rep.table())
}
