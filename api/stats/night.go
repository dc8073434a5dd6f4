package stats

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Night supervision in the statistics (docs/night-supervision.md): night checks made
// remotely ("checked, all well") are physical visits avoided, counted from what the
// platform records rather than from the registry's device counts.

// NightCounts are a municipality's night checks in an interval.
type NightCounts struct {
	Remote int // checked remotely, all well
	Visits int // a visit was needed
	Missed int // the window passed unchecked
}

// NightSource counts the recorded night checks due in [from, to) per municipality (none:
// all) (api/night.Counts over the SQL store).
type NightSource interface {
	NightCounts(ctx context.Context, muns []vagt.MunicipalityCode, from, to time.Time) (map[vagt.MunicipalityCode]NightCounts, error)
}

// NightRow is one municipality × interval of night supervision.
type NightRow struct {
	Municipality     vagt.MunicipalityCode `json:"municipality"`
	MunicipalityName string                `json:"municipality_name"`
	Start            time.Time             `json:"interval_start"`
	End              time.Time             `json:"interval_end"`
	ChecksRemote     *int                  `json:"checks_remote"`
	ChecksVisit      *int                  `json:"checks_visit"`
	ChecksMissed     *int                  `json:"checks_missed"`
	VisitsAvoided    *float64              `json:"visits_avoided"` // = checks_remote
	HoursSaved       *float64              `json:"hours_saved"`
	GrossDKK         *float64              `json:"gross_dkk"`
	Suppressed       bool                  `json:"suppressed"`
}

// NightStats is the answer of GET /stats/night: the checks per municipality and interval
// and what the benefit model makes of them, with the model's night_supervision row.
type NightStats struct {
	Period     Period          `json:"period"`
	Estimate   bool            `json:"estimate"`
	Model      TechnologyModel `json:"model"`
	ModelName  string          `json:"model_name"`
	Currency   string          `json:"currency"`
	Disclosure Disclosure      `json:"disclosure"`
	Rows       []NightRow      `json:"rows"`
}

// nightValue applies the model to a number of remote checks: each is a visit avoided.
func nightValue(tm TechnologyModel, remote int) (visits, hours, gross float64) {
	visits = float64(remote)
	hours = visits * tm.MinutesPerVisit / 60
	return visits, hours, hours * tm.HourlyCostDKK
}

// NightChecks counts the night checks of q per municipality and interval.
func (s *Service) NightChecks(ctx context.Context, q Query) (NightStats, error) {
	tm := s.Model.Technologies[vagt.TechNightSupervision]
	res := NightStats{Period: q.Period, Estimate: true, Model: tm, ModelName: s.Model.Name, Currency: s.Model.Currency,
		Disclosure: q.disclosure(), Rows: []NightRow{}}
	if s.Night == nil {
		return res, errNoNight
	}
	names := municipalityInfo()
	for _, b := range q.Period.Buckets() {
		counts, err := s.Night.NightCounts(ctx, q.storeMuns(), b.Start, b.End)
		if err != nil {
			return res, err
		}
		for _, m := range q.Municipalities {
			c := counts[m]
			row := NightRow{Municipality: m, MunicipalityName: names[m].Name, Start: b.Start, End: b.End}
			// Checks describe citizens: a national reader gets no count made of 1-4 checks.
			if q.Suppress && (anySmall(c.Remote) || anySmall(c.Visits) || anySmall(c.Missed)) {
				row.Suppressed = true
			} else {
				row.ChecksRemote, row.ChecksVisit, row.ChecksMissed = ptr(q.released(c.Remote)), ptr(q.released(c.Visits)), ptr(q.released(c.Missed))
				v, h, g := nightValue(tm, *row.ChecksRemote)
				row.VisitsAvoided, row.HoursSaved, row.GrossDKK = ptr(v), ptr(round(h, 2)), ptr(round(g, 2))
			}
			res.Rows = append(res.Rows, row)
		}
	}
	return res, nil
}

var errNoNight = fmt.Errorf("%w: night supervision statistics are not configured", api.ErrUnavailable)

// NightColumns are the columns of the night supervision CSV.
var NightColumns = []string{"municipality", "municipality_name", "interval_start", "interval_end",
	"checks_remote", "checks_visit", "checks_missed", "visits_avoided", "hours_saved", "gross_dkk",
	"minutes_per_visit", "hourly_cost_dkk", "suppressed", "rounding_base"}

// WriteNightCSV writes n's rows, each with the model's figures it used.
func WriteNightCSV(w io.Writer, n NightStats) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(NightColumns)
	for _, r := range n.Rows {
		_ = cw.Write([]string{strconv.Itoa(int(r.Municipality)), r.MunicipalityName, ct(r.Start), ct(r.End),
			ci(r.ChecksRemote), ci(r.ChecksVisit), ci(r.ChecksMissed), cf(r.VisitsAvoided), cf(r.HoursSaved), cf(r.GrossDKK),
			strconv.FormatFloat(n.Model.MinutesPerVisit, 'f', -1, 64), strconv.FormatFloat(n.Model.HourlyCostDKK, 'f', -1, 64),
			strconv.FormatBool(r.Suppressed), base(n.Disclosure)})
	}
	cw.Flush()
	return cw.Error()
}
