package careplan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Store is what the service needs of the SQL store (api/CarePlanService implements it).
type Store interface {
	HomeFacts(ctx context.Context, home vagt.HomeID) (HomeFacts, error)
	HomeConfig(ctx context.Context, home vagt.HomeID) (HomeConfigRow, error)
	HomeConfigHistory(ctx context.Context, home vagt.HomeID, limit int) ([]HomeConfigRow, error)
	SaveHomeConfig(ctx context.Context, home vagt.HomeID, ifVersion, above uint64, actor, detail string, now time.Time,
		build func(version uint64) (settings, effective []byte, err error)) (HomeConfigRow, error)
	RecordGatewayConfig(ctx context.Context, gw vagt.GatewayID, applied uint64, refused string, now time.Time) error
	MarkConfigPublished(ctx context.Context, gw vagt.GatewayID, version uint64, now time.Time) error
	GatewayConfig(ctx context.Context, gw vagt.GatewayID) (GatewayConfigState, error)
	Gateway(ctx context.Context, id vagt.GatewayID) (GatewayLink, error)
	ConfigsToPublish(ctx context.Context, limit int) ([]vagt.GatewayID, error)
	HomeConfigLines(ctx context.Context, mun vagt.MunicipalityCode, districts []int64, limit int) ([]HomeConfigLine, error)
	HomeCoverage(ctx context.Context, mun vagt.MunicipalityCode, districts []int64) (map[vagt.HomeID]HomeCoverage, error)
}

// Publisher puts a retained QoS 1 message on the broker (MQTT; a fake in tests).
type Publisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Options configure a Service.
type Options struct {
	Publisher Publisher // nil: nothing is pushed (an API without a broker); state stays pending
	Clock     Clock
	Logger    *slog.Logger
	// Republish is how long after publishing a version to a gateway the service waits
	// before publishing it again to a gateway that reports an older one; default 1 min.
	Republish time.Duration
	// Retry is the wait after a failed publish; default 1 s.
	Retry time.Duration
}

// Service is the care-plan service: it reads and changes homes' configurations and
// pushes them to the gateways. Run runs the pusher.
type Service struct {
	store Store
	o     Options
	log   *slog.Logger
	push  chan vagt.GatewayID

	mu     sync.Mutex
	queued map[vagt.GatewayID]bool // in push or waiting to retry: one publish covers them all
}

// NewService returns a service on store.
func NewService(store Store, o Options) *Service {
	if o.Clock == nil {
		o.Clock = api.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Republish <= 0 {
		o.Republish = time.Minute
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	return &Service{store: store, o: o, log: o.Logger.With("component", "careplan"), push: make(chan vagt.GatewayID, 1024),
		queued: map[vagt.GatewayID]bool{}}
}

// State says whether a home's gateway runs its latest configuration.
type State string

// The states.
const (
	StateNone    State = "none"    // the home has no configuration of its own yet (defaults shown)
	StateLatest  State = "latest"  // every gateway of the home runs the latest version
	StatePending State = "pending" // published or waiting to be; the gateway has not reported it (offline?)
	StateRefused State = "refused" // the gateway refused it and runs an older one; see Reason
)

// View is a home's configuration and where it stands.
type View struct {
	Home      vagt.HomeID      `json:"home"`
	Version   uint64           `json:"version"` // desired; 0: none yet
	State     State            `json:"state"`
	Settings  Settings         `json:"settings"`  // as staff wrote them
	Effective Settings         `json:"effective"` // with the defaults filled in: what the gateway runs
	ChangedAt *time.Time       `json:"changed_at,omitempty"`
	ChangedBy string           `json:"changed_by,omitempty"`
	Gateways  []GatewayRunning `json:"gateways"`
	// Registered are the devices registered behind the home's gateways, so that a form can
	// offer one the plan left out.
	Registered []Device `json:"registered"`
}

// GatewayRunning is what one gateway of the home runs.
type GatewayRunning struct {
	Gateway     vagt.GatewayID `json:"gateway"`
	Online      bool           `json:"online"`
	Applied     uint64         `json:"applied"`
	State       State          `json:"state"`
	Reason      string         `json:"reason,omitempty"` // why it refused the last configuration it got
	ReportedAt  *time.Time     `json:"reported_at,omitempty"`
	Published   uint64         `json:"published"`
	PublishedAt *time.Time     `json:"published_at,omitempty"`
}

// Change is one version in a home's history.
type Change struct {
	Version   uint64    `json:"version"`
	ChangedAt time.Time `json:"changed_at"`
	ChangedBy string    `json:"changed_by"`
	Changed   []string  `json:"changed"` // the fields that differ from the version before
	Settings  Settings  `json:"settings"`
	Effective Settings  `json:"effective"`
}

// facts returns what the store knows of the home after deciding the caller's access: a
// home outside the scope is api.ErrOutOfScope, which the API answers as a missing home.
func (s *Service) facts(ctx context.Context, scope api.Scope, home vagt.HomeID) (HomeFacts, error) {
	f, err := s.store.HomeFacts(ctx, home)
	if err != nil {
		return f, err
	}
	if !scope.Allows(f.Municipality, f.District) {
		return HomeFacts{}, fmt.Errorf("home %s: %w", home, api.ErrOutOfScope)
	}
	return f, nil
}

// View returns a home's configuration and whether its gateways run it.
func (s *Service) View(ctx context.Context, scope api.Scope, home vagt.HomeID) (View, error) {
	f, err := s.facts(ctx, scope, home)
	if err != nil {
		return View{}, err
	}
	v := View{Home: home, State: StateNone, Gateways: []GatewayRunning{}, Registered: defaultDevices(f.Devices)}
	row, err := s.store.HomeConfig(ctx, home)
	switch {
	case errors.Is(err, api.ErrNotFound):
		v.Settings = Settings{Devices: defaultDevices(f.Devices)}
		v.Effective = Effective(v.Settings, f.Municipality)
	case err != nil:
		return View{}, err
	default:
		v.Version, v.ChangedAt, v.ChangedBy = row.Version, &row.ChangedAt, row.ChangedBy
		if err := errors.Join(json.Unmarshal(row.Settings, &v.Settings), json.Unmarshal(row.Effective, &v.Effective)); err != nil {
			return View{}, fmt.Errorf("configuration of home %s: %w", home, err)
		}
	}
	for _, gw := range f.Gateways {
		st, err := s.store.GatewayConfig(ctx, gw)
		if err != nil {
			return View{}, err
		}
		g := GatewayRunning{Gateway: gw, Online: st.Online, Applied: st.Applied, Reason: st.Refused,
			ReportedAt: st.ReportedAt, Published: st.Published, PublishedAt: st.PublishedAt}
		g.State = state(v.Version, st)
		v.Gateways = append(v.Gateways, g)
		if v.State == StateNone || v.State == StateLatest || g.State == StateRefused {
			v.State = g.State
		}
	}
	if v.Version > 0 && len(f.Gateways) == 0 {
		v.State = StatePending // no gateway installed yet
	}
	return v, nil
}

func state(desired uint64, st GatewayConfigState) State {
	switch {
	case desired == 0:
		return StateNone
	case st.Applied >= desired:
		return StateLatest
	case st.Refused != "":
		return StateRefused
	}
	return StatePending
}

// defaultDevices is the device map a home without a configuration shows: its registered
// devices, with their technologies' defaults.
func defaultDevices(known map[vagt.DeviceID]vagt.Technology) []Device {
	out := []Device{}
	for id, t := range known {
		out = append(out, Device{Device: id, Technology: t})
	}
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(string(a.Device), string(b.Device)) })
	return out
}

// Update validates settings and stores them as the home's next version, then pushes the
// configuration to the home's gateways. ifVersion > 0 refuses the change (api.ErrConflict)
// when the home is at another version.
func (s *Service) Update(ctx context.Context, scope api.Scope, home vagt.HomeID, set Settings, ifVersion uint64, actor string) (View, error) {
	f, err := s.facts(ctx, scope, home)
	if err != nil {
		return View{}, err
	}
	gw := vagt.GatewayID("gw-none") // a home without a gateway yet: validated all the same
	if len(f.Gateways) > 0 {
		gw = f.Gateways[0]
	}
	var prev Settings
	if row, err := s.store.HomeConfig(ctx, home); err == nil {
		_ = json.Unmarshal(row.Effective, &prev)
	}
	// Validate before the transaction, with a version that fits; the store numbers it.
	eff, _, err := Check(set, f.Devices, gw, f.Municipality, 1)
	if err != nil {
		return View{}, err
	}
	confirmed, err := checkConfirmed(set, f.Devices)
	if err != nil {
		return View{}, err
	}
	set.Confirm = confirmed // kept with the plan: a later change (an absence) need not ask again
	setJSON, err1 := json.Marshal(set)
	effJSON, err2 := json.Marshal(eff)
	if err := errors.Join(err1, err2); err != nil {
		return View{}, err
	}
	detail := "changed " + strings.Join(diff(prev, eff), ", ")
	if len(confirmed) > 0 {
		detail += "; confirmed " + strings.Join(confirmed, ", ")
		s.log.Warn("care plan drops protection, confirmed", "home", home, "actor", actor, "confirmed", confirmed)
	}
	var above uint64 // the highest version a gateway of the home runs
	for _, g := range f.Gateways {
		st, err := s.store.GatewayConfig(ctx, g)
		if err != nil {
			return View{}, err
		}
		above = max(above, st.Applied)
	}
	if _, err := s.store.SaveHomeConfig(ctx, home, ifVersion, above, actor, detail, s.o.Clock.Now(),
		func(uint64) ([]byte, []byte, error) { return setJSON, effJSON, nil }); err != nil {
		return View{}, err
	}
	for _, g := range f.Gateways {
		s.enqueue(g)
	}
	return s.View(ctx, scope, home)
}

// History returns a home's versions, newest first, each with the fields it changed.
func (s *Service) History(ctx context.Context, scope api.Scope, home vagt.HomeID, limit int) ([]Change, error) {
	if _, err := s.facts(ctx, scope, home); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	// One more than asked: the oldest shown needs its predecessor to say what changed.
	rows, err := s.store.HomeConfigHistory(ctx, home, limit+1)
	if err != nil {
		return nil, err
	}
	out := []Change{}
	for i, r := range rows {
		c := Change{Version: r.Version, ChangedAt: r.ChangedAt, ChangedBy: r.ChangedBy}
		if err := errors.Join(json.Unmarshal(r.Settings, &c.Settings), json.Unmarshal(r.Effective, &c.Effective)); err != nil {
			return nil, err
		}
		out = append(out, c)
		if i > 0 {
			out[i-1].Changed = diff(c.Effective, out[i-1].Effective)
		}
	}
	if len(out) > 0 && out[len(out)-1].Version == 1 {
		out[len(out)-1].Changed = diff(Settings{}, out[len(out)-1].Effective)
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// diff names the top-level fields (time_zone, devices, rules.night, ...) that differ.
func diff(a, b Settings) []string {
	var out []string
	same := func(x, y any) bool {
		bx, _ := json.Marshal(x)
		by, _ := json.Marshal(y)
		return string(bx) == string(by)
	}
	if a.TimeZone != b.TimeZone {
		out = append(out, "time_zone")
	}
	if !same(a.Devices, b.Devices) {
		out = append(out, "devices")
	}
	if !same(a.Absence, b.Absence) {
		out = append(out, "absence")
	}
	if !same(a.NightChecks, b.NightChecks) {
		out = append(out, "night_checks")
	}
	var ra, rb map[string]json.RawMessage
	ja, _ := json.Marshal(a.Rules)
	jb, _ := json.Marshal(b.Rules)
	_ = json.Unmarshal(ja, &ra)
	_ = json.Unmarshal(jb, &rb)
	keys := map[string]bool{}
	for k := range ra {
		keys[k] = true
	}
	for k := range rb {
		keys[k] = true
	}
	var rk []string
	for k := range keys {
		if string(ra[k]) != string(rb[k]) {
			rk = append(rk, "rules."+k)
		}
	}
	slices.Sort(rk)
	out = append(out, rk...)
	if len(out) == 0 {
		out = []string{"nothing"}
	}
	return out
}
