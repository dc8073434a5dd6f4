package stats

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Municipalities side by side (docs/statistics.md, "Comparison"): per technology, over the
// whole period, the figures FLIS and KL's Center for Welfare Technology compare — uptake
// per 1,000 citizens aged 65+, devices active, time from registration to installation,
// churn, alarm response, benefit per citizen — with each municipality's rank and the
// distribution over the municipalities compared.
//
// A manager sees their own municipality exactly beside a peer group of similar size in the
// same region, as one aggregate protected like every other cell (the totals of a protected
// answer over the peers); the national role sees every municipality protected.

// PeerGroupSize is how many municipalities a default peer group has before any widening;
// an explicit peer group must have at least SuppressBelow.
const PeerGroupSize = 5

// CompareQuery is a validated comparison request.
type CompareQuery struct {
	Period       Period
	Technologies []vagt.Technology
	// Own is the manager's municipality (0: the national view of Municipalities).
	Own vagt.MunicipalityCode
	// Peers is an explicit peer group (nil: chosen by size and region).
	Peers          []vagt.MunicipalityCode
	Municipalities []vagt.MunicipalityCode
	All            bool
	Suppress       bool // the national view's rows; a manager's peers are always protected
}

// CompareRow is one municipality (or the peer group, or all compared together) × one
// technology, or the technology "all" for the figures of a municipality as a whole (alarm
// response). CSV and JSON carry the same fields.
type CompareRow struct {
	Entity           string                `json:"entity"` // municipality, peers or all
	Municipality     vagt.MunicipalityCode `json:"municipality,omitempty"`
	MunicipalityName string                `json:"municipality_name,omitempty"`
	Region           vagt.Region           `json:"region,omitempty"`
	Technology       string                `json:"technology"`
	Municipalities   int                   `json:"municipalities"`
	Citizens         *int                  `json:"citizens"`
	Per1000          *float64              `json:"citizens_per_1000_65plus"`
	DevicesInstalled *int                  `json:"devices_installed"`
	DevicesActive    *int                  `json:"devices_active"`
	NewInstallations *int                  `json:"new_installations"`
	DaysToInstallP50 *float64              `json:"days_registration_to_installation_p50"`
	Churn            *int                  `json:"churn_90d"`
	ChurnShare       *float64              `json:"churn_90d_share"`
	AckedWithin60s   *float64              `json:"acked_within_60s_share"`
	AckedWithin180s  *float64              `json:"acked_within_180s_share"`
	// ArrivedWithin30m is, of the critical and high alarms that needed a visit, the share
	// where staff said they arrived within 30 minutes (response.go); null when none did.
	ArrivedWithin30m  *float64 `json:"arrived_within_30min_share"`
	NetPerCitizenDKK  *float64 `json:"net_benefit_per_citizen_dkk"`
	Rank              *int     `json:"rank"` // by citizens per 1,000 65+, 1 = highest
	RankOf            int      `json:"rank_of"`
	Suppressed        bool     `json:"suppressed"`
	RoundingBase      int      `json:"rounding_base"`
	IncompleteFigures []string `json:"incomplete,omitempty"`
}

// Distribution is how citizens per 1,000 aged 65+ of a technology spread over the
// municipalities compared (their released figures; suppressed ones left out and counted).
type Distribution struct {
	Technology     vagt.Technology `json:"technology"`
	Municipalities int             `json:"municipalities"`
	Hidden         int             `json:"hidden"`
	Min            *float64        `json:"min"`
	P25            *float64        `json:"p25"`
	Median         *float64        `json:"median"`
	P75            *float64        `json:"p75"`
	Max            *float64        `json:"max"`
}

// PeerGroup says which municipalities a manager's peers are and how they were chosen.
type PeerGroup struct {
	Municipalities []vagt.MunicipalityCode `json:"municipalities"`
	Rule           string                  `json:"rule"`
	Widened        bool                    `json:"widened"`
	Note           string                  `json:"note,omitempty"`
}

// Comparison is the answer of GET /stats/compare.
type Comparison struct {
	Period       Period         `json:"period"`
	Disclosure   Disclosure     `json:"disclosure"`
	Population65 PopulationInfo `json:"population_65plus"`
	ModelName    string         `json:"benefit_model"`
	Illustrative bool           `json:"benefit_model_illustrative"`
	PeerGroup    *PeerGroup     `json:"peer_group,omitempty"`
	Arrival      string         `json:"arrival"` // "recorded": staff record arrivals (presence)
	Rows         []CompareRow   `json:"rows"`
	Distribution []Distribution `json:"distribution"`
}

// ErrSmallPeerGroup is a peer group too small to be shown as an aggregate.
var ErrSmallPeerGroup = fmt.Errorf("%w: peer group", api.ErrInvalid)

// Compare computes the comparison of q.
func (s *Service) Compare(ctx context.Context, q CompareQuery) (Comparison, error) {
	// One comparison asks the store for the same facts several times (adoption, alerts and
	// installation times of the national view, the peer group's choice): it reads each once.
	once := *s
	once.Store = &readOnce{FactStore: s.Store}
	return once.compare(ctx, q)
}

// readOnce is a FactStore that asks its store once per question and gives the same answer
// again, within one request (callers do not modify the slices). It is safe for concurrent
// use: a second caller of a question being read waits for its answer (compareRows reads
// adoption and alert statistics side by side).
type readOnce struct {
	FactStore
	mu       sync.Mutex
	devices  map[string]*answer[[]DeviceFact]
	citizens map[string]*answer[[]CitizenFact]
}

// answer is one question's answer, read by the first to ask.
type answer[T any] struct {
	once sync.Once
	v    T
	err  error
}

// ask returns the answer to question k of answers, reading it on the first call.
func ask[T any](mu *sync.Mutex, answers *map[string]*answer[T], k string, read func() (T, error)) (T, error) {
	mu.Lock()
	if *answers == nil {
		*answers = map[string]*answer[T]{}
	}
	a, ok := (*answers)[k]
	if !ok {
		a = &answer[T]{}
		(*answers)[k] = a
	}
	mu.Unlock()
	a.once.Do(func() { a.v, a.err = read() })
	return a.v, a.err
}

func onceKey(muns []vagt.MunicipalityCode, t time.Time) string { return fmt.Sprint(muns, t.UnixNano()) }

func (r *readOnce) DeviceFacts(ctx context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]DeviceFact, error) {
	return ask(&r.mu, &r.devices, onceKey(muns, before), func() ([]DeviceFact, error) {
		return r.FactStore.DeviceFacts(ctx, muns, before)
	})
}

// AlertRecords passes the question on (a comparison asks it once per part), in the
// store's shape when it has one.
func (r *readOnce) AlertRecords(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (AlertRecords, error) {
	return alertRecords(ctx, r.FactStore, muns, from, to)
}

func (r *readOnce) CitizenFacts(ctx context.Context, muns []vagt.MunicipalityCode, before time.Time) ([]CitizenFact, error) {
	return ask(&r.mu, &r.citizens, onceKey(muns, before), func() ([]CitizenFact, error) {
		return r.FactStore.CitizenFacts(ctx, muns, before)
	})
}

func (s *Service) compare(ctx context.Context, q CompareQuery) (Comparison, error) {
	p := q.Period
	p.Interval = Whole
	res := Comparison{Period: p, Population65: s.population().Info(), ModelName: s.Model.Name, Illustrative: s.Model.Illustrative,
		Arrival: "recorded", Rows: []CompareRow{}, Distribution: []Distribution{}}
	// Every municipality, protected: the national view, and for a manager the rank and
	// distribution their own figure stands in.
	all := Query{Period: p, Municipalities: q.Municipalities, All: q.All, Technologies: q.Technologies, Suppress: true}
	if q.Own != 0 {
		all.Municipalities, all.All = allMunicipalities(), true
	}
	var nat compared
	var err error
	if q.Own == 0 {
		nat, err = s.compareRows(ctx, all, "municipality")
	} else {
		nat, err = s.rankRows(ctx, all)
	}
	if err != nil {
		return res, err
	}
	res.Disclosure = all.disclosure()
	ranked := nat
	if q.Own == 0 {
		if !q.Suppress {
			exact := all
			exact.Suppress = false
			if nat, err = s.compareRows(ctx, exact, "municipality"); err != nil {
				return res, err
			}
			ranked, res.Disclosure = nat, exact.disclosure()
		}
		res.Rows = append(res.Rows, nat.rows...)
		res.Rows = append(res.Rows, nat.totals...)
	} else {
		own := Query{Period: p, Municipalities: []vagt.MunicipalityCode{q.Own}, Technologies: q.Technologies}
		mine, err := s.compareRows(ctx, own, "municipality")
		if err != nil {
			return res, err
		}
		group, err := s.peerGroup(ctx, q)
		if err != nil {
			return res, err
		}
		res.PeerGroup = group
		peers, err := s.compareRows(ctx, Query{Period: p, Municipalities: group.Municipalities, Technologies: q.Technologies, Suppress: true}, "peers")
		if err != nil {
			return res, err
		}
		res.Disclosure = own.disclosure()
		res.Disclosure.Rules = append(res.Disclosure.Rules, "The peer group is one aggregate of its municipalities, protected as the national view is: "+
			"counts of 1-4 citizens suppressed, the rest rounded to 5; the rank and distribution use the national view's protected figures.")
		res.Rows = append(res.Rows, mine.rows...)
		res.Rows = append(res.Rows, peers.totals...)
	}
	rank(res.Rows, ranked.rows)
	res.Distribution = distribution(q.Technologies, ranked.rows)
	return res, nil
}

// compared is compareRows' answer: a row per municipality × technology (and "all"), and
// the same over every municipality of the query together.
type compared struct{ rows, totals []CompareRow }

// compareRows computes the comparison's figures of q (one interval: the whole period).
func (s *Service) compareRows(ctx context.Context, q Query, entity string) (compared, error) {
	var out compared
	// The alert statistics share with the rest only the store's answers (read once): they
	// are computed on the other core, beside adoption, benefits and installation times
	// (wall time is what a national request waits; issue 18 item 5).
	var (
		al    AlertStats
		alErr error
		wg    sync.WaitGroup
	)
	wg.Go(func() { al, alErr = s.alerts(ctx, q, false) })
	a, b, days, err := s.adoptionParts(ctx, q)
	wg.Wait()
	if err != nil {
		return out, err
	}
	if alErr != nil {
		return out, alErr
	}
	rb := max(q.disclosure().RoundingBase, 1)
	names := municipalityInfo()
	for i, r := range a.Rows {
		row := CompareRow{Entity: entity, Municipality: r.Municipality, MunicipalityName: r.MunicipalityName, Region: r.Region,
			Technology: r.Technology.String(), Municipalities: 1, RoundingBase: rb, Suppressed: r.Suppressed}
		fillCompare(&row, q, r, b.Rows[i].NetDKK, days[cell{r.Municipality, r.Technology}])
		out.rows = append(out.rows, row)
	}
	for _, r := range al.Rows {
		out.rows = append(out.rows, CompareRow{Entity: entity, Municipality: r.Municipality, MunicipalityName: r.MunicipalityName,
			Region: names[r.Municipality].Region, Technology: "all", Municipalities: 1, RoundingBase: rb, Suppressed: r.Suppressed,
			Citizens: r.Citizens, AckedWithin60s: r.AckedWithin60s, AckedWithin180s: r.AckedWithin180s, ArrivedWithin30m: r.ArrivedWithin30m})
	}
	group := entity
	if entity == "municipality" {
		group = "all"
	}
	for _, t := range a.Totals {
		if t.Technology == nil {
			continue
		}
		row := CompareRow{Entity: group, Technology: t.Technology.String(), Municipalities: len(q.Municipalities), RoundingBase: rb,
			Suppressed: t.Suppressed, IncompleteFigures: t.Incomplete}
		var net *float64
		for _, bt := range b.Totals {
			if bt.Technology != nil && *bt.Technology == *t.Technology && !bt.WholePeriod {
				net = bt.NetDKK
			}
		}
		var pooled []float64
		for _, m := range q.Municipalities {
			pooled = append(pooled, days[cell{m, *t.Technology}]...)
		}
		fillCompare(&row, q, t.AdoptionRow, net, pooled)
		out.totals = append(out.totals, row)
	}
	for _, t := range al.Totals {
		if t.WholePeriod {
			out.totals = append(out.totals, CompareRow{Entity: group, Technology: "all", Municipalities: len(q.Municipalities), RoundingBase: rb,
				Suppressed: t.Suppressed, Citizens: t.Citizens, AckedWithin60s: t.AckedWithin60s, AckedWithin180s: t.AckedWithin180s,
				ArrivedWithin30m: t.ArrivedWithin30m})
		}
	}
	return out, nil
}

// adoptionParts are the comparison's adoption of q, its benefits and the days from
// registration to installation.
func (s *Service) adoptionParts(ctx context.Context, q Query) (Adoption, Benefits, map[cell][]float64, error) {
	a, err := s.Adoption(ctx, q)
	if err != nil {
		return a, Benefits{}, nil, err
	}
	b, err := s.benefitsFrom(ctx, q, a)
	if err != nil {
		return a, b, nil, err
	}
	days, err := s.installDays(ctx, q)
	return a, b, days, err
}

// rankRows are the rows of q that the rank and the distribution read (rank, distribution:
// each municipality's released citizens per 1,000 aged 65+, per technology), and nothing
// else: a manager's comparison needs the national view only for those, not its alarm
// response, benefits or installation times.
func (s *Service) rankRows(ctx context.Context, q Query) (compared, error) {
	var out compared
	a, err := s.Adoption(ctx, q)
	if err != nil {
		return out, err
	}
	out.rows = make([]CompareRow, len(a.Rows))
	for i, r := range a.Rows {
		out.rows[i] = CompareRow{Entity: "municipality", Municipality: r.Municipality, Technology: r.Technology.String(), Per1000: r.Per1000}
	}
	return out, nil
}

// fillCompare sets a technology row's figures from its released adoption figures r, the
// released net benefit and the days from registration to installation behind it.
func fillCompare(row *CompareRow, q Query, r AdoptionRow, net *float64, days []float64) {
	row.Citizens, row.Per1000, row.DevicesInstalled, row.DevicesActive = r.Citizens, r.Per1000, r.DevicesInstalled, r.DevicesActive
	row.NewInstallations, row.Churn = r.NewInstallations, r.Churn
	if r.Churn != nil && r.NewInstallations != nil && *r.NewInstallations > 0 {
		row.ChurnShare = ptr(round(float64(*r.Churn)/float64(*r.NewInstallations), 4))
	}
	// A time is a property of the installations behind it: given when their count is
	// released as more than 0, as alarm times are.
	if r.NewInstallations != nil && *r.NewInstallations > 0 {
		row.DaysToInstallP50 = percentile(days, 50)
	}
	if net != nil && r.Citizens != nil && *r.Citizens > 0 {
		row.NetPerCitizenDKK = ptr(round(*net/float64(*r.Citizens), 2))
	}
}

// installDays is, per municipality × technology, the days from each installing citizen's
// registration to each installation in the period (0 when the registry was typed in
// after a back-dated installation).
func (s *Service) installDays(ctx context.Context, q Query) (map[cell][]float64, error) {
	devices, err := s.Store.DeviceFacts(ctx, q.storeMuns(), q.Period.To)
	if err != nil {
		return nil, err
	}
	citizens, err := s.Store.CitizenFacts(ctx, q.storeMuns(), q.Period.To)
	if err != nil {
		return nil, err
	}
	// The citizens' registration by a dense index (the last, when listed twice), and the
	// devices grouped by municipality × technology asked: no map per device.
	reg := newCitizenIndex(nil, citizens)
	registered := make([]time.Time, len(citizens))
	for k := range citizens {
		if i := reg.add(citizens[k].ID); i >= 0 {
			registered[i] = citizens[k].RegisteredAt
		}
	}
	muns, techs := newMunIndex(q.Municipalities), newTechSet(q.Technologies)
	days := make([]float64, len(devices))
	byCell := groupBy(len(devices), muns.n*techSlots, func(k int) int {
		d := &devices[k]
		j, i := muns.of(d.Municipality), reg.lookup(d.Citizen)
		if j < 0 || i < 0 || d.InstalledAt.Before(q.Period.From) || !techs[d.Technology] {
			return -1
		}
		days[k] = math.Max(0, round(d.InstalledAt.Sub(registered[i]).Hours()/24, 1))
		return j*techSlots + int(d.Technology)
	})
	out := map[cell][]float64{}
	for _, m := range q.Municipalities {
		for _, t := range q.Technologies {
			sel := byCell.cell(muns.of(m)*techSlots + int(t))
			if len(sel) == 0 {
				continue
			}
			vs := make([]float64, len(sel))
			for n, k := range sel {
				vs[n] = days[k]
			}
			out[cell{m, t}] = vs
		}
	}
	return out, nil
}

// techSlots is the number of technology codes (a vagt.Technology is a byte).
const techSlots = math.MaxUint8 + 1

// peerGroup chooses a manager's peers: the PeerGroupSize municipalities of the same region
// nearest in citizens aged 65+ (by ratio), widened — nearest first, then beyond the region
// — while a technology's citizens over the group would be 1-4, which the aggregate could
// only suppress. An explicit group smaller than SuppressBelow, or one with the manager's
// own municipality, is refused.
func (s *Service) peerGroup(ctx context.Context, q CompareQuery) (*PeerGroup, error) {
	if q.Peers != nil {
		if slices.Contains(q.Peers, q.Own) {
			return nil, fmt.Errorf("%w: the peer group must not include your own municipality (%d)", ErrSmallPeerGroup, q.Own)
		}
		if len(q.Peers) < SuppressBelow {
			return nil, fmt.Errorf("%w of %d municipalities is smaller than %d, which an aggregate needs", ErrSmallPeerGroup, len(q.Peers), SuppressBelow)
		}
		return &PeerGroup{Municipalities: q.Peers, Rule: "chosen by the caller"}, nil
	}
	pop := s.population()
	info := municipalityInfo()
	own := info[q.Own]
	distance := func(m vagt.MunicipalityCode) float64 {
		a, b := float64(max(pop.Of(m), 1)), float64(max(pop.Of(q.Own), 1))
		return math.Abs(math.Log(a / b))
	}
	var order []vagt.MunicipalityCode
	for _, m := range vagt.Municipalities() {
		if m.Code != q.Own {
			order = append(order, m.Code)
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		ri, rj := info[order[i]].Region == own.Region, info[order[j]].Region == own.Region
		if ri != rj {
			return ri
		}
		return distance(order[i]) < distance(order[j])
	})
	// Citizens with each technology at the period's end, per municipality, exactly.
	devices, err := s.Store.DeviceFacts(ctx, nil, q.Period.To)
	if err != nil {
		return nil, err
	}
	all := newMunIndex(allMunicipalities())
	byCell := groupBy(len(devices), all.n*techSlots, func(k int) int {
		d := &devices[k]
		if j := all.of(d.Municipality); j >= 0 && (d.RemovedAt == nil || !d.RemovedAt.Before(q.Period.To)) {
			return j*techSlots + int(d.Technology)
		}
		return -1
	})
	seen := newDistinct(devices, nil)
	citizens := func(m vagt.MunicipalityCode, t vagt.Technology) int {
		j := all.of(m)
		if j < 0 {
			return 0
		}
		seen.gen++
		n := 0
		for _, k := range byCell.cell(j*techSlots + int(t)) {
			if idx := seen.of[k]; idx >= 0 && seen.marks[0][idx] != seen.gen {
				seen.marks[0][idx] = seen.gen
				n++
			}
		}
		return n
	}
	small := func(group []vagt.MunicipalityCode) []vagt.Technology {
		var out []vagt.Technology
		for _, t := range q.Technologies {
			n := 0
			for _, m := range group {
				n += citizens(m, t)
			}
			if anySmall(n) {
				out = append(out, t)
			}
		}
		return out
	}
	g := &PeerGroup{Municipalities: slices.Clone(order[:PeerGroupSize]),
		Rule: fmt.Sprintf("the %d municipalities of %s nearest in citizens aged 65+", PeerGroupSize, own.Region)}
	first := small(g.Municipalities)
	for n := PeerGroupSize; len(small(g.Municipalities)) > 0 && n < len(order); n++ {
		g.Municipalities = append(g.Municipalities, order[n])
	}
	if len(g.Municipalities) > PeerGroupSize {
		g.Widened = true
		g.Note = fmt.Sprintf("widened from %d to %d municipalities: over the first %d, fewer than %d citizens had %v, which could only be suppressed",
			PeerGroupSize, len(g.Municipalities), PeerGroupSize, SuppressBelow, first)
	}
	slices.Sort(g.Municipalities)
	return g, nil
}

// rank gives each municipality row of rows its rank by citizens per 1,000 aged 65+ among
// the released figures of ranked (the same technology), and the manager's own row (own)
// its place among the others' released figures.
func rank(rows, ranked []CompareRow) {
	for i := range rows {
		r := &rows[i]
		if r.Entity != "municipality" || r.Technology == "all" {
			continue
		}
		var others []float64
		for _, o := range ranked {
			if o.Entity == "municipality" && o.Technology == r.Technology && o.Per1000 != nil && o.Municipality != r.Municipality {
				others = append(others, *o.Per1000)
			}
		}
		r.RankOf = len(others) + 1
		if r.Per1000 == nil {
			continue
		}
		n := 1
		for _, v := range others {
			if v > *r.Per1000 {
				n++
			}
		}
		r.Rank = ptr(n)
	}
}

// distribution spreads each technology's per-1,000 figures over the municipalities.
func distribution(techs []vagt.Technology, rows []CompareRow) []Distribution {
	var out []Distribution
	for _, t := range techs {
		d := Distribution{Technology: t}
		var vs []float64
		for _, r := range rows {
			if r.Technology != t.String() || r.Entity != "municipality" {
				continue
			}
			d.Municipalities++
			if r.Per1000 == nil {
				d.Hidden++
				continue
			}
			vs = append(vs, *r.Per1000)
		}
		if len(vs) > 0 {
			d.Min, d.P25, d.Median, d.P75, d.Max = percentile(vs, 0), percentile(vs, 25), percentile(vs, 50), percentile(vs, 75), percentile(vs, 100)
		}
		out = append(out, d)
	}
	return out
}

func allMunicipalities() []vagt.MunicipalityCode {
	var out []vagt.MunicipalityCode
	for _, m := range vagt.Municipalities() {
		out = append(out, m.Code)
	}
	return out
}
