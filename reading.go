package vagt

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Reading is one value from one device at one moment. A reading is identified by its
// gateway, device, kind and time: written twice, it is the same point.
type Reading struct {
	Device DeviceID
	Kind   Kind
	Time   time.Time // millisecond precision
	Value  float64   // in the kind's unit (see KindInfo); 0 or 1 for a state
}

// Batch is a gateway's telemetry: readings cut by count or age, numbered by Seq, which is
// strictly increasing per gateway and survives the gateway's restarts.
type Batch struct {
	Gateway      GatewayID
	Seq          uint64
	Municipality MunicipalityCode
	Readings     []Reading
}

// Limits on a batch.
const (
	MaxBatchReadings = 5000
	MaxBatchDevices  = 1000
	// MaxBatchSpan bounds how far a batch's readings lie from its base time.
	MaxBatchSpan = 24 * time.Hour
)

// Times outside this range are refused: they are a clock that was never set, or garbage.
var (
	minTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// MaxSeq bounds every sequence number and version: stores keep them as signed 64-bit
// integers, where anything larger would turn negative and break their order.
const MaxSeq = math.MaxInt64

func validSeq(what string, seq uint64) error {
	if seq == 0 {
		return fmt.Errorf("%w: %s", ErrMissingField, what)
	}
	if seq > MaxSeq {
		return fmt.Errorf("%w: %s %d above %d", ErrOutOfRange, what, seq, uint64(MaxSeq))
	}
	return nil
}

// validText checks a free-text field: UTF-8 (the decoders refuse anything else, so the
// encoders must too) and at most max bytes.
func validText(what, s string, max int) error {
	if len(s) > max || !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s: at most %d bytes of UTF-8", ErrOutOfRange, what, max)
	}
	return nil
}

func validTime(t time.Time) error {
	if t.Before(minTime) || !t.Before(maxTime) {
		return fmt.Errorf("%w: %s not in [2020, 2100)", ErrOutOfRange, t.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

func minTimeOf(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTimeOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Validate checks every field of the batch and every reading in it.
func (b *Batch) Validate() error {
	if err := b.Gateway.Validate(); err != nil {
		return err
	}
	if err := validSeq("batch seq", b.Seq); err != nil {
		return err
	}
	if err := b.Municipality.Validate(); err != nil {
		return err
	}
	if len(b.Readings) == 0 {
		return fmt.Errorf("%w: readings (a batch carries at least one)", ErrMissingField)
	}
	if len(b.Readings) > MaxBatchReadings {
		return fmt.Errorf("%w: %d readings, at most %d", ErrTooLarge, len(b.Readings), MaxBatchReadings)
	}
	earliest, latest := b.Readings[0].Time, b.Readings[0].Time
	for i := range b.Readings {
		r := &b.Readings[i]
		if err := r.Device.Validate(); err != nil {
			return fmt.Errorf("reading %d: %w", i, err)
		}
		if err := validTime(r.Time); err != nil {
			return fmt.Errorf("reading %d: %w", i, err)
		}
		earliest, latest = minTimeOf(earliest, r.Time), maxTimeOf(latest, r.Time)
		if d := latest.Sub(earliest); d > MaxBatchSpan {
			return fmt.Errorf("reading %d: %w: the batch spans %s, at most %s", i, ErrOutOfRange, d, MaxBatchSpan)
		}
		if _, err := r.Kind.ToWire(r.Value); err != nil {
			return fmt.Errorf("reading %d: %w", i, err)
		}
	}
	return nil
}

// Status is a gateway's report of itself, retained on its status topic. The broker
// publishes the gateway's will — Online false — when the gateway vanishes.
type Status struct {
	Gateway         GatewayID
	Online          bool
	Time            time.Time
	Municipality    MunicipalityCode // 0 in a will, which is fixed before the gateway knows it
	Software        string           // e.g. "vagt-gateway 1.4.2"
	Inventory       []DeviceStatus
	SpoolDepth      uint64 // items waiting in the spool
	DroppedReadings uint64 // telemetry readings dropped because the spool was full, since install
	Heartbeat       time.Duration
	ConfigVersion   uint64 // the home configuration version the gateway runs
	ConfigError     string // why the gateway refused the latest configuration, if it did
}

// DeviceStatus is one device as the gateway sees it.
type DeviceStatus struct {
	Device     DeviceID
	Technology Technology
	LastSeen   time.Time // zero: never heard from
	Battery    int       // %, -1 unknown
}

// Limits on a status message.
const (
	MaxInventory      = MaxBatchDevices
	MaxSoftwareLen    = 64
	MaxConfigErrorLen = 512
)

// Validate checks every field of the status.
func (s *Status) Validate() error {
	if err := s.Gateway.Validate(); err != nil {
		return err
	}
	if err := validTime(s.Time); err != nil {
		return fmt.Errorf("status time: %w", err)
	}
	if s.Municipality != 0 {
		if err := s.Municipality.Validate(); err != nil {
			return err
		}
	}
	if err := validText("software", s.Software, MaxSoftwareLen); err != nil {
		return err
	}
	if err := validText("config error", s.ConfigError, MaxConfigErrorLen); err != nil {
		return err
	}
	if s.ConfigVersion > MaxSeq {
		return fmt.Errorf("%w: config version %d", ErrOutOfRange, s.ConfigVersion)
	}
	if len(s.Inventory) > MaxInventory {
		return fmt.Errorf("%w: %d devices, at most %d", ErrTooLarge, len(s.Inventory), MaxInventory)
	}
	if s.Heartbeat < 0 || s.Heartbeat > 24*time.Hour || s.Heartbeat%time.Second != 0 {
		return fmt.Errorf("%w: heartbeat %s: whole seconds up to 24h", ErrOutOfRange, s.Heartbeat)
	}
	seen := make(map[DeviceID]bool, len(s.Inventory))
	for i, d := range s.Inventory {
		if err := d.Device.Validate(); err != nil {
			return fmt.Errorf("inventory %d: %w", i, err)
		}
		if seen[d.Device] {
			return fmt.Errorf("inventory %d: %w: device %s twice", i, ErrDuplicateKey, d.Device)
		}
		seen[d.Device] = true
		if err := d.Technology.Validate(); err != nil {
			return fmt.Errorf("inventory %d: %w", i, err)
		}
		if !d.LastSeen.IsZero() {
			if err := validTime(d.LastSeen); err != nil {
				return fmt.Errorf("inventory %d: last seen: %w", i, err)
			}
		}
		if d.Battery < -1 || d.Battery > 100 {
			return fmt.Errorf("inventory %d: %w: battery %d", i, ErrOutOfRange, d.Battery)
		}
	}
	return nil
}

// TruncateText cuts s to at most max bytes without splitting a UTF-8 sequence, and
// replaces invalid bytes, so that the result is valid free text for a message.
func TruncateText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
