package localstack

import (
	"fmt"
	"strings"
)

// NATSUserConfig is one entry of an authorization block's users list; withPassword
// false leaves the password out (certificate users).
func NATSUserConfig(u NATSUser, withPassword bool) string {
	fields := []string{fmt.Sprintf("user: %q", u.Name)}
	if withPassword {
		fields = append(fields, fmt.Sprintf("password: %q", u.Password))
	}
	perm := func(filters []string) string {
		if len(filters) == 0 {
			return `{ deny: [">"] }`
		}
		subjects := make([]string, len(filters))
		for i, f := range filters {
			subjects[i] = fmt.Sprintf("%q", NATSSubject(f))
		}
		return "{ allow: [" + strings.Join(subjects, ", ") + "] }"
	}
	var perms []string
	if u.Publish != nil {
		perms = append(perms, "publish: "+perm(u.Publish))
	}
	if u.Subscribe != nil {
		perms = append(perms, "subscribe: "+perm(u.Subscribe))
	}
	if len(perms) > 0 {
		fields = append(fields, "permissions: { "+strings.Join(perms, ", ")+" }")
	}
	return "{ " + strings.Join(fields, ", ") + " }"
}

// NATSSubject converts an MQTT topic filter to the NATS subject NATS's MQTT support
// stores and checks it under: `/` becomes `.`, `+` `*` and `#` `>`, and a `.` inside a
// level becomes `//` (nats-server's mqttToNATSSubjectConversion), so a tracker's topic
// owntracks/gps.karen-01/phone is the subject owntracks.gps//karen-01.phone: still three
// tokens. Gateway ids are [a-z0-9-]; tracker ids are "gps." and [a-z0-9-].
func NATSSubject(filter string) string {
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

// NATSTrackerUser is what GPS tracker id (docs/gps.md: "gps." and [a-z0-9-]) may do on the
// cluster, as deploy/mosquitto/acl lets it on Mosquitto: publish its OwnTracks locations
// and transitions under owntracks/<own id>/<device>[/event], read nothing. name is its user
// name: the id, or "CN=<id>" under TLS.
func NATSTrackerUser(name, tracker, password string) NATSUser {
	p := "owntracks/" + tracker + "/+"
	return NATSUser{Name: name, Password: password, Publish: []string{p, p + "/event"}, Subscribe: []string{}}
}

// NATSGatewayUser is what gateway gw may do on the cluster: publish only under its own id
// (telemetry, alarms, its retained status and will) and read only its own configuration
// and downlink lanes. name is its user name: the gateway id, or "CN=<id>" under TLS.
func NATSGatewayUser(name, gw, password string) NATSUser {
	p := "vagt/v1/gw/" + gw + "/"
	return NATSUser{
		Name: name, Password: password,
		// telemetry/+: what the cluster checks when it splits telemetry into partitions
		// (NATSTelemetryPartitions): the mapped subject. Still only its own id.
		Publish:   []string{p + "telemetry", p + "telemetry/+", p + "alarm", p + "status"},
		Subscribe: []string{p + "config", p + "downlink"},
	}
}

// NATSServiceUsers are the platform's own users, named name("svc_ingest") and so on (a
// certificate subject under TLS: "CN=" + n): what each reads and writes is what the
// Mosquitto ACL (deploy/mosquitto/acl) gives the same user.
func NATSServiceUsers(name func(string) string, password func(string) string) []NATSUser {
	user := func(n string, pub, sub []string) NATSUser {
		return NATSUser{Name: name(n), Password: password(n), Publish: pub, Subscribe: sub}
	}
	return []NATSUser{
		user("svc_ingest", []string{"vagt/v1/dead/#"}, []string{"vagt/v1/gw/+/telemetry", "vagt/v1/gw/+/telemetry/+", "vagt/v1/gw/+/alarm"}),
		user("svc_api", []string{"vagt/v1/gw/+/config", "vagt/v1/gw/+/downlink"},
			// ... and the GPS trackers' OwnTracks locations and transitions (api/gps).
			[]string{"vagt/v1/gw/+/alarm", "vagt/v1/gw/+/status", "vagt/v1/gw/+/config", "owntracks/+/+", "owntracks/+/+/event"}),
		user("ops_monitor", []string{}, []string{"vagt/v1/#"}),
	}
}

// NATSTelemetryPartitions is the configuration line that splits the gateways' telemetry
// into n partitions by a hash of the gateway id: a gateway's vagt/v1/gw/<id>/telemetry
// reaches subscribers as vagt/v1/gw/<id>/telemetry/<k>, k in 0..n-1, always the same k for
// one gateway; `vagt ingest --partition k` takes partition k. NATS checks a publisher's
// permission on the mapped subject, so a gateway must be allowed telemetry/+ too
// (NATSGatewayUser). Without it (n 0) nothing is mapped.
func NATSTelemetryPartitions(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(`mappings = { "vagt.v1.gw.*.telemetry": "vagt.v1.gw.{{wildcard(1)}}.telemetry.{{partition(%d,1)}}" }`, n)
}
