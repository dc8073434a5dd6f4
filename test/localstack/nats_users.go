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

// NATSSubject converts an MQTT topic filter (as brokerauth.Subject, which the production
// authorization uses; this harness imports no component) to the NATS subject NATS's MQTT support
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

// NATSTelemetryPartitions is the configuration line that splits the gateways' telemetry
// into n partitions by a hash of the gateway id: a gateway's vagt/v1/gw/<id>/telemetry
// reaches subscribers as vagt/v1/gw/<id>/telemetry/<k>, k in 0..n-1, always the same k for
// one gateway; `vagt ingest --partition k` takes partition k. NATS checks a publisher's
// permission on the mapped subject, so a gateway must be allowed telemetry/+ too
// (brokerauth.GatewayGrant). Without it (n 0) nothing is mapped.
func NATSTelemetryPartitions(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(`mappings = { "vagt.v1.gw.*.telemetry": "vagt.v1.gw.{{wildcard(1)}}.telemetry.{{partition(%d,1)}}" }`, n)
}
