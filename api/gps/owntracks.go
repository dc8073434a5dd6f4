package gps

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// OwnTracks (owntracks.org/booklet/tech/json) publishes, in MQTT mode, to
// owntracks/{user}/{device} (_type location) and owntracks/{user}/{device}/event (_type
// transition). The platform gives each tracker its own broker login, whose user name is
// the tracker id, and the broker lets it write only under owntracks/{its user}/
// (deploy/mosquitto/acl). So the topic's user segment is the tracker.

// maxOwnTracks bounds a payload: a location is a few hundred bytes.
const maxOwnTracks = 8 << 10

// ownTracksMsg is the subset of a location or transition that the platform reads; every
// other field the apps send (alt, vac, vel, cog, conn, bs, m, SSID, inregions, ...) is
// allowed and ignored.
type ownTracksMsg struct {
	Type  string   `json:"_type"`
	Lat   *float64 `json:"lat"`
	Lon   *float64 `json:"lon"`
	Acc   *float64 `json:"acc"`
	Batt  *int     `json:"batt"`
	Tst   *int64   `json:"tst"`
	Tid   string   `json:"tid"`
	T     string   `json:"t"`     // trigger: "u" is the user's manual publish (the panic button)
	Event string   `json:"event"` // transition: "enter" or "leave"
	Desc  string   `json:"desc"`  // transition: the waypoint's name
	Topic string   `json:"topic"` // sent in HTTP mode; in MQTT mode it must agree with the topic
}

// ParseOwnTracks reads an OwnTracks MQTT message. The tracker is the topic's user segment;
// a payload that names another topic is a tracker sending for another and is refused.
func ParseOwnTracks(topic string, payload []byte) (Position, error) {
	parts := strings.Split(topic, "/")
	if len(parts) < 3 || len(parts) > 4 || parts[0] != "owntracks" || (len(parts) == 4 && parts[3] != "event") {
		return Position{}, reject(ReasonUnsupported, "topic %.80q is not owntracks/{user}/{device} or .../event", topic)
	}
	tracker := parts[1]
	if !ValidTrackerID(tracker) {
		return Position{}, reject(ReasonUnknown, "topic user %.70q is not a tracker id", tracker)
	}
	if len(payload) > maxOwnTracks {
		return Position{}, reject(ReasonMalformed, "payload of %d bytes, at most %d", len(payload), maxOwnTracks)
	}
	var m ownTracksMsg
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&m); err != nil {
		return Position{}, reject(ReasonMalformed, "not an OwnTracks JSON object: %v", err)
	}
	if dec.More() {
		return Position{}, reject(ReasonMalformed, "more than one JSON value")
	}
	switch m.Type {
	case "location":
		if len(parts) != 3 {
			return Position{}, reject(ReasonMalformed, "a location on the event topic")
		}
	case "transition":
		if m.Event != "enter" && m.Event != "leave" {
			return Position{}, reject(ReasonMalformed, "transition event %.20q is not enter or leave", m.Event)
		}
	default:
		return Position{}, reject(ReasonUnsupported, "_type %.20q is not read (location and transition are)", m.Type)
	}
	if m.Topic != "" && m.Topic != strings.Join(parts[:3], "/") && m.Topic != topic {
		return Position{}, reject(ReasonImpersonated, "payload names topic %.80q, published on %.80q", m.Topic, topic)
	}
	if m.Lat == nil || m.Lon == nil || m.Tst == nil {
		return Position{}, reject(ReasonMalformed, "lat, lon and tst are required")
	}
	p := Position{Tracker: tracker, Lat: *m.Lat, Lon: *m.Lon, At: time.Unix(*m.Tst, 0).UTC(), Battery: -1, Source: "owntracks"}
	if m.Acc != nil {
		p.Acc = *m.Acc
	}
	if m.Batt != nil {
		p.Battery = *m.Batt
	}
	// OwnTracks has no panic field. The app's manual publish ("report location", trigger
	// "u") is the one thing the citizen can press on a phone set up as a tracker, so it is
	// the panic button (docs/gps.md).
	p.Panic = m.Type == "location" && m.T == "u"
	return p, nil
}
