// Package spool is the gateway's durable queue (bbolt): every reading and alarm is
// committed, fsynced, before anything sends it, and leaves only when the platform broker
// acknowledged it. Alarms live in their own bucket and always come out first; telemetry
// readings wait in a pending bucket until they are cut into numbered batches. The spool is
// bounded in bytes: when full, the oldest telemetry is dropped (and counted), never an alarm.
package spool

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	bolt "go.etcd.io/bbolt"
)

// Bucket names. A batch or alarm is keyed by its sequence number (big-endian, so a cursor
// walks them in order); a pending reading by a local counter.
var (
	bucketAlarms   = []byte("alarms")
	bucketBatches  = []byte("batches")
	bucketReadings = []byte("readings")
	bucketMeta     = []byte("meta")
	bucketTimers   = []byte("rule_timers") // the rules' timer state, apart from the queue
	// bucketMessages keeps the keys of the last keptMessages input messages whose contents
	// were committed, by a counter (queue.go, Committed).
	bucketMessages = []byte("committed_messages")

	timersKey = []byte("state")

	metaBatchSeq    = []byte("next_batch_seq")
	metaEventSeq    = []byte("next_event_seq")
	metaIncarnation = []byte("incarnation")
	metaReadingID   = []byte("next_reading_id")
	metaDropped     = []byte("dropped_readings")
	metaHomeConfig  = []byte("home_config")
	metaMessageSeq  = []byte("next_message_seq")
)

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("spool: closed")

// Clock tells the time; tests use a fake one.
type Clock interface{ Now() time.Time }

// Options configure a Queue. Zero values take the defaults named.
type Options struct {
	Path          string // the bbolt file
	Gateway       vagt.GatewayID
	Municipality  vagt.MunicipalityCode
	MaxBytes      int64         // bound on the stored keys and values; default 64 MiB
	BatchReadings int           // a batch is cut at this many readings; default 500
	BatchAge      time.Duration // or when its oldest reading is this old; default 5s
	Clock         Clock         // default the wall clock
	Logger        *slog.Logger  // default discards
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Lane-tagged item waiting to be sent.
type Item struct {
	Lane     vagt.Lane // LaneAlarm or LaneTelemetry
	Seq      uint64    // event seq or batch seq: the key it is acknowledged by
	Payload  []byte    // the CBOR message, exactly as it will be (re)sent
	Readings int       // readings in a batch; 0 for an alarm
	Attempt  int       // an alarm resent because the platform did not confirm it: the how manyth resend
}

// Stats describe what the spool holds.
type Stats struct {
	Alarms          int    // alarm events waiting
	Batches         int    // batches waiting
	BatchedReadings int    // readings in those batches
	PendingReadings int    // readings not yet cut into a batch
	Bytes           int64  // stored keys and values, the quantity MaxBytes bounds
	DroppedReadings uint64 // telemetry readings dropped because the spool was full, ever
}

// Depth is the number of items waiting: alarms and readings.
func (s Stats) Depth() uint64 {
	return uint64(s.Alarms + s.BatchedReadings + s.PendingReadings)
}

// Queue is the spool. Its methods are safe for concurrent use.
type Queue struct {
	db    *bolt.DB
	opts  Options
	log   *slog.Logger
	ready chan struct{} // a token when something was added

	mu       sync.Mutex // guards the fields below and serialises writers with the counters
	closed   bool
	stats    Stats
	inflight map[uint64]bool // batch seqs handed out by Next and not yet acked: not dropped
	confirm  confirmState    // alarms kept until the platform confirms them (confirm.go)
}

// Open opens (or creates) the spool file and counts what it holds.
func Open(opts Options) (*Queue, error) {
	if err := opts.Gateway.Validate(); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 64 << 20
	}
	if opts.BatchReadings <= 0 || opts.BatchReadings > vagt.MaxBatchReadings {
		opts.BatchReadings = 500
	}
	if opts.BatchAge <= 0 {
		opts.BatchAge = 5 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// NoSync false (the default, stated here because it is the point): every commit is
	// fsynced before Update returns.
	db, err := bolt.Open(opts.Path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: false})
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", opts.Path, err)
	}
	q := &Queue{db: db, opts: opts, log: opts.Logger, ready: make(chan struct{}, 1), inflight: map[uint64]bool{}}
	if err := q.init(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if q.stats.Alarms+q.stats.Batches+q.stats.PendingReadings > 0 {
		q.signal()
	}
	return q, nil
}

// init creates the buckets, seeds the sequence numbers of a new spool, and counts.
func (q *Queue) init() error {
	return q.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketAlarms, bucketBatches, bucketReadings, bucketMeta, bucketTimers, bucketMessages} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("spool: create bucket %s: %w", b, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := seedSeqs(meta); err != nil {
			return err
		}
		q.stats.DroppedReadings = getU64(meta, metaDropped)
		c := tx.Bucket(bucketAlarms).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			q.stats.Alarms++
			q.stats.Bytes += int64(len(k) + len(v))
		}
		c = tx.Bucket(bucketBatches).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			n, _ := binary.Uvarint(v)
			q.stats.Batches++
			q.stats.BatchedReadings += int(n)
			q.stats.Bytes += int64(len(k) + len(v))
		}
		c = tx.Bucket(bucketReadings).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			q.stats.PendingReadings++
			q.stats.Bytes += int64(len(k) + len(v))
		}
		return nil
	})
}

// Close closes the file. Whatever was not acknowledged stays for the next Open.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.mu.Unlock()
	return q.db.Close()
}

// Ready returns a channel that receives a token when something was added to the spool.
func (q *Queue) Ready() <-chan struct{} { return q.ready }

func (q *Queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Stats returns what the spool holds now.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats
}

// SetMunicipality changes the municipality written into batches and alarms from now on
// (a home configuration may move a gateway).
func (q *Queue) SetMunicipality(m vagt.MunicipalityCode) {
	q.mu.Lock()
	q.opts.Municipality = m
	q.mu.Unlock()
}

// update runs fn in a write transaction under q.mu, so counters and the file agree.
func (q *Queue) update(fn func(tx *bolt.Tx) error) error {
	if q.closed {
		return ErrClosed
	}
	return q.db.Update(fn)
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// Sequence numbers (docs/wire.md, "Sequence numbers"). A spool draws a random
// incarnation when it is created and numbers its batches and alarms incarnation<<32 +
// a counter from 1. A gateway whose spool is lost (a new SD card, a wiped disk) draws a
// new one, so its seqs do not repeat what it sent before — without asking the clock,
// which on a box without RTC may read 1970 at every boot. Two incarnations of one
// gateway collide with a chance of 1 in 2^31 per pair; the platform keeps a digest of
// each alarm it received, so even then different content is not taken for a redelivery.
const (
	counterBits    = 32
	counterMask    = 1<<counterBits - 1
	minIncarnation = 1 << 10   // above every clock-seeded seq of older spools (Unix ms < 2^42)
	maxIncarnation = 1<<31 - 1 // so every seq is at most 2^63-1 (a signed 64-bit integer)
)

// seedSeqs gives a spool without an incarnation one, and moves its counters into it. A
// spool of an older version (seeded from the clock) moves up: its seqs keep increasing.
func seedSeqs(meta *bolt.Bucket) error {
	if getU64(meta, metaIncarnation) != 0 {
		return nil
	}
	inc, err := randomIncarnation(minIncarnation - 1)
	if err != nil {
		return err
	}
	if err := meta.Put(metaIncarnation, u64(inc)); err != nil {
		return fmt.Errorf("spool: put incarnation: %w", err)
	}
	first := inc<<counterBits | 1
	for _, k := range [][]byte{metaBatchSeq, metaEventSeq} {
		if getU64(meta, k) < first {
			if err := meta.Put(k, u64(first)); err != nil {
				return fmt.Errorf("spool: seed %s: %w", k, err)
			}
		}
	}
	return nil
}

// randomIncarnation draws an incarnation above after, from the system's random source.
func randomIncarnation(after uint64) (uint64, error) {
	if after >= maxIncarnation {
		return 0, errors.New("spool: sequence numbers exhausted")
	}
	n, err := rand.Int(rand.Reader, new(big.Int).SetUint64(maxIncarnation-after))
	if err != nil {
		return 0, fmt.Errorf("spool: draw an incarnation: %w", err)
	}
	return after + 1 + n.Uint64(), nil
}

// nextSeq returns the sequence number stored under k and stores its successor. When the
// counter is used up (2^32-1 items) the successor is in a new, higher incarnation: seqs
// keep increasing within a spool, which a clear relies on (it names an earlier seq).
func nextSeq(meta *bolt.Bucket, k []byte) (uint64, error) {
	n := getU64(meta, k)
	if n == 0 || n > math.MaxInt64 {
		return 0, fmt.Errorf("spool: %s is %d, outside 1 .. 2^63-1", k, n)
	}
	next := n + 1
	if next&counterMask == 0 {
		inc, err := randomIncarnation(n >> counterBits)
		if err != nil {
			return 0, err
		}
		next = inc<<counterBits | 1
	}
	return n, meta.Put(k, u64(next))
}

// PutHomeConfig keeps the home configuration the gateway runs, so a reboot without an
// uplink still runs the latest one the platform sent.
func (q *Queue) PutHomeConfig(data []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaHomeConfig, data)
	})
}

// HomeConfig returns the stored home configuration, nil when there is none.
func (q *Queue) HomeConfig() ([]byte, error) {
	var out []byte
	err := q.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaHomeConfig); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// PutState keeps a small piece of the gateway's state (the open alarm episodes) under
// name, committed like everything else.
func (q *Queue) PutState(name string, data []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("state/"+name), data)
	})
}

// State returns what PutState kept under name, nil when nothing.
func (q *Queue) State(name string) ([]byte, error) {
	var out []byte
	err := q.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte("state/" + name)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// PutRuleTimers keeps the rule engine's timer state (last activity, out of bed since, …)
// in its own bucket, committed and fsynced like everything else, so a restart resumes the
// timers instead of starting them afresh. It is not counted against MaxBytes: it is small
// and replaced, not appended.
func (q *Queue) PutRuleTimers(data []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTimers).Put(timersKey, data)
	})
}

// RuleTimers returns what PutRuleTimers kept, nil when nothing.
func (q *Queue) RuleTimers() ([]byte, error) {
	var out []byte
	err := q.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketTimers).Get(timersKey); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}
