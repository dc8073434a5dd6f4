// Package brokerauth is the clustered broker's authorization service (`vagt broker-auth`):
// NATS calls it for every MQTT connection (the auth callout), and it decides who the client
// is, whether the MQTT client id it asks for is its own, and what it may publish and read.
//
// NATS does not tie an MQTT client id to a user: without this service any gateway with
// valid credentials could connect under the api's (or another gateway's) client id and take
// over that session and its queued alarms. Mosquitto forces the client id to the user name
// on the gateway listeners (use_username_as_clientid); this is the same rule on the cluster.
// It also replaces a users.conf with one entry per gateway: a gateway's identity comes from
// its client certificate (signed by the CA the nodes verify) or from the same password file
// Mosquitto reads, and its permissions follow from its id.
package brokerauth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/vagt-dk/vagt"
)

// Reasons a connection is refused, for logs and metrics.
const (
	ReasonNoIdentity    = "no_identity"    // neither a verified certificate nor a user name
	ReasonBadPassword   = "bad_password"   // unknown user or wrong password
	ReasonUnknownUser   = "unknown_user"   // a name that is no gateway, tracker or service
	ReasonClientID      = "client_id"      // the MQTT client id belongs to somebody else
	ReasonReservedID    = "reserved_id"    // a gateway id inside a service's client id space
	ReasonNotMQTT       = "not_mqtt"       // only MQTT clients are authorized here
	ReasonUserMismatch  = "user_mismatch"  // a user name other than the certificate's subject
	ReasonBadRequest    = "bad_request"    // the server's request could not be read
	ReasonNotRegistered = "not_registered" // a gateway or tracker missing from the registered ids
)

// Refusal is why a connection was not authorized.
type Refusal struct {
	Reason string
	Detail string
}

func (r *Refusal) Error() string { return r.Reason + ": " + r.Detail }

func refuse(reason, format string, args ...any) error {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf is the refusal reason of err, or ReasonBadRequest for any other error.
func ReasonOf(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ReasonBadRequest
}

// Grant is what an authorized client may do: MQTT topic filters (`+`, a trailing `#`) it may
// publish to and subscribe to. An empty list allows nothing.
type Grant struct {
	User      string
	Publish   []string
	Subscribe []string
}

// Service is one of the platform's own users and the MQTT client ids its replicas may use:
// a prefix p allows p itself and p-<anything> ("vagt-api" allows vagt-api-host1 and its
// -config, -downlink and -gps connections).
type Service struct {
	User      string
	ClientIDs []string
	Publish   []string
	Subscribe []string
}

// DefaultServices are the platform's users with the permissions deploy/mosquitto/acl gives
// them, and the client ids `vagt api` and `vagt ingest` use by default (--client-id).
func DefaultServices() []Service {
	return []Service{
		{User: "svc_ingest", ClientIDs: []string{"vagt-ingest"},
			Publish:   []string{"vagt/v1/dead/#"},
			Subscribe: []string{"vagt/v1/gw/+/telemetry", "vagt/v1/gw/+/telemetry/+", "vagt/v1/gw/+/alarm"}},
		{User: "svc_api", ClientIDs: []string{"vagt-api"},
			Publish: []string{"vagt/v1/gw/+/config", "vagt/v1/gw/+/downlink"},
			// ... and the GPS trackers' OwnTracks locations and transitions (api/gps).
			Subscribe: []string{"vagt/v1/gw/+/alarm", "vagt/v1/gw/+/status", "vagt/v1/gw/+/config", "owntracks/+/+", "owntracks/+/+/event"}},
		{User: "ops_monitor", ClientIDs: []string{"ops-monitor"}, Publish: []string{}, Subscribe: []string{"vagt/v1/#"}},
	}
}

// GatewayGrant is what gateway gw may do: publish only under its own id (telemetry, alarms,
// its retained status and will) and read only its own configuration and downlink lanes.
// telemetry/+ is the subject the cluster checks when it splits telemetry into partitions for
// ingest replicas (deploy/nats/nats.conf, mappings): still only its own id.
func GatewayGrant(gw string) Grant {
	p := "vagt/v1/gw/" + gw + "/"
	return Grant{User: gw,
		Publish:   []string{p + "telemetry", p + "telemetry/+", p + "alarm", p + "status"},
		Subscribe: []string{p + "config", p + "downlink"},
	}
}

// TrackerGrant is what GPS tracker id may do (docs/gps.md): publish its OwnTracks locations
// and transitions under owntracks/<own id>/<device>[/event], read nothing.
func TrackerGrant(tracker string) Grant {
	p := "owntracks/" + tracker + "/+"
	return Grant{User: tracker, Publish: []string{p, p + "/event"}, Subscribe: []string{}}
}

// trackerID is api/gps's tracker id rule ("gps." and 3-60 of [a-z0-9-]); a test keeps them
// equal (a component does not import another).
var trackerID = regexp.MustCompile(`^gps\.[a-z0-9-]{3,60}$`)

// TrackerClientID is the MQTT client id of tracker id's device (OwnTracks' "client id"): NATS
// allows no "." in a client id, so "gps.karen-01" connects as "gps_karen-01", or with a
// device "gps_karen-01_phone". The "_" is in no gateway, tracker or service id, so no
// tracker's client id is anybody else's.
func TrackerClientID(tracker, device string) string {
	id := "gps_" + strings.TrimPrefix(tracker, "gps.")
	if device != "" {
		id += "_" + device
	}
	return id
}

// Policy decides, from a proven user name and the client id asked for, what the client
// may do.
type Policy struct {
	services map[string]Service
}

// NewPolicy is the policy with these services (DefaultServices when none).
func NewPolicy(services ...Service) (*Policy, error) {
	if len(services) == 0 {
		services = DefaultServices()
	}
	p := &Policy{services: map[string]Service{}}
	for _, s := range services {
		if s.User == "" || len(s.ClientIDs) == 0 {
			return nil, fmt.Errorf("brokerauth: service %q needs a user and client ids", s.User)
		}
		if _, dup := p.services[s.User]; dup {
			return nil, fmt.Errorf("brokerauth: service %q twice", s.User)
		}
		p.services[s.User] = s
	}
	return p, nil
}

// IsService reports whether user is one of the platform's services.
func (p *Policy) IsService(user string) bool {
	_, ok := p.services[user]
	return ok
}

func inSpace(clientID, prefix string) bool {
	return clientID == prefix || strings.HasPrefix(clientID, prefix+"-")
}

// Decide returns the grant of user connecting with clientID, or a *Refusal. user has been
// proven (certificate or password) by the caller.
func (p *Policy) Decide(user, clientID string) (Grant, error) {
	if s, ok := p.services[user]; ok {
		for _, prefix := range s.ClientIDs {
			if inSpace(clientID, prefix) {
				return Grant{User: user, Publish: s.Publish, Subscribe: s.Subscribe}, nil
			}
		}
		return Grant{}, refuse(ReasonClientID, "service %s may not use client id %q", user, clientID)
	}
	if trackerID.MatchString(user) {
		own := TrackerClientID(user, "")
		if clientID != own && !strings.HasPrefix(clientID, own+"_") {
			return Grant{}, refuse(ReasonClientID, "tracker %s must connect as %s or %s_<device>, not %q", user, own, own, clientID)
		}
		return TrackerGrant(user), nil
	}
	if err := vagt.GatewayID(user).Validate(); err != nil {
		return Grant{}, refuse(ReasonUnknownUser, "%q is no gateway, tracker or service", user)
	}
	for _, s := range p.services {
		for _, prefix := range s.ClientIDs {
			if inSpace(user, prefix) {
				return Grant{}, refuse(ReasonReservedID, "gateway id %s is in service %s's client ids", user, s.User)
			}
		}
	}
	if clientID != user {
		return Grant{}, refuse(ReasonClientID, "gateway %s must connect with its own id as client id, not %q", user, clientID)
	}
	return GatewayGrant(user), nil
}

// Subject converts an MQTT topic filter to the NATS subject NATS's MQTT support checks it
// under: `/` becomes `.`, `+` `*` and `#` `>`, and a `.` inside a level `//`
// (nats-server's mqttToNATSSubjectConversion), so owntracks/gps.karen-01/phone is
// owntracks.gps//karen-01.phone: still three tokens.
func Subject(filter string) string {
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		switch l {
		case "+":
			levels[i] = "*"
		case "#":
			levels[i] = ">"
		default:
			levels[i] = strings.ReplaceAll(l, ".", "//")
		}
	}
	return strings.Join(levels, ".")
}
