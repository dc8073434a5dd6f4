package sqlstore

// The store implements each of the api's services as its own type over one shared DB.
// The wiring (api/server) hands each consumer only the service it needs; scope_test.go
// lists which of their methods take the caller's api.Scope.

// AlertService is alerts and their events: the alarm lane's inserts, the lifecycle (ack,
// resolve, notes), escalation and offline detection, the gauges, the event log, and the
// absence the alert detail shows.
type AlertService struct{ *DB }

// RegistryService is municipalities, districts, citizens, homes, gateways and devices, their
// changes, test mode, and a citizen's own data (export, erasure).
type RegistryService struct{ *DB }

// CarePlanService is the homes' care plans: configs, their delivery to gateways (with the
// gateway's connection state), coverage.
type CarePlanService struct{ *DB }

// UserService is users, their tokens and activation codes.
type UserService struct{ *DB }

// AuditService is the hash-chained audit log.
type AuditService struct{ *DB }

// StatsService is the activity roll-up and the facts the statistics count.
type StatsService struct{ *DB }

// GPSService is trackers, safe zones and positions.
type GPSService struct{ *DB }

// RosterService is the districts' duty rosters and the municipalities' central on-call.
type RosterService struct{ *DB }

// RetentionService is what the retention job needs: alerts anonymised after their time and
// the municipalities' telemetry retention.
type RetentionService struct{ *DB }

// NightService is night supervision: the plans' checks and their records.
type NightService struct{ *DB }

// Store is every service over one DB, as Open returns it. The wiring takes the services
// out of it one by one; the command line, the demo seed and tests use it whole. A method
// defined on *Store sees the DB's fields and every service's methods.
type Store struct {
	*DB
	*AlertService
	*RegistryService
	*CarePlanService
	*UserService
	*AuditService
	*StatsService
	*GPSService
	*NightService
	*RetentionService
	*RosterService
}

func newStore(db *DB) *Store {
	return &Store{DB: db,
		AlertService:     &AlertService{db},
		RegistryService:  &RegistryService{db},
		CarePlanService:  &CarePlanService{db},
		UserService:      &UserService{db},
		AuditService:     &AuditService{db},
		StatsService:     &StatsService{db},
		GPSService:       &GPSService{db},
		NightService:     &NightService{db},
		RetentionService: &RetentionService{db},
		RosterService:    &RosterService{db},
	}
}
