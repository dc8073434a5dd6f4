package vagt

import "fmt"

// GatewayID identifies a home gateway. It is also the gateway's MQTT user name and one
// level of its topics, so it is restricted to lower-case letters, digits and '-': 3 to 64
// characters, starting with a letter or digit (no '+', '#', '/' or '$').
type GatewayID string

// DeviceID identifies a device within the platform (pseudonymous: a serial number or a
// Zigbee IEEE address such as 0x00158d0001a2b3c4, never a name). 1 to 64 characters of
// letters, digits and ". _ : -".
type DeviceID string

// HomeID identifies a citizen's home in the registry; same alphabet as GatewayID.
type HomeID string

// Validate reports whether id follows the gateway id rules.
func (id GatewayID) Validate() error {
	if !validID(string(id), 3, 64, false) {
		return fmt.Errorf("%w: gateway id %q: want 3-64 of [a-z0-9-], starting with [a-z0-9]", ErrInvalidID, clip(string(id)))
	}
	return nil
}

// Validate reports whether id follows the device id rules.
func (id DeviceID) Validate() error {
	if !validID(string(id), 1, 64, true) {
		return fmt.Errorf("%w: device id %q: want 1-64 of [A-Za-z0-9._:-]", ErrInvalidID, clip(string(id)))
	}
	return nil
}

// Validate reports whether id follows the home id rules.
func (id HomeID) Validate() error {
	if !validID(string(id), 3, 64, false) {
		return fmt.Errorf("%w: home id %q: want 3-64 of [a-z0-9-], starting with [a-z0-9]", ErrInvalidID, clip(string(id)))
	}
	return nil
}

func validID(s string, minLen, maxLen int, device bool) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0:
		case device && (c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == ':' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// clip keeps hostile ids from flooding an error message or a log line.
func clip(s string) string {
	if len(s) > 70 {
		return s[:64] + "..."
	}
	return s
}
