package sqlstore_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// Why a service method may go without the caller's api.Scope. Every exported method of a
// service type either takes a Scope (the service decides access) or is listed in
// unscoped with one of these reasons. Adding a method without a Scope fails
// TestServicesTakeScope until someone lists it here and says why.
const (
	// A device or the platform writes; there is no caller whose access to decide.
	lane = "alarm lane / tracker insert: the writer is a device, not a person"
	// A background loop or a command-line tool of the operator, not a request.
	system = "system loop or operator command: no request, no caller"
	// The live stream and the downlink read the event log; the feed filters each event by
	// the subscriber's scope (alerts.Feed) before it leaves the process.
	eventLog = "event log: each event is filtered by the subscriber's scope in alerts.Feed"
	// Counts and states without a name, an address or a position.
	aggregate = "counts or states without personal data"
	// Authentication runs before there is a principal to scope.
	authn = "authentication: no principal yet, or the principal's own tokens"
	// Reference data or one registry object without personal data, for every caller or for
	// reads inside a method that decided the scope already.
	registryAdmin = "registry object without personal data"
	// The care-plan service (api/careplan) reads the home's facts and decides the caller's
	// scope before it reads or changes the plan.
	carePlan = "care plan: careplan.Service decides the caller's scope before it calls"
)

// unscoped lists every exported service method that takes no api.Scope, with the reason.
var unscoped = map[string]string{
	"AlertService.IngestAlarm":         lane,
	"AlertService.ReplayAlarm":         system,
	"AlertService.RecordStatus":        lane,
	"AlertService.RecordStatusSeen":    lane,
	"AlertService.GatewayEventsSince":  system, // the downlink tells a gateway back online what it missed
	"AlertService.GatewayChangesSince": system, // the downlink's note of which gateways have news
	"AlertService.EscalateDue":         system,
	"AlertService.DetectOffline":       system,
	"AlertService.SkipEventIDs":        system,
	"AlertService.AlertRaiseSeqs":      system, // the downlink tells the home what became of its alarm
	"AlertService.EventsAfter":         eventLog,
	"AlertService.LastEventID":         eventLog,
	"AlertService.HasEvent":            eventLog,
	"AlertService.AlertGauges":         aggregate,
	"AlertService.AlertAudience":       aggregate, // the tiers an alert reaches, for an alert already allowed
	"AlertService.BeatStreams":         system,    // a replica's heartbeat of its listeners
	"AlertService.ListeningUsers":      system,
	"AlertService.EscalateUnheard":     system,
	"AlertService.Alert":               system, // the downlink retells what became of a home's alarm; no handler reads it

	"RetentionService.AnonymiseAlerts":       system,
	"RetentionService.TelemetryRetention":    system,
	"RetentionService.SetTelemetryRetention": system,

	"CarePlanService.ConfigsToPublish":    system,
	"CarePlanService.MarkConfigPublished": system,
	"CarePlanService.RecordGatewayConfig": lane,
	"CarePlanService.GatewayConfig":       aggregate,
	"CarePlanService.Gateway":             aggregate,
	"CarePlanService.HomeCoverage":        aggregate,
	"CarePlanService.HomeFacts":           carePlan,
	"CarePlanService.HomeConfig":          carePlan,
	"CarePlanService.HomeConfigHistory":   carePlan,
	"CarePlanService.HomeConfigLines":     carePlan,
	"CarePlanService.SaveHomeConfig":      carePlan,

	"NightService.MissNightCheck":   system,
	"NightService.NightDues":        system,
	"NightService.NightCheckCounts": aggregate,

	"AuditService.Audit":       system, // every service writes through it, inside its own check
	"AuditService.VerifyAudit": system,

	"UserService.Principal":        authn,
	"UserService.Activate":         authn,
	"UserService.IssueToken":       system, // vagt token issue, the demo seed
	"UserService.IssueTokenWith":   authn,
	"UserService.Tokens":           authn,
	"UserService.RevokeToken":      authn,
	"UserService.RevokeUserTokens": authn,
	"UserService.UserID":           system,

	"StatsService.ActivityMark":         system,
	"StatsService.ReplaceActivityDay":   system,
	"StatsService.RolledUpDays":         system,
	"StatsService.ForgetActivityBefore": system,
	"StatsService.PruneForgotten":       system,
	"StatsService.ActiveInDays":         aggregate,
	"StatsService.AlertFacts":           aggregate,
	"StatsService.AlertRecords":         aggregate,
	"StatsService.CitizenFacts":         aggregate,
	"StatsService.DeviceFacts":          aggregate,

	"GPSService.RecordPosition":       lane,
	"GPSService.TrackerByKey":         authn,
	"GPSService.DetectSilentTrackers": system,
	"GPSService.PrunePositions":       system,
	"GPSService.ActiveTrackers":       aggregate,

	"RegistryService.CreateDistrict":       system, // the command-line import, the demo seed; the API's is AddDistrict
	"RegistryService.District":             registryAdmin,
	"RegistryService.Municipalities":       registryAdmin, // the 98 municipalities, for every caller
	"RegistryService.RegisterGateway":      system,        // the command-line import and the demo seed
	"RegistryService.RegisterDevice":       system,
	"RegistryService.CreateCitizen":        system,
	"RegistryService.CreateHome":           system,
	"RegistryService.LinkCitizenUser":      system,
	"RegistryService.RegistryGateway":      registryAdmin,
	"RegistryService.GatewayPasswordHash":  registryAdmin, // admins only (the handler's requireAdmin), audited
	"RegistryService.Device":               registryAdmin,
	"RegistryService.CitizenOfUser":        authn, // the citizen's own login
	"RegistryService.CitizensByIdentity":   authn, // the national login names a citizen
	"RegistryService.IssueCitizenSession":  authn,
	"RegistryService.IssueRelativeSession": authn,
	"RegistryService.RelativeHasGrant":     authn,
	"RegistryService.GrantsOfRelative":     authn, // the relative's own grants, read again at every request
}

// services are the store's service types; a new one belongs here.
var services = []any{
	(*sqlstore.AlertService)(nil),
	(*sqlstore.RegistryService)(nil),
	(*sqlstore.CarePlanService)(nil),
	(*sqlstore.UserService)(nil),
	(*sqlstore.AuditService)(nil),
	(*sqlstore.StatsService)(nil),
	(*sqlstore.GPSService)(nil),
	(*sqlstore.NightService)(nil),
	(*sqlstore.RetentionService)(nil),
	(*sqlstore.RosterService)(nil),
}

// TestServicesTakeScope lists every exported method of every service type that takes no
// api.Scope and is not in unscoped, and every entry of unscoped that names no such method
// (a method that gained a Scope, or went, leaves the list).
func TestServicesTakeScope(t *testing.T) {
	scopeType := reflect.TypeOf(api.Scope{})
	handle := reflect.TypeOf((*sqlstore.DB)(nil))
	// Each service is a field of Store, which Open returns, so none is out of reach.
	store := reflect.TypeOf(sqlstore.Store{})
	seen := map[string]bool{}
	var scoped int
	for _, svc := range services {
		typ := reflect.TypeOf(svc)
		name := typ.Elem().Name()
		if _, ok := store.FieldByName(name); !ok {
			t.Errorf("sqlstore.Store has no field %s", name)
		}
		for i := 0; i < typ.NumMethod(); i++ {
			m := typ.Method(i)
			if _, promoted := handle.MethodByName(m.Name); promoted {
				continue // the handle's Close, Ping, Listen...: no data
			}
			key := name + "." + m.Name
			takes := false
			for j := 1; j < m.Type.NumIn(); j++ { // 0 is the receiver
				if m.Type.In(j) == scopeType {
					takes = true
				}
			}
			if takes {
				scoped++
				if why, ok := unscoped[key]; ok {
					t.Errorf("%s takes an api.Scope but is listed as unscoped (%s): take it off the list", key, why)
				}
				seen[key] = true
				continue
			}
			seen[key] = true
			if _, ok := unscoped[key]; !ok {
				t.Errorf("%s takes no api.Scope: give it the caller's scope, or list it in unscoped with a reason", key)
			}
		}
	}
	var stale []string
	for key := range unscoped {
		if !seen[key] {
			stale = append(stale, key)
		}
	}
	slices.Sort(stale)
	for _, key := range stale {
		t.Errorf("unscoped lists %s, which is no exported method of a service type", key)
	}
	if scoped == 0 {
		t.Error("no service method takes an api.Scope: the check found nothing to check")
	}
	t.Logf("%d methods take a Scope; %d are listed without, each with its reason", scoped, len(unscoped))
}
