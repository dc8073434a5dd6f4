package spool

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	bolt "go.etcd.io/bbolt"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)

func open(t *testing.T, path string, clock Clock, mod func(*Options)) *Queue {
	t.Helper()
	o := Options{Path: path, Gateway: "gw-0042", Municipality: 766, BatchReadings: 10, BatchAge: 5 * time.Second, Clock: clock}
	if mod != nil {
		mod(&o)
	}
	q, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func readings(from, n int, at time.Time) []vagt.Reading {
	rs := make([]vagt.Reading, n)
	for i := range rs {
		rs[i] = vagt.Reading{Device: vagt.DeviceID(fmt.Sprintf("dev-%d", (from+i)%7)), Kind: vagt.KindTemperature,
			Time: at.Add(time.Duration(from+i) * time.Millisecond), Value: float64((from+i)%5000) / 100}
	}
	return rs
}

// drain sends everything like the uplink would: Next, decode, Ack; it returns the lanes in
// order and every reading's value.
func drain(t *testing.T, q *Queue) (lanes []vagt.Lane, values []float64, seqs map[vagt.Lane][]uint64) {
	t.Helper()
	seqs = map[vagt.Lane][]uint64{}
	for {
		it, ok, err := q.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		lanes = append(lanes, it.Lane)
		seqs[it.Lane] = append(seqs[it.Lane], it.Seq)
		if it.Lane == vagt.LaneTelemetry {
			b, err := vagt.DecodeBatch(it.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if b.Seq != it.Seq || len(b.Readings) != it.Readings {
				t.Fatalf("item seq %d/%d readings, batch seq %d/%d", it.Seq, it.Readings, b.Seq, len(b.Readings))
			}
			for _, r := range b.Readings {
				values = append(values, r.Value)
			}
		} else if _, err := vagt.DecodeAlarm(it.Payload); err != nil {
			t.Fatal(err)
		}
		if err := q.Ack(it); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAlarmsFirstAndBatchesInOrder(t *testing.T) {
	clock := &fakeClock{t: t0}
	q := open(t, filepath.Join(t.TempDir(), "spool.db"), clock, nil)
	defer q.Close()
	if err := q.AddReadings(readings(0, 25, t0)); err != nil {
		t.Fatal(err)
	}
	if n, err := q.Cut(false); err != nil || n != 2 {
		t.Fatalf("cut %d batches, %v; want the 2 full ones", n, err)
	}
	if n, _ := q.Cut(false); n != 0 {
		t.Fatalf("cut a young partial batch")
	}
	for _, typ := range []vagt.AlarmType{vagt.AlarmPanic, vagt.AlarmFall} {
		if _, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(4900 * time.Millisecond)
	if n, _ := q.Cut(false); n != 0 {
		t.Fatalf("cut a partial batch younger than 5s")
	}
	clock.Add(200 * time.Millisecond)
	if n, _ := q.Cut(false); n != 1 {
		t.Fatalf("the aged partial batch was not cut")
	}
	if d := q.Stats().Depth(); d != 27 {
		t.Fatalf("depth %d, want 25 readings + 2 alarms", d)
	}
	lanes, values, seqs := drain(t, q)
	want := []vagt.Lane{vagt.LaneAlarm, vagt.LaneAlarm, vagt.LaneTelemetry, vagt.LaneTelemetry, vagt.LaneTelemetry}
	if fmt.Sprint(lanes) != fmt.Sprint(want) {
		t.Fatalf("lanes %v, want %v", lanes, want)
	}
	for i, v := range values {
		if v != float64(i)/100 {
			t.Fatalf("reading %d is %v: out of order or changed", i, v)
		}
	}
	if len(values) != 25 {
		t.Fatalf("%d readings arrived, want 25", len(values))
	}
	for _, s := range seqs {
		for i := 1; i < len(s); i++ {
			if s[i] <= s[i-1] {
				t.Fatalf("seqs not increasing: %v", s)
			}
		}
	}
	if st := q.Stats(); st.Depth() != 0 || st.Bytes != 0 {
		t.Fatalf("after acking everything: %+v", st)
	}
}

func TestSequencesSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	clock := &fakeClock{t: t0}
	var lastBatch, lastEvent uint64
	for round := range 3 {
		q := open(t, path, clock, nil)
		if err := q.AddReadings(readings(0, 10, t0)); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Cut(true); err != nil {
			t.Fatal(err)
		}
		ev, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
		if err != nil {
			t.Fatal(err)
		}
		_, _, seqs := drain(t, q)
		b := seqs[vagt.LaneTelemetry][0]
		if round > 0 && (b <= lastBatch || ev <= lastEvent) {
			t.Fatalf("round %d: batch seq %d after %d, event seq %d after %d", round, b, lastBatch, ev, lastEvent)
		}
		lastBatch, lastEvent = b, ev
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		clock.Add(-time.Hour) // a clock that goes back must not matter once seeded
	}
	if lastBatch>>counterBits < minIncarnation || lastEvent>>counterBits < minIncarnation {
		t.Fatalf("seqs %d, %d not in an incarnation above every clock-seeded seq", lastBatch, lastEvent)
	}
}

func TestFullSpoolDropsOldestTelemetryNeverAlarms(t *testing.T) {
	clock := &fakeClock{t: t0}
	q := open(t, filepath.Join(t.TempDir(), "spool.db"), clock, func(o *Options) { o.MaxBytes = 4000 })
	defer q.Close()
	var alarms []uint64
	for i := range 200 {
		if err := q.AddReadings(readings(i*5, 5, t0)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if _, err := q.Cut(true); err != nil {
				t.Fatal(err)
			}
		}
		if i%20 == 0 {
			seq, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
			if err != nil {
				t.Fatal(err)
			}
			alarms = append(alarms, seq)
		}
	}
	st := q.Stats()
	if st.DroppedReadings == 0 || st.Bytes > 4000 {
		t.Fatalf("over the bound or nothing dropped: %+v", st)
	}
	if _, err := q.Cut(true); err != nil {
		t.Fatal(err)
	}
	_, values, seqs := drain(t, q)
	if fmt.Sprint(seqs[vagt.LaneAlarm]) != fmt.Sprint(alarms) {
		t.Fatalf("alarms %v, want all of %v", seqs[vagt.LaneAlarm], alarms)
	}
	if uint64(len(values))+st.DroppedReadings != 1000 {
		t.Fatalf("%d readings sent + %d dropped != 1000 written", len(values), st.DroppedReadings)
	}
	// What survives is the newest: the last reading written is there, the first is not.
	if values[len(values)-1] != float64(999%5000)/100 || values[0] == 0 {
		t.Fatalf("survivors %v ... %v are not the newest", values[0], values[len(values)-1])
	}
	for i := 1; i < len(values); i++ {
		if values[i] <= values[i-1] {
			t.Fatalf("survivors out of order at %d", i)
		}
	}
}

func TestOnlyAlarmsFitStillTakesAlarms(t *testing.T) {
	q := open(t, filepath.Join(t.TempDir(), "spool.db"), &fakeClock{t: t0}, func(o *Options) { o.MaxBytes = 200 })
	defer q.Close()
	for range 10 {
		if _, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.AddReadings(readings(0, 3, t0)); err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Alarms != 10 || st.PendingReadings != 0 || st.DroppedReadings != 3 {
		t.Fatalf("%+v: want 10 alarms kept, the 3 readings dropped", st)
	}
}

func TestInvalidReadingRefused(t *testing.T) {
	q := open(t, filepath.Join(t.TempDir(), "spool.db"), &fakeClock{t: t0}, nil)
	defer q.Close()
	rs := readings(0, 3, t0)
	rs[1].Value = 500 // °C
	if err := q.AddReadings(rs); err == nil || q.Stats().PendingReadings != 0 {
		t.Fatalf("invalid reading: %v, %+v", err, q.Stats())
	}
}

func TestInflightBatchNotDropped(t *testing.T) {
	q := open(t, filepath.Join(t.TempDir(), "spool.db"), &fakeClock{t: t0}, func(o *Options) { o.MaxBytes = 1500 })
	defer q.Close()
	if err := q.AddReadings(readings(0, 10, t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Cut(true); err != nil {
		t.Fatal(err)
	}
	it, ok, err := q.Next()
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := q.AddReadings(readings(10, 100, t0)); err != nil {
		t.Fatal(err)
	}
	again, ok, _ := q.Next()
	if !ok || again.Seq != it.Seq {
		t.Fatalf("the batch being sent was dropped")
	}
}

// TestCrashLosesNothingCommitted kills a child process with SIGKILL right after it
// committed, then reopens its spool: everything is there, and numbering goes on.
func TestCrashLosesNothingCommitted(t *testing.T) {
	if os.Getenv("SPOOL_CRASH_CHILD") != "" {
		crashChild(os.Getenv("SPOOL_CRASH_CHILD"))
		return
	}
	path := filepath.Join(t.TempDir(), "spool.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNothingCommitted$")
	cmd.Env = append(os.Environ(), "SPOOL_CRASH_CHILD="+path)
	out, err := cmd.CombinedOutput()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	var lastBatch, lastEvent uint64
	if _, err := fmt.Sscanf(string(out), "committed %d %d", &lastBatch, &lastEvent); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	q := open(t, path, &fakeClock{t: t0.Add(time.Minute)}, nil)
	defer q.Close()
	st := q.Stats()
	if st.Alarms != 3 || st.Batches != 10 || st.PendingReadings != 5 {
		t.Fatalf("after the crash: %+v; want 3 alarms, 10 batches, 5 pending", st)
	}
	if _, err := q.Cut(true); err != nil {
		t.Fatal(err)
	}
	ev, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic})
	if err != nil {
		t.Fatal(err)
	}
	_, values, seqs := drain(t, q)
	if len(values) != 105 {
		t.Fatalf("%d readings after the crash, want 105", len(values))
	}
	b := seqs[vagt.LaneTelemetry]
	if b[len(b)-1] <= lastBatch || ev <= lastEvent {
		t.Fatalf("numbering went back after the crash: batch %d after %d, event %d after %d", b[len(b)-1], lastBatch, ev, lastEvent)
	}
}

func crashChild(path string) {
	q, err := Open(Options{Path: path, Gateway: "gw-0042", Municipality: 766, BatchReadings: 10, Clock: &fakeClock{t: t0}})
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	var ev uint64
	for i := range 3 {
		if ev, err = q.AddAlarm(&vagt.Alarm{Time: t0, Device: vagt.DeviceID("dev-" + strconv.Itoa(i)), Type: vagt.AlarmFall}); err != nil {
			os.Exit(2)
		}
	}
	if err := q.AddReadings(readings(0, 105, t0)); err != nil {
		os.Exit(2)
	}
	if _, err := q.Cut(false); err != nil {
		os.Exit(2)
	}
	it, _, _ := q.Next() // an alarm: sent but never acknowledged
	_ = it
	var lastBatch uint64
	_ = q.db.View(func(tx *bolt.Tx) error { lastBatch = getU64(tx.Bucket(bucketMeta), metaBatchSeq) - 1; return nil })
	fmt.Printf("committed %d %d\n", lastBatch, ev)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestRuleTimersKept: the rule timers live in their own bucket, survive a reopen, are
// replaced rather than appended, and are no part of the queue (its stats do not move).
func TestRuleTimersKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	q := open(t, path, &fakeClock{t: t0}, nil)
	if data, err := q.RuleTimers(); err != nil || data != nil {
		t.Fatalf("a new spool holds timers %q, %v", data, err)
	}
	before := q.Stats()
	for _, s := range []string{`{"v":1,"a":1}`, `{"v":1,"b":2}`} {
		if err := q.PutRuleTimers([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if after := q.Stats(); after != before {
		t.Fatalf("stats moved: %+v → %+v", before, after)
	}
	q.Close()
	q = open(t, path, &fakeClock{t: t0}, nil)
	defer q.Close()
	if data, err := q.RuleTimers(); err != nil || string(data) != `{"v":1,"b":2}` {
		t.Fatalf("after a reopen: %q, %v", data, err)
	}
	if _, ok, err := q.Next(); ok || err != nil {
		t.Fatalf("the timers are in the queue: %v %v", ok, err)
	}
}

// TestSeqsUniqueAcrossWipesAt1970 (issue 15, defect 2): a spool wiped twice on a box whose
// clock reads 1970 (a new SD card, a Raspberry Pi before NTP) never numbers an alarm or a
// batch with a seq it used before. Before the fix every new spool seeded its seqs from the
// clock, so each of these started again at 1.
func TestSeqsUniqueAcrossWipesAt1970(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	clock := &fakeClock{t: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)}
	type key struct {
		lane vagt.Lane
		seq  uint64
	}
	seen := map[key]int{} // the round that used it
	for round := range 3 {
		q := open(t, path, clock, nil)
		if err := q.AddReadings(readings(0, 25, t0)); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Cut(true); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmPanic}); err != nil {
				t.Fatal(err)
			}
		}
		_, _, seqs := drain(t, q)
		for lane, ss := range seqs {
			for _, s := range ss {
				if s == 0 || s > math.MaxInt64 {
					t.Fatalf("round %d: %s seq %d outside 1 .. 2^63-1", round, lane, s)
				}
				if prev, ok := seen[key{lane, s}]; ok {
					t.Fatalf("round %d: %s seq %d reused (first used in round %d)", round, lane, s, prev)
				}
				seen[key{lane, s}] = round
			}
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(path); err != nil { // the spool is lost
			t.Fatal(err)
		}
	}
	if len(seen) != 3*(3+3) {
		t.Fatalf("%d distinct seqs, want 18", len(seen))
	}
}

// TestSeqsMoveUpFromAnOlderSpool: a spool of the version that seeded seqs from the clock
// keeps its items and numbers on above them, in an incarnation; and a used-up counter
// moves on to a higher incarnation, not back, so a clear still names an earlier seq.
func TestSeqsMoveUpFromAnOlderSpool(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	clockSeed := uint64(t0.UnixMilli())
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		return errors.Join(meta.Put(metaBatchSeq, u64(clockSeed+40)), meta.Put(metaEventSeq, u64(clockSeed+7)))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	q := open(t, path, &fakeClock{t: t0}, nil)
	defer q.Close()
	ev, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmSmoke})
	if err != nil {
		t.Fatal(err)
	}
	if ev <= clockSeed+7 || ev>>counterBits < minIncarnation || ev&counterMask != 1 {
		t.Fatalf("first seq after the upgrade %d (%#x): want above %d, counter 1 in an incarnation", ev, ev, clockSeed+7)
	}
	// Use up the counter.
	last := ev | counterMask // the last seq of the incarnation
	if err := q.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaEventSeq, u64(last)) }); err != nil {
		t.Fatal(err)
	}
	a, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmSmoke, Clears: ev})
	if err != nil || a != last {
		t.Fatalf("seq %d, %v; want %d", a, err, last)
	}
	b, err := q.AddAlarm(&vagt.Alarm{Time: t0, Device: "bu-17:btn", Type: vagt.AlarmSmoke})
	if err != nil {
		t.Fatal(err)
	}
	if b <= a || b>>counterBits <= a>>counterBits || b&counterMask != 1 || b > math.MaxInt64 {
		t.Fatalf("after a used-up counter: seq %#x after %#x, want counter 1 of a higher incarnation", b, a)
	}
}
