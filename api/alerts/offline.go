package alerts

import (
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
)

// Offline rules (docs/alerts.md, "Offline detection", "Never connected"): the alert a
// silent gateway raises and how it resolves itself. Which gateways are due at an instant
// is a query over every gateway, so the store selects them with the policy's timeouts
// (api/sqlstore/offline.go, never.go).

// DetailNeverConnected marks a gateway_offline alert about a gateway that was provisioned
// and never heard from (details {"never_connected": "true"}): it has no last status to
// age, so the heartbeat rule never sees it.
const DetailNeverConnected = "never_connected"

// OfflineAlarm is the alarm the platform raises at now about gateway gw of municipality
// mun: technical, about the gateway itself (device = gateway), dated now; never marks a
// gateway that never connected. Raised like any alarm, it folds into the gateway's
// unresolved offline alert (count + 1: a flapping link makes one alert), which a technical
// alert's repeat never re-arms (Rearm).
func OfflineAlarm(gw vagt.GatewayID, mun vagt.MunicipalityCode, never bool, now time.Time) vagt.Alarm {
	a := vagt.Alarm{Gateway: gw, Device: vagt.DeviceID(gw), Type: vagt.AlarmGatewayOffline, Priority: vagt.PriorityTechnical,
		Municipality: mun, Time: now}
	if never {
		a.Details = map[string]string{DetailNeverConnected: "true"}
	}
	return a
}

// Recovered is how an offline alert resolves itself at now (by the system): a technical
// fault, with a note saying since when its gateway is back (the stable period ago), or,
// never, that it connected for the first time (at once: no stable period to wait for).
func (p Policy) Recovered(never bool, now time.Time) (Outcome, string) {
	if never {
		return OutcomeTechnicalFault, "gateway connected for the first time; resolved automatically"
	}
	return OutcomeTechnicalFault, fmt.Sprintf("gateway back online since %s; resolved automatically",
		now.Add(-p.OnlineStable).UTC().Format(time.RFC3339))
}
