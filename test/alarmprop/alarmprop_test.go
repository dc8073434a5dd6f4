package alarmprop

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/test/internal/chain"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// The run's settings: a flag beats the environment (the make target sets the latter).
var (
	seedFlag     = flag.Uint64("seed", 0, "replay this seed (else VAGT_ALARM_SEED, else a random one)")
	stepsFlag    = flag.Int("steps", 0, "actions to run (else VAGT_ALARM_STEPS, else 200; 0 with a duration: until it ends)")
	durationFlag = flag.Duration("duration", 0, "run actions for this long (else VAGT_ALARM_DURATION)")
)

// defaultSteps keeps the run in `make test` to a few tens of seconds.
const defaultSteps = 200

type settings struct {
	seed     uint64
	steps    int
	duration time.Duration
	skip     map[string]bool
}

func settingsFrom(t *testing.T) settings {
	var s settings
	switch v := os.Getenv("VAGT_ALARM_SEED"); {
	case *seedFlag != 0:
		s.seed = *seedFlag
	case v != "":
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("VAGT_ALARM_SEED %q: %v", v, err)
		}
		s.seed = n
	default:
		var b [8]byte
		_, _ = rand.Read(b[:])
		s.seed = binary.LittleEndian.Uint64(b[:]) >> 1 // fits an int64 flag too
	}
	s.duration = *durationFlag
	if v := os.Getenv("VAGT_ALARM_DURATION"); s.duration == 0 && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("VAGT_ALARM_DURATION %q: %v", v, err)
		}
		s.duration = d
	}
	s.steps = *stepsFlag
	if v := os.Getenv("VAGT_ALARM_STEPS"); s.steps == 0 && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("VAGT_ALARM_STEPS %q", v)
		}
		s.steps = n
	}
	if s.steps == 0 && s.duration == 0 {
		s.steps = defaultSteps
	}
	s.skip = map[string]bool{}
	for _, g := range strings.Split(os.Getenv("VAGT_ALARM_SKIP"), ",") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		if _, ok := faultGroups[g]; !ok {
			t.Fatalf("VAGT_ALARM_SKIP: no fault group %q (clock, kill, spool, broker, cut, noise)", g)
		}
		s.skip[g] = true
	}
	return s
}

// requireServices skips the test before the build when a service it needs is not
// installed, unless VAGT_REQUIRE_SERVICES=1 (then stacktest fails it at the start).
func requireServices(t *testing.T) {
	t.Helper()
	for _, name := range []string{"mosquitto", "postgres", "initdb"} {
		if _, err := localstack.FindBinary(name); errors.Is(err, localstack.ErrNotInstalled) && os.Getenv(stacktest.RequireEnv) != "1" {
			t.Skipf("%s is not available, skipping (set %s=1 to fail instead): %v", name, stacktest.RequireEnv, err)
		}
	}
}

// TestAlarmProperty: every alarm the base unit got a K for, and every Zigbee alarm the
// gateway received, is exactly one alert on SQLite and on PostgreSQL, and nothing else
// is an alert, whatever the seeded plan of faults did meanwhile (see doc.go).
func TestAlarmProperty(t *testing.T) {
	requireServices(t)
	set := settingsFrom(t)
	if len(set.skip) > 0 {
		t.Logf("leaving out: %v (VAGT_ALARM_SKIP)", set.skip)
	}
	replay := fmt.Sprintf("ALARM_SEED=%d ALARM_STEPS=%d", set.seed, set.steps)
	if set.duration > 0 {
		replay += " ALARM_DURATION=" + set.duration.String()
	}
	if len(set.skip) > 0 {
		replay += " ALARM_SKIP=" + os.Getenv("VAGT_ALARM_SKIP")
	}
	t.Logf("alarm property: seed %d, %d actions (0: until the duration), duration %s; replay the plan with `make test-alarms %s`",
		set.seed, set.steps, set.duration, replay)
	bins := chain.Build(t)
	poolSize := 300 // three pools of Zigbee alarm devices; the device map holds at most 1000
	if set.steps > 0 {
		poolSize = min(poolSize, set.steps/12+4)
	}
	zb := newPool(poolSize)
	w := startWorld(t, bins, zb)
	ctx := t.Context()

	m := newModel(set.seed, zb, set.skip)
	m.horizon = set.steps
	clock := &clockState{}
	var plan []string
	start := time.Now()
	run := func(i int, a action) {
		plan = append(plan, fmt.Sprintf("%4d %7s  %s", i, time.Since(start).Round(time.Millisecond), a))
		if a.alarm != nil {
			state := "gateway clock set to " + clock.describe()
			if !w.gw.Running() {
				state = "gateway down"
			}
			a.alarm.notes = append(a.alarm.notes, fmt.Sprintf("#%d %s, %s", i, a.kind, state))
		}
		if err := w.do(ctx, a, clock); err != nil {
			t.Fatalf("action %d (%s): %v\nplan so far:\n%s", i, a, err, strings.Join(plan, "\n"))
		}
	}
	i := 0
	for ; (set.steps == 0 || i < set.steps) && (set.duration == 0 || time.Since(start) < set.duration); i++ {
		run(i, m.next())
	}
	for _, a := range m.finish() {
		run(i, a)
		i++
	}
	acted := time.Since(start)

	settle(t, w)
	d, err := homeDeliveries(w.home.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range m.alarms {
		switch a.src {
		case fromSerial:
			for _, seq := range a.frames {
				a.delivered = a.delivered || w.unit.Acked(seq)
			}
		case fromZigbee:
			a.delivered = d.acked[zigbeeBase+"/"+a.name] > 0
			if a.sent > d.acked[zigbeeBase+"/"+a.name] {
				t.Errorf("zigbee %s: %d messages published, the gateway acknowledged %d on the home broker", a.name, a.sent, d.acked[zigbeeBase+"/"+a.name])
			}
		}
	}
	if p := w.unit.Pending(); len(p) > 0 {
		t.Errorf("the unit still repeats %d alarm frames nobody acknowledged (seqs %v)", len(p), p)
	}
	var vs []verdict
	for _, a := range w.apis {
		st, err := a.read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, judge(a.name, st, m.alarms, w.spoolLost))
	}
	var counts []string
	for k, n := range m.counts {
		if n > 0 {
			counts = append(counts, fmt.Sprintf("%s %d", kind(k), n))
		}
	}
	t.Logf("alarm property, seed %d: %d actions in %s (%s), settled in %s\n%s", set.seed, i, acted.Round(time.Millisecond),
		strings.Join(counts, ", "), (time.Since(start) - acted).Round(time.Millisecond), table(m.alarms, m.ghosts, vs))

	notes := map[string][]string{}
	for _, a := range m.alarms {
		notes[string(a.dev)] = a.notes
	}
	raises := raisesLogged(w.gw.Log)
	for k, v := range vs {
		if !v.failed() {
			continue
		}
		// Where the missing alarms went, by cause (diagnose), then the first few of each list.
		why := map[string]string{}
		causes := map[string]int{}
		for _, s := range v.missing {
			dev, _, _ := strings.Cut(s, " ")
			why[dev] = diagnose(ctx, w.apis[k], raises, dev)
			causes[cause(why[dev])]++
		}
		// The rarer causes first: a reused seq says more than a hundredth alarm at 1970.
		slices.SortStableFunc(v.missing, func(a, b string) int {
			da, _, _ := strings.Cut(a, " ")
			db, _, _ := strings.Cut(b, " ")
			return causes[cause(why[da])] - causes[cause(why[db])]
		})
		if len(v.missing) > 0 {
			t.Errorf("%s: %d acknowledged alarms have no alert: %v", v.api, len(v.missing), causes)
		}
		for _, x := range []struct {
			what string
			list []string
		}{{"acknowledged, no alert", v.missing}, {"more than one alert", v.doubled}, {"alert of the wrong type", v.wrongType}, {"alert nothing raised", v.extra}} {
			for j, s := range x.list {
				if j == 10 {
					t.Errorf("%s: %s: … %d more", v.api, x.what, len(x.list)-j)
					break
				}
				dev, _, _ := strings.Cut(s, " ")
				msg := fmt.Sprintf("%s: %s: %s; its actions: %s", v.api, x.what, s, strings.Join(notes[dev], "; "))
				if why[dev] != "" {
					msg += "; " + why[dev]
				}
				t.Error(msg)
			}
		}
	}
	if t.Failed() {
		// The plan and the gateway's log outlive the test's temporary directory.
		keep := filepath.Join(os.TempDir(), fmt.Sprintf("vagt-alarmprop-%d", set.seed))
		logData, _ := os.ReadFile(w.gw.Log)
		if err := errors.Join(os.MkdirAll(keep, 0o755), os.WriteFile(filepath.Join(keep, "plan.txt"), []byte(strings.Join(plan, "\n")+"\n"), 0o644),
			os.WriteFile(filepath.Join(keep, "gateway.log"), logData, 0o644)); err != nil {
			t.Log(err)
		}
		t.Logf("seed %d: the plan as run and the gateway's log are in %s; the plan's last actions:\n%s", set.seed, keep,
			strings.Join(plan[max(0, len(plan)-60):], "\n"))
	}
}

// describe is the clock as the test set it, for the notes.
func (c *clockState) describe() string {
	if c.base.IsZero() {
		return "true"
	}
	return c.now().UTC().Format("2006-01-02T15:04:05Z")
}

// settle waits until the unit has every alarm acknowledged, the gateway's spool has sent
// every alarm, the gateway has acknowledged every Zigbee message on the home broker, both
// apis are ready and hold a receipt for every raise the gateway logged (but those deleted
// with a spool), and nothing has changed for a few seconds; or until nothing has moved
// for a while (what is lost stays lost; the check then says what).
func settle(t *testing.T, w *world) {
	t.Helper()
	const quiet, stuck = 3 * time.Second, 45 * time.Second
	var last string
	since := time.Now()
	for deadline := time.Now().Add(4 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		pending := len(w.unit.Pending())
		s, up := w.snapshot()
		d, err := homeDeliveries(w.home.LogPath())
		if err != nil {
			t.Fatal(err)
		}
		done := pending == 0 && up && s.Spool.Alarms == 0 && d.pending(w.homeBase) == 0
		state := fmt.Sprintf("unit pending %d, gateway up %t, spool alarms %d, depth %d, zigbee not acknowledged %d",
			pending, up, s.Spool.Alarms, s.SpoolDepth, d.pending(w.homeBase))
		raised := raisesLogged(w.gw.Log)
		for _, a := range w.apis {
			st, err := a.read(t.Context())
			missing := 0
			for _, seqs := range raised {
				for _, seq := range seqs {
					if !st.seqs[seq] && !w.lostSeqs[seq] {
						missing++
					}
				}
			}
			ok := ready("http://" + a.addr + "/readyz")
			done = done && ok && missing == 0 && err == nil
			state += fmt.Sprintf("; %s ready %t, alerts %d, receipts %d, raises not received %d", a.name, ok, len(st.alerts), st.receipts, missing)
			if err != nil {
				state += " (" + err.Error() + ")"
			}
		}
		if state != last {
			last, since = state, time.Now()
			continue
		}
		if done && time.Since(since) >= quiet {
			return
		}
		if time.Since(since) >= stuck {
			t.Logf("settled short (nothing moved for %s): %s", stuck, state)
			return
		}
	}
	t.Logf("gave up settling: %s", last)
}
