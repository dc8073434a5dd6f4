package uplink

import (
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestPairSendsAResend: an alarm the platform did not confirm goes back into the spool
// under its seq (spool.Queue.Resend); a Pair, which remembers the seqs acknowledged on
// either link, must send it again all the same. Before the resend had its own item key
// the pair took it for one acknowledged a moment ago and sent nothing — and every alarm
// behind it waited for ever.
func TestPairSendsAResend(t *testing.T) {
	brokerA, brokerB := stacktest.Mosquitto(t), stacktest.Mosquitto(t)
	platA, platB := watch(t, brokerA.URL(), "platform-a"), watch(t, brokerB.URL(), "platform-b")
	q := newSpool(t)
	if err := q.ConfirmAlarms(time.Hour, 3); err != nil {
		t.Fatal(err)
	}
	fill(t, q, 0, 1)
	// sent counts the alarm messages of seq on both brokers (a pair may send one on both).
	sent := func(seq uint64) int {
		n := 0
		for _, p := range []*platform{platA, platB} {
			for _, r := range p.all() {
				if r.lane == vagt.LaneAlarm && r.seq == seq {
					n++
				}
			}
		}
		return n
	}
	it, ok, err := q.Next()
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	q.Release(it)
	first := it.Seq
	startPair(t, Options{Broker: brokerA.URL()}, Options{Broker: brokerB.URL()}, q, PairOptions{AlarmHedge: time.Hour})
	stacktest.WaitFor(t, "the alarm acknowledged", time.Minute, func() bool {
		return sent(first) > 0 && q.Stats().Alarms == 0 && q.ConfirmStats().Unconfirmed == 1
	})
	before := sent(first)
	if n, err := q.Resend(time.Now().Add(2 * time.Hour)); n != 1 || err != nil {
		t.Fatalf("resend: %d %v", n, err)
	}
	fill(t, q, 0, 1) // and one behind it
	stacktest.WaitFor(t, "the resend and the next alarm sent", time.Minute, func() bool {
		return sent(first) > before && sent(first+1) > 0 && q.Stats().Alarms == 0
	})
}
