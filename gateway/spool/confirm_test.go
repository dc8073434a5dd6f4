package spool

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// sendOne takes the next item and acknowledges it, as the uplink does on a PUBACK.
func sendOne(t *testing.T, q *Queue) Item {
	t.Helper()
	it, ok, err := q.Next()
	if err != nil || !ok {
		t.Fatalf("next: %v %v", ok, err)
	}
	if err := q.Ack(it); err != nil {
		t.Fatal(err)
	}
	return it
}

// TestAlarmKeptUntilConfirmed (issue 15, Mosquitto kill -9 after its PUBACK): a raise the
// broker acknowledged stays in the spool until the platform confirms it; not confirmed in
// time it goes again, byte-identical, also after a restart; confirmed, it is forgotten; a
// clear is not kept; and resends stop after the configured attempts, counted.
func TestAlarmKeptUntilConfirmed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	t0 := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	q := open(t, path, &fakeClock{t: t0}, nil)
	if err := q.ConfirmAlarms(30*time.Second, 2); err != nil {
		t.Fatal(err)
	}
	raise := &vagt.Alarm{Device: "bu-1:btn", Type: vagt.AlarmPanic, Time: t0}
	if _, err := q.AddAlarm(raise); err != nil {
		t.Fatal(err)
	}
	if _, err := q.AddAlarm(&vagt.Alarm{Device: "bu-1:btn", Type: vagt.AlarmPanic, Time: t0, Clears: raise.Seq}); err != nil {
		t.Fatal(err)
	}
	first := sendOne(t, q)
	sendOne(t, q) // the clear
	if st, cs := q.Stats(), q.ConfirmStats(); st.Alarms != 0 || cs.Unconfirmed != 1 {
		t.Fatalf("after the PUBACKs: %d alarms waiting, %d unconfirmed; want 0 and 1 (the raise, not the clear)", st.Alarms, cs.Unconfirmed)
	}
	if n, _ := q.Resend(time.Now()); n != 0 {
		t.Fatalf("resent %d before its time", n)
	}
	if n, err := q.Resend(time.Now().Add(31 * time.Second)); n != 1 || err != nil {
		t.Fatalf("resent %d (%v), want the raise", n, err)
	}
	again, ok, err := q.Next()
	if err != nil || !ok || again.Seq != first.Seq || again.Attempt != 1 || !bytes.Equal(again.Payload, first.Payload) {
		t.Fatalf("resend %+v %v %v: want seq %d, attempt 1, the same bytes", again, ok, err, first.Seq)
	}

	// A restart keeps it: sent again, still unconfirmed, due again after the full wait.
	if err := q.Ack(again); err != nil {
		t.Fatal(err)
	}
	q.Close()
	q = open(t, path, &fakeClock{t: t0}, nil)
	defer q.Close()
	if err := q.ConfirmAlarms(30*time.Second, 2); err != nil {
		t.Fatal(err)
	}
	if cs := q.ConfirmStats(); cs.Unconfirmed != 1 {
		t.Fatalf("after a restart %d unconfirmed, want 1", cs.Unconfirmed)
	}
	if n, _ := q.Resend(time.Now().Add(31 * time.Second)); n != 1 {
		t.Fatalf("resent %d after the restart, want 1", n)
	}
	if it := sendOne(t, q); it.Attempt != 2 {
		t.Fatalf("attempt %d, want 2", it.Attempt)
	}
	// Attempts used up: given up, counted.
	if n, _ := q.Resend(time.Now().Add(time.Hour)); n != 0 {
		t.Fatalf("resent %d beyond the attempts", n)
	}
	if cs := q.ConfirmStats(); cs.Unconfirmed != 0 || cs.GaveUp != 1 || cs.Resent != 1 { // counted since this start
		t.Fatalf("stats %+v, want 0 unconfirmed, 1 given up, 1 resent since the restart", cs)
	}

	// Confirmed: forgotten, also when the confirmation beats the PUBACK to the uplink.
	second := &vagt.Alarm{Device: "bu-1:fall", Type: vagt.AlarmFall, Time: t0}
	if _, err := q.AddAlarm(second); err != nil {
		t.Fatal(err)
	}
	it := sendOne(t, q)
	if n, err := q.Confirm([]uint64{it.Seq, 999}); n != 1 || err != nil {
		t.Fatalf("confirmed %d (%v), want 1", n, err)
	}
	third := &vagt.Alarm{Device: "bu-1:smoke", Type: vagt.AlarmSmoke, Time: t0}
	if _, err := q.AddAlarm(third); err != nil {
		t.Fatal(err)
	}
	it, _, _ = q.Next()
	if n, _ := q.Confirm([]uint64{third.Seq}); n != 1 {
		t.Fatalf("a confirmation before the PUBACK: confirmed %d, want 1", n)
	}
	if err := q.Ack(it); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Resend(time.Now().Add(time.Hour)); n != 0 {
		t.Fatalf("resent %d confirmed alarms", n)
	}
	if st, cs := q.Stats(), q.ConfirmStats(); st.Alarms != 0 || cs.Unconfirmed != 0 || cs.Confirmed != 2 {
		t.Fatalf("stats %+v %+v: want nothing waiting, 2 confirmed", st, cs)
	}
}

// TestConfirmationOff: with confirmation off a PUBACK deletes the alarm, as before.
func TestConfirmationOff(t *testing.T) {
	q := open(t, filepath.Join(t.TempDir(), "spool.db"), nil, nil)
	defer q.Close()
	if err := q.ConfirmAlarms(0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := q.AddAlarm(&vagt.Alarm{Device: "bu-1:btn", Type: vagt.AlarmPanic, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	sendOne(t, q)
	if n, _ := q.Resend(time.Now().Add(time.Hour)); n != 0 || q.ConfirmStats().Unconfirmed != 0 {
		t.Fatalf("resent %d with confirmation off", n)
	}
}
