package night

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
	"github.com/vagt-dk/vagt/internal/outage"
)

// Store is what the service needs of the SQL store (api/sqlstore.NightService implements it).
type Store interface {
	NightHomes(ctx context.Context, scope api.Scope) ([]PlannedHome, error)
	NightChecks(ctx context.Context, scope api.Scope, home vagt.HomeID, from, to time.Time, limit int) ([]Check, error)
	NightDues(ctx context.Context, from, to time.Time) (map[vagt.HomeID][]time.Time, error)
	RecordNightCheck(ctx context.Context, scope api.Scope, c Check, visit *VisitAlert, now time.Time) (Check, error)
	MissNightCheck(ctx context.Context, c Check, gw vagt.GatewayID, now time.Time) (bool, error)
}

// SensorReader gives the sensors' state per gateway (influx.Night); an error means unknown.
type SensorReader interface {
	Sensors(ctx context.Context, gws []vagt.GatewayID, now time.Time) (map[vagt.GatewayID]Sensors, error)
}

// Service is night supervision: the board, the checks, and the sweep that turns a check
// not made within its window into an alert.
type Service struct {
	Store   Store
	Sensors SensorReader // nil: no InfluxDB configured; every sensor state is unknown
	Clock   api.Clock
	// Shift is the clock the check times are read against (what is due, overdue, missed);
	// nil: Clock. The demo's --night-speed runs it faster so a night passes in minutes;
	// what is recorded (checked at, alerts, audit) and the sensors stay on Clock.
	Shift  api.Clock
	Logger *slog.Logger
	// Tick is how often Run looks for missed checks; default 30 s.
	Tick time.Duration

	warned sync.Map // home → struct{}: a home with night checks and no gateway, logged once
}

// Lookahead is how long before its time a check shows on the board and may be made.
const Lookahead = time.Hour

// backlog is how far back a check is still shown and, unmade, raised as missed.
const backlog = 12 * time.Hour

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

// ShiftNow is the time on the shift's clock (Shift, or Clock): due times are on it.
func (s *Service) ShiftNow() time.Time { return s.shiftNow() }

// shiftNow is the time on the shift's clock (Shift, or Clock).
func (s *Service) shiftNow() time.Time {
	if s.Shift == nil {
		return s.now()
	}
	return s.Shift.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// homePlan is a home's night plan read from its effective care plan.
type homePlan struct {
	PlannedHome
	Plan Plan
	Loc  *time.Location
}

// away reports whether the citizen is away (an absence in the care plan) at t.
func (h homePlan) away(t time.Time) bool {
	return h.AwayFrom != nil && h.AwayUntil != nil && !t.Before(*h.AwayFrom) && t.Before(*h.AwayUntil)
}

func parseHome(h PlannedHome) (homePlan, bool) {
	var eff struct {
		TimeZone    string `json:"time_zone"`
		NightChecks *Plan  `json:"night_checks"`
	}
	if json.Unmarshal(h.Effective, &eff) != nil || eff.NightChecks == nil {
		return homePlan{}, false
	}
	if eff.TimeZone == "" {
		eff.TimeZone = vagt.DefaultTimeZone
	}
	loc, err := time.LoadLocation(eff.TimeZone)
	if err != nil {
		return homePlan{}, false
	}
	return homePlan{PlannedHome: h, Plan: *eff.NightChecks, Loc: loc}, true
}

// homes returns the homes in scope with a night plan and a gateway.
func (s *Service) homes(ctx context.Context, scope api.Scope) ([]homePlan, error) {
	rows, err := s.Store.NightHomes(ctx, scope)
	if err != nil {
		return nil, err
	}
	var out []homePlan
	for _, r := range rows {
		h, ok := parseHome(r)
		if !ok {
			continue
		}
		if h.Gateway == "" {
			if _, seen := s.warned.LoadOrStore(h.Home, struct{}{}); !seen {
				s.log().Warn("night: a home with night checks has no gateway; left off the board (logged once)", "home", h.Home)
			}
			continue
		}
		out = append(out, h)
	}
	return out, nil
}

// Status of a home's check on the board.
type Status string

// The statuses, in the board's order.
const (
	StatusOverdue  Status = "overdue"  // the window passed unchecked (an alert was raised)
	StatusDue      Status = "due"      // in its window now
	StatusUpcoming Status = "upcoming" // within the lookahead
	StatusDone     Status = "done"     // nothing due: every check of the last hours was made
)

var statusOrder = map[Status]int{StatusOverdue: 0, StatusDue: 1, StatusUpcoming: 2, StatusDone: 3}

// BoardHome is one home on the night board.
type BoardHome struct {
	Home         vagt.HomeID           `json:"home"`
	Municipality vagt.MunicipalityCode `json:"municipality"`
	District     int64                 `json:"district"`
	Citizen      string                `json:"citizen,omitempty"`
	Gateway      vagt.GatewayID        `json:"gateway"`
	Status       Status                `json:"status"`
	DueAt        *time.Time            `json:"due_at,omitempty"`
	WindowEnds   *time.Time            `json:"window_ends,omitempty"`
	Grade        Grade                 `json:"grade"`
	Findings     []Finding             `json:"findings"`
	State        State                 `json:"state"`
	Good         Good                  `json:"good"`
	// AwayUntil is set while the citizen is away (the care plan's absence): no check of
	// that time is due or missed.
	AwayUntil *time.Time `json:"away_until,omitempty"`
}

// Board is the night board of the shift on duty.
type Board struct {
	At        time.Time   `json:"at"`
	Telemetry string      `json:"telemetry"` // TelemetryOK or why the sensor state is unknown
	Homes     []BoardHome `json:"homes"`
}

// Board returns the homes in scope with night checks, the check due (or next, or none
// left), their state now and its grade; overdue and due first, red before amber.
func (s *Service) Board(ctx context.Context, scope api.Scope) (Board, error) {
	now := s.shiftNow()
	homes, err := s.homes(ctx, scope)
	if err != nil {
		return Board{}, err
	}
	dues, err := s.Store.NightDues(ctx, now.Add(-backlog-MaxWindow), now.Add(Lookahead+time.Minute))
	if err != nil {
		return Board{}, err
	}
	states, tel := s.states(ctx, homes, s.now())
	b := Board{At: now, Telemetry: tel, Homes: []BoardHome{}}
	for _, h := range homes {
		bh := BoardHome{Home: h.Home, Municipality: h.Municipality, District: h.District, Citizen: h.Citizen, Gateway: h.Gateway,
			Status: StatusDone, State: states[h.Home], Good: h.Plan.Good}
		w := h.Plan.WindowOrDefault()
		for _, o := range Occurrences(h.Plan.Times, h.Loc, now.Add(-backlog), now.Add(Lookahead)) {
			if slices.ContainsFunc(dues[h.Home], o.Equal) || !o.After(h.ChangedAt) || h.away(o) {
				continue
			}
			o, end := o.UTC(), o.Add(w).UTC()
			bh.DueAt, bh.WindowEnds = &o, &end
			switch {
			case !now.Before(end):
				bh.Status = StatusOverdue
			case !now.Before(o):
				bh.Status = StatusDue
			default:
				bh.Status = StatusUpcoming
			}
			break
		}
		if h.away(now) {
			bh.AwayUntil = h.AwayUntil
		}
		bh.Grade, bh.Findings = Judge(h.Plan.Good, bh.State)
		if bh.Findings == nil {
			bh.Findings = []Finding{}
		}
		b.Homes = append(b.Homes, bh)
	}
	rank := map[Grade]int{Red: 0, Amber: 1, Green: 2}
	slices.SortStableFunc(b.Homes, func(x, y BoardHome) int {
		if d := statusOrder[x.Status] - statusOrder[y.Status]; d != 0 {
			return d
		}
		if d := rank[x.Grade] - rank[y.Grade]; d != 0 {
			return d
		}
		return strings.Compare(string(x.Home), string(y.Home))
	})
	return b, nil
}

// states reads the homes' state now: the gateway from the status lane (the store), the
// sensors from InfluxDB. When InfluxDB does not answer, every sensor is unknown and
// telemetry says so.
func (s *Service) states(ctx context.Context, homes []homePlan, now time.Time) (map[vagt.HomeID]State, string) {
	out := map[vagt.HomeID]State{}
	tel := TelemetryOK
	var sensors map[vagt.GatewayID]Sensors
	if s.Sensors == nil {
		tel = "not_configured"
	} else if len(homes) > 0 {
		gws := make([]vagt.GatewayID, 0, len(homes))
		for _, h := range homes {
			gws = append(gws, h.Gateway)
		}
		var err error
		if sensors, err = s.Sensors.Sensors(ctx, gws, now); err != nil {
			s.log().Warn("night: sensor state unknown", "err", err)
			tel = TelemetryUnavailable
		}
	}
	for _, h := range homes {
		st := State{At: now, Telemetry: tel, GatewayOnline: ptr(h.Online), GatewaySeen: h.LastSeen}
		if x, ok := sensors[h.Gateway]; ok {
			st.InBed, st.InBedSince, st.LastMotion, st.DoorOpen, st.Temperature, st.Water = x.InBed, x.InBedSince, x.LastMotion, x.DoorOpen, x.Temperature, x.Water
		}
		out[h.Home] = st
	}
	return out, tel
}

// Decision is staff's verdict on a check.
type Decision struct {
	DueAt    time.Time `json:"due_at"`
	Decision string    `json:"decision"` // "all_well" or "visit"
	Note     string    `json:"note,omitempty"`
}

// ErrNoPlan is a home the caller may not see or without night checks.
var ErrNoPlan = fmt.Errorf("%w: no night checks for this home in your municipality or districts", api.ErrNotFound)

// InvalidField is a bad request naming its field (the HTTP error body carries it).
type InvalidField struct{ Field, Reason string }

func (e *InvalidField) Error() string        { return e.Field + ": " + e.Reason }
func (e *InvalidField) Unwrap() error        { return api.ErrInvalid }
func (e *InvalidField) InvalidField() string { return e.Field }

const maxNote = 500

// Record records staff's check of a home in scope: the state seen now and its grade, who
// and what they decided; "visit" raises a night_visit alert on the alarm lane's store path.
func (s *Service) Record(ctx context.Context, scope api.Scope, home vagt.HomeID, actor string, d Decision) (Check, error) {
	now, shift := s.now(), s.shiftNow()
	if d.Decision != AllWell && d.Decision != Visit {
		return Check{}, &InvalidField{"decision", fmt.Sprintf("%q: all_well or visit", d.Decision)}
	}
	if len(d.Note) > maxNote {
		return Check{}, &InvalidField{"note", fmt.Sprintf("at most %d bytes", maxNote)}
	}
	h, err := s.home(ctx, scope, home)
	if err != nil {
		return Check{}, err
	}
	occ := Occurrences(h.Plan.Times, h.Loc, shift.Add(-backlog), shift.Add(Lookahead))
	if d.DueAt.IsZero() || !slices.ContainsFunc(occ, d.DueAt.Equal) {
		return Check{}, &InvalidField{"due_at", fmt.Sprintf("%s is not a check time of this home's plan in the last %s or the next %s",
			d.DueAt.UTC().Format(time.RFC3339), backlog, Lookahead)}
	}
	states, _ := s.states(ctx, []homePlan{h}, now)
	st := states[h.Home]
	grade, findings := Judge(h.Plan.Good, st)
	seen, err := json.Marshal(struct {
		State
		Findings []Finding `json:"findings"`
	}{st, findings})
	if err != nil {
		return Check{}, err
	}
	c := Check{Home: h.Home, Municipality: h.Municipality, DueAt: d.DueAt.UTC(), By: actor, Decision: d.Decision,
		Grade: string(grade), State: seen, Note: d.Note}
	var visit *VisitAlert
	if d.Decision == Visit {
		visit = &VisitAlert{Gateway: h.Gateway, Details: map[string]string{"grade": string(grade), "findings": summary(findings)}}
	}
	return s.Store.RecordNightCheck(ctx, scope, c, visit, now)
}

// summary is the findings in a line for an alert's details (at most 256 bytes).
func summary(fs []Finding) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.Reason)
	}
	s := strings.Join(parts, "; ")
	if s == "" {
		s = "all conditions met"
	}
	if len(s) > vagt.MaxAlarmDetailValue {
		s = s[:vagt.MaxAlarmDetailValue]
	}
	return s
}

func (s *Service) home(ctx context.Context, scope api.Scope, home vagt.HomeID) (homePlan, error) {
	homes, err := s.homes(ctx, scope)
	if err != nil {
		return homePlan{}, err
	}
	for _, h := range homes {
		if h.Home == home {
			return h, nil
		}
	}
	return homePlan{}, ErrNoPlan
}

// Checks returns the checks due in [from, to) of a home in scope (it need not have night
// checks any more), newest first; the store decides the scope.
func (s *Service) Checks(ctx context.Context, scope api.Scope, home vagt.HomeID, from, to time.Time) ([]Check, error) {
	if !from.Before(to) || to.Sub(from) > 400*24*time.Hour {
		return nil, &InvalidField{"from", "from before to, at most 400 days apart"}
	}
	return s.Store.NightChecks(ctx, scope, home, from, to, 1000)
}

// Sweep raises a night_check_missed alert for every check whose window ended unchecked
// within the backlog (since its plan was saved). It returns how many it raised.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.shiftNow()
	homes, err := s.homes(ctx, api.Scope{All: true})
	if err != nil {
		return 0, err
	}
	dues, err := s.Store.NightDues(ctx, now.Add(-backlog-MaxWindow), now)
	if err != nil {
		return 0, err
	}
	type miss struct {
		h  homePlan
		at time.Time
	}
	var misses []miss
	for _, h := range homes {
		w := h.Plan.WindowOrDefault()
		for _, o := range Occurrences(h.Plan.Times, h.Loc, now.Add(-backlog-w), now) {
			if o.Add(w).After(now) || !o.After(h.ChangedAt) || h.away(o) || slices.ContainsFunc(dues[h.Home], o.Equal) {
				continue
			}
			misses = append(misses, miss{h, o})
		}
	}
	if len(misses) == 0 {
		return 0, nil
	}
	var hs []homePlan
	for _, m := range misses {
		hs = append(hs, m.h)
	}
	states, _ := s.states(ctx, hs, s.now())
	n := 0
	var errs []error
	for _, m := range misses {
		st := states[m.h.Home]
		grade, findings := Judge(m.h.Plan.Good, st)
		seen, _ := json.Marshal(struct {
			State
			Findings []Finding `json:"findings"`
		}{st, findings})
		ok, err := s.Store.MissNightCheck(ctx, Check{Home: m.h.Home, Municipality: m.h.Municipality, DueAt: m.at.UTC(),
			Grade: string(grade), State: seen}, m.h.Gateway, s.now())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			n++
			s.log().Warn("night: check not made within its window; alert raised", "home", m.h.Home, "due", m.at.UTC())
		}
	}
	return n, errors.Join(errs...)
}

// Run sweeps every Tick until ctx ends. A failed sweep is retried at the next, and a
// store that does not answer is logged when it goes and when it is back (outage.Log).
func (s *Service) Run(ctx context.Context) error {
	tick := s.Tick
	if tick <= 0 {
		tick = 30 * time.Second
	}
	failures := &outage.Log{Logger: s.log(), Loop: "night"}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			failures.Failed(err)
		} else if err == nil {
			failures.OK()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
