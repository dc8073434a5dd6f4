package gps

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The OsmAnd protocol (traccar.org/osmand), as Traccar Client sends it: an HTTP GET or
// POST whose query string or form carries id (or deviceid), lat, lon, timestamp, and
// optionally accuracy, batt, alarm, speed, bearing, altitude, hdop, valid...; or, from
// Traccar Client 9, a JSON body {"location": {"timestamp", "coords": {"latitude",
// "longitude", "accuracy", ...}, "battery": {"level": 0..1}, "extras": {...}},
// "device_id"}. The platform reads the subset docs/gps.md lists and ignores the rest.

// maxOsmAnd bounds a request body.
const maxOsmAnd = 16 << 10

// ParseOsmAnd reads one OsmAnd request.
func ParseOsmAnd(w http.ResponseWriter, r *http.Request) (Position, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxOsmAnd)
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		return parseOsmAndJSON(r.Body)
	}
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return Position{}, reject(ReasonMalformed, "body over %d bytes", maxOsmAnd)
		}
		return Position{}, reject(ReasonMalformed, "form: %v", err)
	}
	return parseOsmAndForm(r.Form)
}

func parseOsmAndForm(f url.Values) (Position, error) {
	id := f.Get("id")
	if id == "" {
		id = f.Get("deviceid")
	}
	if id == "" {
		return Position{}, reject(ReasonMalformed, "id (or deviceid) is required")
	}
	if v := f.Get("valid"); v == "false" || v == "0" {
		return Position{}, reject(ReasonRange, "the tracker marks the fix invalid")
	}
	p := Position{Tracker: id, Battery: -1, Source: "osmand"}
	var err error
	num := func(name string, required bool) float64 {
		s := f.Get(name)
		if s == "" {
			if required && err == nil {
				err = reject(ReasonMalformed, "%s is required", name)
			}
			return 0
		}
		v, perr := strconv.ParseFloat(s, 64)
		if perr != nil && err == nil {
			err = reject(ReasonMalformed, "%s %.20q is not a number", name, s)
		}
		return v
	}
	p.Lat, p.Lon = num("lat", true), num("lon", true)
	p.Acc = num("accuracy", false)
	if s := f.Get("batt"); s != "" {
		p.Battery = int(num("batt", false) + 0.5)
	}
	if err != nil {
		return Position{}, err
	}
	if p.At, err = osmAndTime(f.Get("timestamp")); err != nil {
		return Position{}, err
	}
	p.Panic = strings.EqualFold(f.Get("alarm"), "sos")
	return p, nil
}

// osmAndTime reads timestamp as Traccar does: Unix seconds, Unix milliseconds (more than
// 10 digits), or an ISO 8601 time. A missing timestamp is refused: the fix's time decides
// order and duplicates, and the receive time would hide a queued fix's age.
func osmAndTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, reject(ReasonMalformed, "timestamp is required")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if len(strings.TrimPrefix(s, "-")) > 10 {
			return time.UnixMilli(n).UTC().Truncate(time.Second), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Second), nil
		}
	}
	return time.Time{}, reject(ReasonMalformed, "timestamp %.40q is not Unix seconds, milliseconds or ISO 8601", s)
}

type osmAndJSON struct {
	DeviceID string `json:"device_id"`
	Location *struct {
		Timestamp string `json:"timestamp"`
		Coords    *struct {
			Latitude  *float64 `json:"latitude"`
			Longitude *float64 `json:"longitude"`
			Accuracy  float64  `json:"accuracy"`
		} `json:"coords"`
		Battery *struct {
			Level *float64 `json:"level"`
		} `json:"battery"`
		Extras map[string]any `json:"extras"`
	} `json:"location"`
}

func parseOsmAndJSON(body io.Reader) (Position, error) {
	var m osmAndJSON
	if err := json.NewDecoder(body).Decode(&m); err != nil {
		return Position{}, reject(ReasonMalformed, "not an OsmAnd JSON object: %v", err)
	}
	if m.DeviceID == "" {
		return Position{}, reject(ReasonMalformed, "device_id is required")
	}
	if m.Location == nil || m.Location.Coords == nil || m.Location.Coords.Latitude == nil || m.Location.Coords.Longitude == nil {
		return Position{}, reject(ReasonMalformed, "location.coords.latitude and longitude are required")
	}
	p := Position{Tracker: m.DeviceID, Lat: *m.Location.Coords.Latitude, Lon: *m.Location.Coords.Longitude,
		Acc: m.Location.Coords.Accuracy, Battery: -1, Source: "osmand"}
	var err error
	if p.At, err = osmAndTime(m.Location.Timestamp); err != nil {
		return Position{}, err
	}
	if b := m.Location.Battery; b != nil && b.Level != nil && *b.Level >= 0 {
		// Traccar Client sends -1 when it does not know.
		p.Battery = int(*b.Level*100 + 0.5)
	}
	if a, ok := m.Location.Extras["alarm"].(string); ok && strings.EqualFold(a, "sos") {
		p.Panic = true
	}
	return p, nil
}
