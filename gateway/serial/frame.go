// Package serial reads the social-alarm base unit's serial line (go.bug.st/serial): the
// framing of docs/serial.md, a scanner that resynchronises after noise, torn frames and
// bad checksums, and a reader that reopens the port when the device goes away.
package serial

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vagt-dk/vagt"
)

// MaxFrame is the longest frame from '$' to '\n' inclusive.
const MaxFrame = 128

// Frame types (the third field).
const (
	TypeReading   = 'R' // R,<dev>,<kind>,<value>
	TypeAlarm     = 'A' // A,<dev>,<alarm>
	TypeHeartbeat = 'H' // H,<uptime s>,<mains 0|1>,<battery %>
	TypeAck       = 'K' // gateway → unit: the alarm frame with this seq is safe
)

// Errors a frame is rejected with; Reason labels them for counting.
var (
	ErrBadCRC    = errors.New("serial: bad CRC")
	ErrTorn      = errors.New("serial: torn frame")
	ErrTooLong   = errors.New("serial: frame too long")
	ErrMalformed = errors.New("serial: malformed frame")
	ErrNoise     = errors.New("serial: noise between frames")
)

// Reason returns a stable label for a frame error: bad_crc, torn, too_long, noise,
// malformed.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrBadCRC):
		return "bad_crc"
	case errors.Is(err, ErrTorn):
		return "torn"
	case errors.Is(err, ErrTooLong):
		return "too_long"
	case errors.Is(err, ErrNoise):
		return "noise"
	}
	return "malformed"
}

// Frame is one message from a base unit.
type Frame struct {
	Unit    string // base unit id, e.g. "bu-17"
	Seq     uint16 // the unit's frame counter; a repeated alarm frame keeps its seq
	Type    byte
	Device  string         // R and A: the peripheral, e.g. "pir-2"
	Kind    vagt.Kind      // R
	Value   float64        // R
	Alarm   vagt.AlarmType // A
	Uptime  uint32         // H, seconds
	Mains   bool           // H: on mains power
	Battery int            // H: backup battery %
}

// DeviceID is the platform's id of the frame's device: "<unit>:<dev>", or the unit's
// own id for a heartbeat.
func (f *Frame) DeviceID() vagt.DeviceID {
	if f.Device == "" {
		return vagt.DeviceID(f.Unit)
	}
	return vagt.DeviceID(f.Unit + ":" + f.Device)
}

// Alarms a base unit may report in an A frame, and the reading each stands for.
var alarmReadings = map[vagt.AlarmType]struct {
	kind  vagt.Kind
	value float64
}{
	vagt.AlarmPanic:     {vagt.KindButtonPress, vagt.PressEmergency},
	vagt.AlarmFall:      {vagt.KindFall, 1},
	vagt.AlarmSmoke:     {vagt.KindSmoke, 1},
	vagt.AlarmWaterLeak: {vagt.KindWaterLeak, 1},
	vagt.AlarmTamper:    {vagt.KindTamper, 1},
}

// AlarmReading returns the reading an A frame's alarm stands for (a panic is an
// emergency button press), which the edge rules turn into the alarm.
func AlarmReading(t vagt.AlarmType) (vagt.Kind, float64, bool) {
	r, ok := alarmReadings[t]
	return r.kind, r.value, ok
}

// CRC16 is CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no
// final XOR ("123456789" → 0x29B1).
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// ParseFrame parses one frame from '$' to its end, the line end already removed.
func ParseFrame(line []byte) (Frame, error) {
	if len(line) < 7 || line[0] != '$' {
		return Frame{}, fmt.Errorf("%w: no '$' start", ErrMalformed)
	}
	star := len(line) - 5
	if line[star] != '*' {
		return Frame{}, fmt.Errorf("%w: no '*XXXX' checksum at the end", ErrMalformed)
	}
	body := line[1:star]
	want, err := strconv.ParseUint(string(line[star+1:]), 16, 16)
	if err != nil {
		return Frame{}, fmt.Errorf("%w: checksum %q is not 4 hex digits", ErrMalformed, line[star+1:])
	}
	if got := CRC16(body); uint64(got) != want {
		return Frame{}, fmt.Errorf("%w: computed %04X, frame says %04X", ErrBadCRC, got, want)
	}
	for _, c := range body {
		if c < 0x20 || c > 0x7e || c == '$' || c == '*' {
			return Frame{}, fmt.Errorf("%w: byte %#x in the body", ErrMalformed, c)
		}
	}
	return parseBody(strings.Split(string(body), ","))
}

func parseBody(f []string) (Frame, error) {
	if len(f) < 3 || len(f[2]) != 1 {
		return Frame{}, fmt.Errorf("%w: want unit,seq,type and its fields", ErrMalformed)
	}
	fr := Frame{Unit: f[0], Type: f[2][0]}
	if !validName(fr.Unit, 16, false) {
		return Frame{}, fmt.Errorf("%w: unit id %q", ErrMalformed, fr.Unit)
	}
	seq, err := strconv.ParseUint(f[1], 10, 16)
	if err != nil {
		return Frame{}, fmt.Errorf("%w: seq %q", ErrMalformed, f[1])
	}
	fr.Seq = uint16(seq)
	args := f[3:]
	need := map[byte]int{TypeReading: 3, TypeAlarm: 2, TypeHeartbeat: 3, TypeAck: 0}
	n, ok := need[fr.Type]
	if !ok {
		return Frame{}, fmt.Errorf("%w: unknown type %q", ErrMalformed, fr.Type)
	}
	if len(args) != n {
		return Frame{}, fmt.Errorf("%w: type %c takes %d fields, got %d", ErrMalformed, fr.Type, n, len(args))
	}
	switch fr.Type {
	case TypeReading:
		fr.Device = args[0]
		if fr.Kind, err = vagt.ParseKind(args[1]); err != nil {
			return Frame{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if fr.Value, err = strconv.ParseFloat(args[2], 64); err != nil {
			return Frame{}, fmt.Errorf("%w: value %q", ErrMalformed, args[2])
		}
		if _, err := fr.Kind.ToWire(fr.Value); err != nil {
			return Frame{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	case TypeAlarm:
		fr.Device = args[0]
		if fr.Alarm, err = vagt.ParseAlarmType(args[1]); err != nil {
			return Frame{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if _, _, ok := AlarmReading(fr.Alarm); !ok {
			return Frame{}, fmt.Errorf("%w: a base unit does not report %s", ErrMalformed, fr.Alarm)
		}
	case TypeHeartbeat:
		up, err1 := strconv.ParseUint(args[0], 10, 32)
		mains, err2 := strconv.ParseUint(args[1], 10, 1)
		batt, err3 := strconv.ParseUint(args[2], 10, 8)
		if err := errors.Join(err1, err2, err3); err != nil || batt > 100 {
			return Frame{}, fmt.Errorf("%w: heartbeat fields %v", ErrMalformed, args)
		}
		fr.Uptime, fr.Mains, fr.Battery = uint32(up), mains == 1, int(batt)
	}
	if (fr.Type == TypeReading || fr.Type == TypeAlarm) && !validName(fr.Device, 32, true) {
		return Frame{}, fmt.Errorf("%w: device %q", ErrMalformed, fr.Device)
	}
	return fr, nil
}

// validName: a unit is [a-z0-9-], a device also [A-Z._]; both 1..max bytes.
func validName(s string, maxLen int, device bool) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' ||
			device && (c >= 'A' && c <= 'Z' || c == '.' || c == '_')
		if !ok {
			return false
		}
	}
	return true
}

// AckFrame returns the gateway's acknowledgement of a unit's alarm frame.
func AckFrame(unit string, seq uint16) []byte {
	body := fmt.Sprintf("%s,%d,K", unit, seq)
	return fmt.Appendf(nil, "$%s*%04X\r\n", body, CRC16([]byte(body)))
}
