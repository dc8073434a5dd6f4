package spool

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	bolt "go.etcd.io/bbolt"
)

// Confirmation by the platform (docs/gateway.md, "An alarm kept until the platform
// confirms it"). A broker's PUBACK says the broker has the alarm, not that it will keep it:
// Mosquitto does not fsync each message, so a kill -9 can lose what it acknowledged. The
// api says "received" on the gateway's downlink only after the alert is committed. So a
// raise acknowledged by the broker moves to the unconfirmed bucket, not away; Confirm
// (from the downlink) deletes it; Resend puts one not confirmed in time back in the alarm
// lane, byte-identical (the api folds the redelivery by its digest), after ConfirmAfter,
// then twice that, and so on, at most ConfirmAttempts times: a platform without the
// downlink (an older api) costs a few resends per alarm, never a storm. Clears are not
// kept: the downlink names raises only.

var bucketUnconfirmed = []byte("unconfirmed") // seq → attempts (1 byte) + the alarm's payload

// ConfirmStats count the confirmation of alarms by the platform.
type ConfirmStats struct {
	Unconfirmed int    `json:"unconfirmed"`  // raises sent, not yet confirmed by the platform
	Confirmed   uint64 `json:"confirmed"`    // raises the platform confirmed (since start)
	Resent      uint64 `json:"resent"`       // raises put back in the alarm lane, not confirmed in time
	GaveUp      uint64 `json:"gave_up"`      // raises never confirmed after every resend
	After       string `json:"after"`        // the first resend's wait; "" when off
	Attempts    int    `json:"max_attempts"` // resends at most
}

// confirmState is the queue's part for confirmation (under q.mu).
type confirmState struct {
	after    time.Duration // 0: off, an acknowledged alarm is deleted
	attempts int
	due      map[uint64]time.Time // monotonic: when an unconfirmed raise goes again
	stats    ConfirmStats
}

// ConfirmAlarms turns the confirmation on (after > 0, attempts > 0) or off. Raises kept
// unconfirmed by an earlier run are due after a full wait from now (the downlink may be
// waiting in the broker's session); with confirmation off they are forgotten (the broker
// acknowledged them).
func (q *Queue) ConfirmAlarms(after time.Duration, attempts int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if after <= 0 || attempts <= 0 {
		after, attempts = 0, 0
	}
	c := &q.confirm
	c.after, c.attempts, c.due = after, attempts, map[uint64]time.Time{}
	c.stats.After, c.stats.Attempts, c.stats.Unconfirmed = "", attempts, 0
	if after > 0 {
		c.stats.After = after.String()
	}
	now := time.Now()
	return q.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketUnconfirmed)
		if err != nil {
			return fmt.Errorf("spool: create bucket %s: %w", bucketUnconfirmed, err)
		}
		if after == 0 {
			return tx.DeleteBucket(bucketUnconfirmed)
		}
		alarms := tx.Bucket(bucketAlarms)
		return b.ForEach(func(k, _ []byte) error {
			c.stats.Unconfirmed++
			if alarms.Get(k) == nil { // not already waiting to go again
				c.due[binary.BigEndian.Uint64(k)] = now.Add(after)
			}
			return nil
		})
	})
}

// keepUnconfirmed is Ack's part for an alarm: a raise stays, unconfirmed, with the
// attempts it had; v is its payload. It runs in Ack's transaction.
func (q *Queue) keepUnconfirmed(tx *bolt.Tx, k, v []byte) (kept bool, attempts int, err error) {
	c := &q.confirm
	if c.after == 0 {
		return false, 0, nil
	}
	if a, err := vagt.DecodeAlarm(v); err != nil || a.Clears != 0 {
		return false, 0, nil // a clear: the downlink never names it
	}
	b := tx.Bucket(bucketUnconfirmed)
	if old := b.Get(k); len(old) > 0 {
		attempts = int(old[0])
	}
	rec := append([]byte{byte(attempts)}, v...)
	return true, attempts, b.Put(k, rec)
}

// unconfirmedAcked notes, after Ack's commit, when the raise goes again.
func (q *Queue) unconfirmedAcked(seq uint64, attempts int, wasKept bool) {
	c := &q.confirm
	if !wasKept {
		c.stats.Unconfirmed++
	}
	c.due[seq] = time.Now().Add(c.after << attempts)
}

// Confirm takes the event seqs the platform named on the downlink: each is committed
// there, so the gateway forgets it — also a resend still waiting in the alarm lane, and an
// alarm the downlink confirmed before the broker's PUBACK reached the uplink. It returns
// how many it forgot.
func (q *Queue) Confirm(seqs []uint64) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := &q.confirm
	if c.after == 0 {
		return 0, nil
	}
	// Most downlink messages name events already confirmed (each change of an alert names
	// all its raises): look before writing, so those cost no fsync.
	named := false
	if err := q.db.View(func(tx *bolt.Tx) error {
		unc, alarms := tx.Bucket(bucketUnconfirmed), tx.Bucket(bucketAlarms)
		for _, seq := range seqs {
			if unc.Get(u64(seq)) != nil || alarms.Get(u64(seq)) != nil {
				named = true
			}
		}
		return nil
	}); err != nil || !named {
		return 0, err
	}
	st, cs, n := q.stats, c.stats, 0
	err := q.update(func(tx *bolt.Tx) error {
		unc, alarms := tx.Bucket(bucketUnconfirmed), tx.Bucket(bucketAlarms)
		for _, seq := range seqs {
			k := u64(seq)
			found := false
			if unc.Get(k) != nil {
				if err := unc.Delete(k); err != nil {
					return fmt.Errorf("spool: confirm %d: %w", seq, err)
				}
				cs.Unconfirmed--
				found = true
			}
			if v := alarms.Get(k); v != nil {
				st.Alarms--
				st.Bytes -= int64(len(k) + len(v))
				if err := alarms.Delete(k); err != nil {
					return fmt.Errorf("spool: confirm %d: %w", seq, err)
				}
				found = true
			}
			if found {
				n++
				cs.Confirmed++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, seq := range seqs {
		delete(c.due, seq)
	}
	q.stats, c.stats = st, cs
	return n, nil
}

// Resend puts the raises not confirmed by their due time back in the alarm lane, and
// gives up on those resent ConfirmAttempts times already (logged, counted). It returns how
// many it put back. now is monotonic time (time.Now), not the gateway's clock, which may
// be stepped.
func (q *Queue) Resend(now time.Time) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := &q.confirm
	var due []uint64
	for seq, at := range c.due {
		if !now.Before(at) {
			due = append(due, seq)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	st, cs := q.stats, c.stats
	var resent, gaveUp []uint64
	err := q.update(func(tx *bolt.Tx) error {
		unc, alarms := tx.Bucket(bucketUnconfirmed), tx.Bucket(bucketAlarms)
		for _, seq := range due {
			k := u64(seq)
			rec := unc.Get(k)
			if len(rec) < 2 {
				continue
			}
			attempts, payload := int(rec[0]), append([]byte(nil), rec[1:]...)
			if attempts >= c.attempts {
				if err := unc.Delete(k); err != nil {
					return fmt.Errorf("spool: give up %d: %w", seq, err)
				}
				cs.Unconfirmed--
				cs.GaveUp++
				gaveUp = append(gaveUp, seq)
				continue
			}
			if err := unc.Put(k, append([]byte{byte(attempts + 1)}, payload...)); err != nil {
				return fmt.Errorf("spool: resend %d: %w", seq, err)
			}
			if alarms.Get(k) == nil {
				if err := alarms.Put(k, payload); err != nil {
					return fmt.Errorf("spool: resend %d: %w", seq, err)
				}
				st.Alarms++
				st.Bytes += int64(len(k) + len(payload))
			}
			cs.Resent++
			resent = append(resent, seq)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, seq := range due {
		delete(c.due, seq)
	}
	q.stats, c.stats = st, cs
	for _, seq := range gaveUp {
		q.log.Error("alarm never confirmed by the platform; resends given up (is the api older than the downlink, or the downlink lost?)",
			"seq", seq, "resends", c.attempts)
	}
	if len(resent) > 0 {
		q.log.Warn("alarms not confirmed by the platform in time; resending", "seqs", resent)
		q.signal()
	}
	return len(resent), nil
}

// ConfirmStats returns the confirmation counters.
func (q *Queue) ConfirmStats() ConfirmStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.confirm.stats
}

// attemptOf returns how often the alarm under k was resent (Next's Item.Attempt).
func attemptOf(tx *bolt.Tx, k []byte) int {
	b := tx.Bucket(bucketUnconfirmed)
	if b == nil {
		return 0
	}
	if rec := b.Get(k); len(rec) > 0 {
		return int(rec[0])
	}
	return 0
}
