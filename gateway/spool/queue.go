package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/vagt-dk/vagt"
	bolt "go.etcd.io/bbolt"
)

// WellFormedReading reports whether r names a valid device and a value its kind allows:
// what the rules need, whatever the reading's time.
func WellFormedReading(r *vagt.Reading) error {
	if err := r.Device.Validate(); err != nil {
		return err
	}
	_, err := r.Kind.ToWire(r.Value)
	return err
}

// ValidReading reports whether r can travel in a batch. The spool refuses anything else,
// because one bad reading in a stored batch would block the telemetry lane for ever. It is
// a telemetry check: an alarm never passes it (gateway/process.go).
func ValidReading(r *vagt.Reading) error {
	if err := WellFormedReading(r); err != nil {
		return err
	}
	if y := r.Time.Year(); y < 2020 || y >= 2100 {
		return fmt.Errorf("%w: reading time %s", vagt.ErrOutOfRange, r.Time.UTC().Format(time.RFC3339))
	}
	return nil
}

// A pending reading is stored as kind (1 byte), time in Unix ms (8), value (float64 bits,
// 8), then the device id: 17 bytes and the id, plus the 8-byte key.
func encodeReading(r *vagt.Reading) []byte {
	b := make([]byte, 17+len(r.Device))
	b[0] = byte(r.Kind)
	binary.BigEndian.PutUint64(b[1:], uint64(r.Time.UnixMilli()))
	binary.BigEndian.PutUint64(b[9:], math.Float64bits(r.Value))
	copy(b[17:], r.Device)
	return b
}

func decodeReading(b []byte) (vagt.Reading, error) {
	if len(b) < 18 {
		return vagt.Reading{}, fmt.Errorf("spool: stored reading of %d bytes", len(b))
	}
	return vagt.Reading{
		Kind:   vagt.Kind(b[0]),
		Time:   time.UnixMilli(int64(binary.BigEndian.Uint64(b[1:]))).UTC(),
		Value:  math.Float64frombits(binary.BigEndian.Uint64(b[9:])),
		Device: vagt.DeviceID(b[17:]),
	}, nil
}

// MessageKey identifies an input message for Committed: a hash of what makes it that
// message (for MQTT: its packet id, topic and payload).
type MessageKey [32]byte

// keptMessages is how many committed messages Committed remembers: far more than a home
// broker has in flight to the gateway (Mosquitto's default is 20), and few enough that the
// packet ids of the kept ones are all different (a broker numbers its messages to a client
// in turn, over 65,535 ids). 4,096 keys of 40 bytes: 160 KiB at most, outside MaxBytes.
const keptMessages = 4096

// AddReadings commits the readings in one fsynced transaction, and with them the keys of
// the input messages they came from (Committed). When the spool is full it first drops
// the oldest telemetry (batches, then pending readings) to make room, and counts every
// reading dropped. It refuses the whole call if one reading is invalid.
func (q *Queue) AddReadings(rs []vagt.Reading, messages ...MessageKey) error {
	if len(rs) == 0 && len(messages) == 0 {
		return nil
	}
	vals := make([][]byte, len(rs))
	for i := range rs {
		if err := ValidReading(&rs[i]); err != nil {
			return fmt.Errorf("spool: reading %d: %w", i, err)
		}
		vals[i] = encodeReading(&rs[i])
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.stats
	err := q.update(func(tx *bolt.Tx) error {
		meta, pending := tx.Bucket(bucketMeta), tx.Bucket(bucketReadings)
		id := getU64(meta, metaReadingID)
		for _, v := range vals {
			need := int64(8 + len(v))
			if err := q.makeRoom(tx, &st, need); err != nil {
				if errors.Is(err, errNoRoom) {
					st.DroppedReadings++ // the spool holds only alarms: this reading goes
					continue
				}
				return err
			}
			id++
			if err := pending.Put(u64(id), v); err != nil {
				return fmt.Errorf("spool: put reading: %w", err)
			}
			st.PendingReadings++
			st.Bytes += need
		}
		if err := meta.Put(metaReadingID, u64(id)); err != nil {
			return fmt.Errorf("spool: put reading id: %w", err)
		}
		if err := putMessages(meta, tx.Bucket(bucketMessages), messages); err != nil {
			return err
		}
		return putDropped(meta, &st, q.stats.DroppedReadings)
	})
	if err != nil {
		return err
	}
	if st.DroppedReadings > q.stats.DroppedReadings {
		q.log.Warn("spool full: dropped oldest telemetry", "dropped_total", st.DroppedReadings, "bytes", st.Bytes)
	}
	q.stats = st
	q.signal()
	return nil
}

var errNoRoom = errors.New("spool: no telemetry left to drop")

// putMessages records committed messages' keys, forgetting those more than keptMessages
// back.
func putMessages(meta, b *bolt.Bucket, keys []MessageKey) error {
	if len(keys) == 0 {
		return nil
	}
	n := getU64(meta, metaMessageSeq)
	for _, k := range keys {
		n++
		if err := b.Put(u64(n), k[:]); err != nil {
			return fmt.Errorf("spool: put message key: %w", err)
		}
		if n > keptMessages {
			if err := b.Delete(u64(n - keptMessages)); err != nil {
				return fmt.Errorf("spool: forget message key: %w", err)
			}
		}
	}
	return meta.Put(metaMessageSeq, u64(n))
}

// Committed reports whether the message with key k is among the last keptMessages whose
// contents AddReadings committed: a message that comes again after that (its broker did
// not hear our acknowledgement before a crash) carried nothing that is not in the spool.
// A read of its own, as HomeConfig: it does not hold q.mu, so no alarm waits behind it.
func (q *Queue) Committed(k MessageKey) (bool, error) {
	found := false
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMessages).Cursor()
		for key, v := c.Last(); key != nil && !found; key, v = c.Prev() {
			found = bytes.Equal(v, k[:])
		}
		return nil
	})
	return found, err
}

func putDropped(meta *bolt.Bucket, st *Stats, before uint64) error {
	if st.DroppedReadings == before {
		return nil
	}
	if err := meta.Put(metaDropped, u64(st.DroppedReadings)); err != nil {
		return fmt.Errorf("spool: put dropped count: %w", err)
	}
	return nil
}

// makeRoom drops the oldest telemetry until need more bytes fit: whole batches first
// (except those being sent), then pending readings. Alarms are never dropped.
func (q *Queue) makeRoom(tx *bolt.Tx, st *Stats, need int64) error {
	for st.Bytes+need > q.opts.MaxBytes {
		batches := tx.Bucket(bucketBatches)
		dropped := false
		c := batches.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if q.inflight[binary.BigEndian.Uint64(k)] {
				continue
			}
			n, _ := binary.Uvarint(v)
			size := int64(len(k) + len(v))
			if err := batches.Delete(k); err != nil {
				return fmt.Errorf("spool: drop batch: %w", err)
			}
			st.Batches--
			st.BatchedReadings -= int(n)
			st.DroppedReadings += n
			st.Bytes -= size
			dropped = true
			break
		}
		if dropped {
			continue
		}
		pending := tx.Bucket(bucketReadings)
		k, v := pending.Cursor().First()
		if k == nil {
			return errNoRoom
		}
		size := int64(len(k) + len(v))
		if err := pending.Delete(k); err != nil {
			return fmt.Errorf("spool: drop reading: %w", err)
		}
		st.PendingReadings--
		st.DroppedReadings++
		st.Bytes -= size
	}
	return nil
}

// AddAlarm numbers the alarm with the next event seq, fills in the gateway and
// municipality, and commits it. It returns the seq. Alarms are stored even when the
// spool is over its bound: telemetry makes room where it can, an alarm is never refused
// for space.
func (q *Queue) AddAlarm(a *vagt.Alarm) (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.stats
	var seq uint64
	err := q.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var err error
		if seq, err = nextSeq(meta, metaEventSeq); err != nil {
			return err
		}
		a.Seq, a.Gateway, a.Municipality = seq, q.opts.Gateway, q.opts.Municipality
		if a.Priority == 0 {
			a.Priority = a.Type.Priority()
		}
		data, err := vagt.EncodeAlarm(a)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		need := int64(8 + len(data))
		if err := q.makeRoom(tx, &st, need); err != nil && !errors.Is(err, errNoRoom) {
			return err
		}
		if err := tx.Bucket(bucketAlarms).Put(u64(seq), data); err != nil {
			return fmt.Errorf("spool: put alarm: %w", err)
		}
		st.Alarms++
		st.Bytes += need
		return putDropped(meta, &st, q.stats.DroppedReadings)
	})
	if err != nil {
		a.Seq = 0
		return 0, err
	}
	q.stats = st
	q.signal()
	return seq, nil
}

// Cut turns pending readings into numbered batches: every full batch, and the rest when
// the oldest of it is at least BatchAge old (or force, at shutdown). It returns the number
// of batches cut. A batch is encoded once and stored: a resend is the same bytes.
func (q *Queue) Cut(force bool) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stats.PendingReadings == 0 {
		return 0, nil
	}
	st := q.stats
	now := q.opts.Clock.Now()
	cut := 0
	err := q.update(func(tx *bolt.Tx) error {
		pending, meta, batches := tx.Bucket(bucketReadings), tx.Bucket(bucketMeta), tx.Bucket(bucketBatches)
		for st.PendingReadings > 0 {
			c := pending.Cursor()
			k, v := c.First()
			first, err := decodeReading(v)
			if err != nil {
				return err
			}
			if st.PendingReadings < q.opts.BatchReadings && !force && now.Sub(first.Time) < q.opts.BatchAge {
				return nil
			}
			var keys [][]byte
			var rs []vagt.Reading
			var freed int64
			for ; k != nil && len(rs) < q.opts.BatchReadings; k, v = c.Next() {
				r, err := decodeReading(v)
				if err != nil {
					return err
				}
				// A batch spans at most a day (vagt.MaxBatchSpan); keep a margin.
				if d := r.Time.Sub(first.Time); d > vagt.MaxBatchSpan-time.Hour || d < -(vagt.MaxBatchSpan-time.Hour) {
					break
				}
				rs = append(rs, r)
				keys = append(keys, append([]byte(nil), k...))
				freed += int64(len(k) + len(v))
			}
			seq, err := nextSeq(meta, metaBatchSeq)
			if err != nil {
				return err
			}
			data, err := vagt.EncodeBatch(&vagt.Batch{Gateway: q.opts.Gateway, Seq: seq, Municipality: q.opts.Municipality, Readings: rs})
			if err != nil {
				return fmt.Errorf("spool: cut batch %d: %w", seq, err)
			}
			val := binary.AppendUvarint(nil, uint64(len(rs)))
			val = append(val, data...)
			if err := batches.Put(u64(seq), val); err != nil {
				return fmt.Errorf("spool: put batch: %w", err)
			}
			for _, k := range keys {
				if err := pending.Delete(k); err != nil {
					return fmt.Errorf("spool: delete cut reading: %w", err)
				}
			}
			st.PendingReadings -= len(rs)
			st.Batches++
			st.BatchedReadings += len(rs)
			st.Bytes += int64(8+len(val)) - freed
			cut++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	q.stats = st
	if cut > 0 {
		q.signal()
	}
	return cut, nil
}

// Next returns the item to send now: the oldest alarm, or else the oldest batch. ok is
// false when nothing waits. The item stays in the spool until Ack.
func (q *Queue) Next() (it Item, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return Item{}, false, ErrClosed
	}
	err = q.db.View(func(tx *bolt.Tx) error {
		if k, v := tx.Bucket(bucketAlarms).Cursor().First(); k != nil {
			it = Item{Lane: vagt.LaneAlarm, Seq: binary.BigEndian.Uint64(k), Payload: append([]byte(nil), v...), Attempt: attemptOf(tx, k)}
			ok = true
			return nil
		}
		if k, v := tx.Bucket(bucketBatches).Cursor().First(); k != nil {
			n, w := binary.Uvarint(v)
			if w <= 0 {
				return fmt.Errorf("spool: batch %x has no reading count", k)
			}
			it = Item{Lane: vagt.LaneTelemetry, Seq: binary.BigEndian.Uint64(k), Payload: append([]byte(nil), v[w:]...), Readings: int(n)}
			q.inflight[it.Seq] = true
			ok = true
		}
		return nil
	})
	return it, ok, err
}

// Release forgets that a batch handed out by Next is being sent, without deleting it,
// so a full spool may drop it again.
func (q *Queue) Release(it Item) {
	q.mu.Lock()
	delete(q.inflight, it.Seq)
	q.mu.Unlock()
}

// Ack deletes an item the broker acknowledged; a raise, with confirmation on, moves to the
// unconfirmed bucket instead (confirm.go). Acking an item that is gone is no error.
func (q *Queue) Ack(it Item) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	bucket := bucketBatches
	if it.Lane == vagt.LaneAlarm {
		bucket = bucketAlarms
	}
	st := q.stats
	kept, wasKept, attempts := false, false, 0
	err := q.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		k := u64(it.Seq)
		v := b.Get(k)
		if v == nil {
			return nil
		}
		if it.Lane == vagt.LaneAlarm {
			var err error
			wasKept = q.confirm.after > 0 && tx.Bucket(bucketUnconfirmed).Get(k) != nil
			if kept, attempts, err = q.keepUnconfirmed(tx, k, v); err != nil {
				return fmt.Errorf("spool: keep unconfirmed: %w", err)
			}
			st.Alarms--
		} else {
			n, _ := binary.Uvarint(v)
			st.Batches--
			st.BatchedReadings -= int(n)
		}
		st.Bytes -= int64(len(k) + len(v))
		return b.Delete(k)
	})
	if err != nil {
		return fmt.Errorf("spool: ack %s %d: %w", it.Lane, it.Seq, err)
	}
	delete(q.inflight, it.Seq)
	q.stats = st
	if kept {
		q.unconfirmedAcked(it.Seq, attempts, wasKept)
	}
	return nil
}
