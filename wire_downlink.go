package vagt

import (
	"fmt"
	"slices"
	"time"
)

// HelpState is how far the platform has come with a home's alarm, as the home is told on
// its downlink lane (docs/wire.md, "downlink"). The states only move forward.
type HelpState uint8

// The help states. OnTheWay and Arrived come from the care staff's presence ("on my way",
// "arrived"; docs/alerts.md); an alert nobody said them for goes from Acknowledged to
// Resolved.
const (
	HelpReceived     HelpState = 1 // the platform committed the alarm to an alert
	HelpAcknowledged HelpState = 2 // a member of staff acknowledged or took the alert
	HelpOnTheWay     HelpState = 3 // the member of staff who took it is on the way
	HelpArrived      HelpState = 4 // they are in the home
	HelpResolved     HelpState = 5 // staff resolved the alert
)

var helpStateNames = map[HelpState]string{HelpReceived: "received", HelpAcknowledged: "acknowledged",
	HelpOnTheWay: "on_the_way", HelpArrived: "arrived", HelpResolved: "resolved"}

func (s HelpState) String() string {
	if n, ok := helpStateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("help_state(%d)", uint8(s))
}

// ParseHelpState returns the state with the name String gives it.
func ParseHelpState(name string) (HelpState, error) {
	for s, n := range helpStateNames {
		if n == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: help state %q", ErrOutOfRange, clip(name))
}

// Validate reports whether s is a known state.
func (s HelpState) Validate() error {
	if _, ok := helpStateNames[s]; !ok {
		return fmt.Errorf("%w: help state %d", ErrOutOfRange, uint8(s))
	}
	return nil
}

// MaxDownlinkEvents bounds the event seqs one downlink message names: an alert that folded
// more raises than this names its newest.
const MaxDownlinkEvents = 64

// MaxDownlinkBytes bounds an encoded downlink message.
const MaxDownlinkBytes = 2 << 10

// Downlink tells a gateway what became of its alarm events: they are one alert on the
// platform (Alert), which reached State at Time. Delivered at least once (QoS 1), so the
// gateway applies it idempotently: a state not beyond the one it knows changes nothing.
type Downlink struct {
	Gateway GatewayID
	Events  []uint64 // the gateway's event seqs of the alert's raises, ascending
	State   HelpState
	Time    time.Time // when the platform reached the state
	Alert   uint64    // the platform's alert id
}

// Validate checks the message.
func (d *Downlink) Validate() error {
	if err := d.Gateway.Validate(); err != nil {
		return err
	}
	if len(d.Events) == 0 {
		return fmt.Errorf("%w: events", ErrMissingField)
	}
	if len(d.Events) > MaxDownlinkEvents {
		return fmt.Errorf("%w: %d events, at most %d", ErrTooLarge, len(d.Events), MaxDownlinkEvents)
	}
	for i, s := range d.Events {
		if err := validSeq("event seq", s); err != nil {
			return err
		}
		if i > 0 && s <= d.Events[i-1] {
			return fmt.Errorf("%w: event seqs not ascending (%d after %d)", ErrOutOfRange, s, d.Events[i-1])
		}
	}
	if err := d.State.Validate(); err != nil {
		return err
	}
	if err := validTime(d.Time); err != nil {
		return fmt.Errorf("downlink time: %w", err)
	}
	return validSeq("alert id", d.Alert)
}

var downlinkDecMode = mustDecMode(MaxDownlinkEvents)

// wireDownlink is a downlink message on the wire (docs/wire.md, "downlink").
type wireDownlink struct {
	Version *uint64  `cbor:"0,keyasint"`
	Gateway string   `cbor:"1,keyasint"`
	Events  []uint64 `cbor:"2,keyasint"`
	State   uint64   `cbor:"3,keyasint"`
	Time    uint64   `cbor:"4,keyasint"` // Unix ms
	Alert   uint64   `cbor:"5,keyasint"`
}

// EncodeDownlink returns the message in canonical form, validating it first.
func EncodeDownlink(d *Downlink) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("encode downlink: %w", err)
	}
	v := uint64(WireVersion)
	out, err := encMode.Marshal(&wireDownlink{Version: &v, Gateway: string(d.Gateway), Events: d.Events,
		State: uint64(d.State), Time: uint64(d.Time.UnixMilli()), Alert: d.Alert})
	if err != nil {
		return nil, fmt.Errorf("encode downlink: %w", err)
	}
	if len(out) > MaxDownlinkBytes {
		return nil, fmt.Errorf("encode downlink: %w: %d bytes, at most %d", ErrTooLarge, len(out), MaxDownlinkBytes)
	}
	return out, nil
}

// DecodeDownlink decodes and validates an untrusted downlink message.
func DecodeDownlink(data []byte) (Downlink, error) {
	d, err := decodeDownlink(data)
	if err != nil {
		return Downlink{}, fmt.Errorf("decode downlink: %w", err)
	}
	return d, nil
}

func decodeDownlink(data []byte) (Downlink, error) {
	var w wireDownlink
	if err := unmarshal(downlinkDecMode, data, MaxDownlinkBytes, &w); err != nil {
		return Downlink{}, err
	}
	if err := checkVersion(w.Version); err != nil {
		return Downlink{}, err
	}
	if w.Events == nil {
		return Downlink{}, fmt.Errorf("%w: events (key 2)", ErrMissingField)
	}
	if w.State == 0 {
		return Downlink{}, fmt.Errorf("%w: state (key 3)", ErrMissingField)
	}
	if w.State > 0xff || w.Time > uint64(maxTime.UnixMilli()) {
		return Downlink{}, fmt.Errorf("%w: state %d or time %d", ErrOutOfRange, w.State, w.Time)
	}
	d := Downlink{Gateway: GatewayID(w.Gateway), Events: slices.Clip(w.Events), State: HelpState(w.State),
		Time: time.UnixMilli(int64(w.Time)).UTC(), Alert: w.Alert}
	if err := d.Validate(); err != nil {
		return Downlink{}, err
	}
	return d, nil
}
