package stats

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/vagt-dk/vagt"
)

// Population is the number of citizens aged 65+ per municipality, the denominator of
// "per 1,000 citizens aged 65+", with where the figures come from. Every answer that
// uses it says so (PopulationInfo), so an illustrative figure is never taken for an
// official one.
type Population struct {
	info   PopulationInfo
	counts map[vagt.MunicipalityCode]int
}

// PopulationInfo says where the 65+ figures come from.
type PopulationInfo struct {
	Source       string `json:"source"`
	Period       string `json:"period,omitempty"` // FOLK1A's quarter, e.g. 2026K1
	Illustrative bool   `json:"illustrative"`
}

// Of returns the citizens aged 65+ in m; 0 if unknown (no rate is computed then).
func (p *Population) Of(m vagt.MunicipalityCode) int {
	if p == nil {
		return 0
	}
	return p.counts[m]
}

// Info says where the figures come from.
func (p *Population) Info() PopulationInfo {
	if p == nil {
		return PopulationInfo{}
	}
	return p.info
}

// population65CSV is the shipped table. Its figures are ILLUSTRATIVE (see the file's
// header and docs/statistics.md), not Statistics Denmark's: no network access to
// statbank.dk was had when it was written. `vagt api --population65` loads the real one.
//
//go:embed data/population65.csv
var population65CSV string

var defaultPopulation = func() *Population {
	var lines []string
	for _, l := range strings.Split(population65CSV, "\n") {
		if !strings.HasPrefix(l, "#") && strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(strings.Join(lines, "\n"))).ReadAll()
	if err != nil {
		panic("stats: data/population65.csv: " + err.Error())
	}
	p := &Population{info: PopulationInfo{Source: "illustrative figures shipped with vagt (api/stats/data/population65.csv), not official statistics", Illustrative: true},
		counts: map[vagt.MunicipalityCode]int{}}
	for _, r := range recs[1:] {
		code, err1 := strconv.Atoi(r[0])
		n, err2 := strconv.Atoi(r[1])
		if err1 != nil || err2 != nil {
			panic("stats: data/population65.csv: bad line " + strings.Join(r, ","))
		}
		p.counts[vagt.MunicipalityCode(code)] = n
	}
	return p
}()

// DefaultPopulation is the shipped, illustrative table.
func DefaultPopulation() *Population { return defaultPopulation }

// Population65 returns the shipped (illustrative) number of citizens aged 65+ in m.
func Population65(m vagt.MunicipalityCode) int { return defaultPopulation.Of(m) }

// ErrPopulation is the error of a population file that cannot be used.
var ErrPopulation = errors.New("population file")

// notMunicipalities are FOLK1A areas that are not among the 98: the whole country, the
// five regions, and Christiansø (administered by the state).
var notMunicipalities = map[string]bool{"000": true, "0": true, "081": true, "082": true, "083": true, "084": true, "085": true, "411": true}

// ReadPopulation reads Statistics Denmark's table FOLK1A (population on the first day of
// the quarter) as statbank.dk's API exports it with codes (docs/statistics.md has the
// exact request): a CSV, ';'- or ','-separated, with the columns OMRÅDE (the area's
// code), ALDER (age: a single year "65", or a band "65-69"), TID (the quarter) and
// INDHOLD (the count). Other columns (KØN, CIVILSTAND) must hold one value only, their
// total, or the counts would be added twice. Ages 65 and over are summed per
// municipality. The whole country, the regions and Christiansø are skipped; any other
// unknown area, a band across 65, a second quarter, a missing municipality or a bad count
// is an error: a half-read table must not become a denominator.
func ReadPopulation(r io.Reader) (*Population, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPopulation, err)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	first, _, _ := bytes.Cut(data, []byte("\n"))
	cr := csv.NewReader(bytes.NewReader(data))
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		cr.Comma = ';'
	}
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPopulation, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("%w: no rows", ErrPopulation)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[strings.ToUpper(strings.TrimSpace(h))] = i
	}
	need := func(names ...string) (int, error) {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i, nil
			}
		}
		return 0, fmt.Errorf("%w: no column %s (header %q)", ErrPopulation, names[0], recs[0])
	}
	area, err := need("OMRÅDE", "OMRADE")
	if err != nil {
		return nil, err
	}
	age, err := need("ALDER")
	if err != nil {
		return nil, err
	}
	period, err := need("TID")
	if err != nil {
		return nil, err
	}
	value, err := need("INDHOLD")
	if err != nil {
		return nil, err
	}
	others := map[int]string{}
	counts := map[vagt.MunicipalityCode]int{}
	quarter := ""
	for n, rec := range recs[1:] {
		line := n + 2
		if len(rec) != len(recs[0]) {
			return nil, fmt.Errorf("%w: line %d has %d fields, the header %d", ErrPopulation, line, len(rec), len(recs[0]))
		}
		for i, v := range rec {
			if i == area || i == age || i == period || i == value {
				continue
			}
			if seen, ok := others[i]; ok && seen != v {
				return nil, fmt.Errorf("%w: line %d: column %s has both %q and %q; export its total only", ErrPopulation, line, recs[0][i], seen, v)
			}
			others[i] = v
		}
		if q := strings.TrimSpace(rec[period]); quarter == "" {
			quarter = q
		} else if q != quarter {
			return nil, fmt.Errorf("%w: line %d: quarter %s after %s; export one quarter", ErrPopulation, line, q, quarter)
		}
		from, to, err := ages(rec[age])
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrPopulation, line, err)
		}
		if to < 65 {
			continue
		}
		if from < 65 {
			return nil, fmt.Errorf("%w: line %d: the age band %q spans 65; export single years", ErrPopulation, line, rec[age])
		}
		code := strings.TrimSpace(rec[area])
		if notMunicipalities[code] {
			continue
		}
		c, err := strconv.Atoi(code)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: area %q is not a code (export with valuePresentation=Code)", ErrPopulation, line, rec[area])
		}
		m := vagt.MunicipalityCode(c)
		if _, ok := vagt.LookupMunicipality(m); !ok {
			return nil, fmt.Errorf("%w: line %d: area %s is not one of the 98 municipalities", ErrPopulation, line, code)
		}
		v, err := strconv.Atoi(strings.TrimSpace(rec[value]))
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%w: line %d: count %q", ErrPopulation, line, rec[value])
		}
		counts[m] += v
	}
	var missing []string
	for _, m := range vagt.Municipalities() {
		if counts[m.Code] == 0 {
			missing = append(missing, strconv.Itoa(int(m.Code)))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("%w: no citizens aged 65+ for %d municipalities (%s)", ErrPopulation, len(missing), strings.Join(missing, ", "))
	}
	return &Population{info: PopulationInfo{Source: "Statistics Denmark, FOLK1A", Period: quarter}, counts: counts}, nil
}

// ages parses FOLK1A's ALDER: "65", "65 år", "65-69", "65-69 år"; a total is refused.
func ages(s string) (from, to int, err error) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "år"))
	t = strings.TrimSpace(strings.TrimSuffix(t, "years"))
	lo, hi, band := strings.Cut(t, "-")
	if from, err = strconv.Atoi(strings.TrimSpace(lo)); err != nil {
		return 0, 0, fmt.Errorf("age %q is not a year or a band (a total such as IALT must not be exported)", s)
	}
	to = from
	if band {
		if to, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || to < from {
			return 0, 0, fmt.Errorf("age band %q", s)
		}
	}
	return from, to, nil
}
