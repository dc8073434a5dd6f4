package vagt

import (
	"fmt"
	"time"
)

// wireStatus is a gateway status on the wire (docs/wire.md, "status").
type wireStatus struct {
	Version         *uint64        `cbor:"0,keyasint"`
	Gateway         string         `cbor:"1,keyasint"`
	Online          *bool          `cbor:"2,keyasint"`
	Time            uint64         `cbor:"3,keyasint"` // Unix ms
	Software        *string        `cbor:"4,keyasint,omitempty"`
	Inventory       []wireInvEntry `cbor:"5,keyasint,omitempty"`
	SpoolDepth      uint64         `cbor:"6,keyasint,omitempty"`
	DroppedReadings uint64         `cbor:"7,keyasint,omitempty"`
	Heartbeat       uint64         `cbor:"8,keyasint,omitempty"` // seconds
	ConfigVersion   uint64         `cbor:"9,keyasint,omitempty"`
	ConfigError     *string        `cbor:"10,keyasint,omitempty"`
	Municipality    uint64         `cbor:"11,keyasint,omitempty"`
}

// wireInvEntry is [device id, technology, last seen Unix ms (0: never), battery % (-1: unknown)].
type wireInvEntry struct {
	_          struct{} `cbor:",toarray"`
	Device     string
	Technology uint64
	LastSeen   uint64
	Battery    int64
}

// EncodeStatus returns the status in canonical form, validating it first.
func EncodeStatus(s *Status) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("encode status: %w", err)
	}
	v := uint64(WireVersion)
	w := wireStatus{
		Version:         &v,
		Gateway:         string(s.Gateway),
		Online:          &s.Online,
		Time:            uint64(s.Time.UnixMilli()),
		Software:        optionalText(s.Software),
		SpoolDepth:      s.SpoolDepth,
		DroppedReadings: s.DroppedReadings,
		Heartbeat:       uint64(s.Heartbeat / time.Second),
		ConfigVersion:   s.ConfigVersion,
		ConfigError:     optionalText(s.ConfigError),
		Municipality:    uint64(s.Municipality),
	}
	for _, d := range s.Inventory {
		var seen uint64
		if !d.LastSeen.IsZero() {
			seen = uint64(d.LastSeen.UnixMilli())
		}
		w.Inventory = append(w.Inventory, wireInvEntry{Device: string(d.Device), Technology: uint64(d.Technology), LastSeen: seen, Battery: int64(d.Battery)})
	}
	out, err := encMode.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encode status: %w", err)
	}
	if len(out) > MaxStatusBytes {
		return nil, fmt.Errorf("encode status: %w: %d bytes, at most %d", ErrTooLarge, len(out), MaxStatusBytes)
	}
	return out, nil
}

// DecodeStatus decodes and validates an untrusted gateway status.
func DecodeStatus(data []byte) (Status, error) {
	s, err := decodeStatus(data)
	if err != nil {
		return Status{}, fmt.Errorf("decode status: %w", err)
	}
	return s, nil
}

func decodeStatus(data []byte) (Status, error) {
	var w wireStatus
	if err := unmarshal(statusDecMode, data, MaxStatusBytes, &w); err != nil {
		return Status{}, err
	}
	if err := checkVersion(w.Version); err != nil {
		return Status{}, err
	}
	if w.Online == nil {
		return Status{}, fmt.Errorf("%w: online (key 2)", ErrMissingField)
	}
	maxMs := uint64(maxTime.UnixMilli()) // keeps the conversions below in range; Validate checks the rest
	if w.Time > maxMs || w.Heartbeat > uint64(24*time.Hour/time.Second) || w.Municipality > 0xffff {
		return Status{}, fmt.Errorf("%w: time, heartbeat or municipality", ErrOutOfRange)
	}
	if (w.Software != nil && *w.Software == "") || (w.ConfigError != nil && *w.ConfigError == "") || (w.Inventory != nil && len(w.Inventory) == 0) {
		return Status{}, fmt.Errorf("%w: software, inventory or config error (keys 4, 5, 10) present but empty", ErrMalformed)
	}
	s := Status{
		Gateway:         GatewayID(w.Gateway),
		Online:          *w.Online,
		Time:            time.UnixMilli(int64(w.Time)).UTC(),
		Municipality:    MunicipalityCode(w.Municipality),
		Software:        deref(w.Software),
		SpoolDepth:      w.SpoolDepth,
		DroppedReadings: w.DroppedReadings,
		Heartbeat:       time.Duration(w.Heartbeat) * time.Second,
		ConfigVersion:   w.ConfigVersion,
		ConfigError:     deref(w.ConfigError),
	}
	for i, e := range w.Inventory {
		if e.Technology > 0xff || e.LastSeen > maxMs || e.Battery < -1 || e.Battery > 100 {
			return Status{}, fmt.Errorf("inventory %d: %w: technology, last seen or battery", i, ErrOutOfRange)
		}
		d := DeviceStatus{Device: DeviceID(e.Device), Technology: Technology(e.Technology), Battery: int(e.Battery)}
		if e.LastSeen != 0 {
			d.LastSeen = time.UnixMilli(int64(e.LastSeen)).UTC()
		}
		s.Inventory = append(s.Inventory, d)
	}
	if err := s.Validate(); err != nil {
		return Status{}, err
	}
	return s, nil
}

// optionalText returns nil for "", so an optional text key is left out.
func optionalText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
