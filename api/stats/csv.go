package stats

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
)

// The CSV forms. Column names are part of the API (documented in api/openapi.yaml): add
// columns at the end, never rename or reorder. A suppressed or missing figure is empty.

// AdoptionColumns are the columns of the adoption CSV.
var AdoptionColumns = []string{"municipality", "municipality_name", "region", "technology", "interval_start", "interval_end",
	"citizens", "citizens_active", "devices_installed", "devices_active", "new_installations", "removals", "churn_90d",
	"citizens_per_1000_65plus", "suppressed", "rounding_base"}

// AlertColumns are the columns of the alert statistics CSV, before alarms_<type> (and
// rounding_base, the last).
var AlertColumns = []string{"municipality", "municipality_name", "interval_start", "interval_end", "citizens", "alarms",
	"alarms_per_citizen_month", "acked_within_60s_share", "acked_within_180s_share", "ack_p50_s", "ack_p90_s",
	"resolve_p50_s", "resolve_p90_s", "resolved", "false_alarm_share", "without_visit_share", "escalations",
	"escalated_alerts", "suppressed"}

// BenefitColumns are the columns of the benefits CSV.
var BenefitColumns = []string{"municipality", "municipality_name", "technology", "interval_start", "interval_end",
	"citizens_active", "devices_installed", "new_installations", "visits_avoided", "hours_saved", "gross_dkk",
	"one_off_cost_dkk", "running_cost_dkk", "net_dkk", "suppressed", "rounding_base", "visits_avoided_from"}

func ci(v *int) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(*v)
}

func cf(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

// ct writes a time with its Danish offset (2026-03-01T00:00:00+01:00): the intervals are
// Danish calendar intervals.
// base is the rounding_base column: the base counts were rounded to, 1 for exact.
func base(d Disclosure) string { return strconv.Itoa(max(d.RoundingBase, 1)) }

func ct(t time.Time) string { return t.In(vagt.Copenhagen).Format(time.RFC3339) }

// WriteAdoptionCSV writes a's rows (not the funnel).
func WriteAdoptionCSV(w io.Writer, a Adoption) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(AdoptionColumns)
	for _, r := range a.Rows {
		_ = cw.Write([]string{strconv.Itoa(int(r.Municipality)), r.MunicipalityName, strconv.Itoa(int(r.Region)), r.Technology.String(),
			ct(r.Start), ct(r.End), ci(r.Citizens), ci(r.CitizensActive), ci(r.DevicesInstalled), ci(r.DevicesActive),
			ci(r.NewInstallations), ci(r.Removals), ci(r.Churn), cf(r.Per1000), strconv.FormatBool(r.Suppressed), base(a.Disclosure)})
	}
	cw.Flush()
	return cw.Error()
}

// alarmTypes are the alarm types in code order, for the alarms_<type> columns.
func alarmTypes() []vagt.AlarmType {
	var out []vagt.AlarmType
	for t := vagt.AlarmType(1); t < 64; t++ {
		if t.Validate() == nil {
			out = append(out, t)
		}
	}
	return out
}

// AlertCSVColumns are AlertColumns, then alarms_<type> for every alarm type, then
// AlertArrivalColumns, then rounding_base (the last, as in every CSV).
func AlertCSVColumns() []string {
	cols := append([]string{}, AlertColumns...)
	for _, t := range alarmTypes() {
		cols = append(cols, "alarms_"+t.String())
	}
	cols = append(cols, AlertArrivalColumns...)
	return append(cols, "rounding_base")
}

// AlertArrivalColumns were added with presence (issue 21): after the alarm types, so the
// earlier columns keep their places.
var AlertArrivalColumns = []string{"arrived_within_30m_share", "arrival_p50_s"}

// ResponseColumns are the columns of the alert statistics by district and priority
// (GET /stats/alerts?by=district as CSV).
var ResponseColumns = []string{"municipality", "municipality_name", "interval_start", "interval_end", "district", "district_name",
	"priority", "citizens", "alarms", "acked_within_60s_share", "acked_within_180s_share", "needing_visit",
	"arrived_within_30m_share", "arrival_p50_s", "suppressed", "rounding_base"}

// WriteResponseCSV writes a's rows by district and priority (a suppressed municipality
// has none).
func WriteResponseCSV(w io.Writer, a AlertStats) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(ResponseColumns)
	for _, m := range a.Rows {
		for _, r := range m.Response {
			_ = cw.Write([]string{strconv.Itoa(int(m.Municipality)), m.MunicipalityName, ct(m.Start), ct(m.End),
				strconv.FormatInt(r.District, 10), r.DistrictName, r.Priority.String(), ci(r.Citizens), ci(r.Alarms),
				cf(r.AckedWithin60s), cf(r.AckedWithin180s), ci(r.NeedingVisit), cf(r.ArrivedWithin30m), cf(r.ArrivalP50),
				strconv.FormatBool(r.Suppressed), base(a.Disclosure)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteAlertsCSV writes a's rows.
func WriteAlertsCSV(w io.Writer, a AlertStats) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(AlertCSVColumns())
	for _, r := range a.Rows {
		rec := []string{strconv.Itoa(int(r.Municipality)), r.MunicipalityName, ct(r.Start), ct(r.End), ci(r.Citizens), ci(r.Alarms),
			cf(r.AlarmsPerCitizenMonth), cf(r.AckedWithin60s), cf(r.AckedWithin180s), cf(r.AckP50), cf(r.AckP90),
			cf(r.ResolveP50), cf(r.ResolveP90), ci(r.Resolved), cf(r.FalseAlarmShare), cf(r.WithoutVisitShare),
			ci(r.Escalations), ci(r.EscalatedAlerts), strconv.FormatBool(r.Suppressed)}
		for _, t := range alarmTypes() {
			if r.Suppressed {
				rec = append(rec, "")
			} else {
				rec = append(rec, strconv.Itoa(r.ByType[t].Alarms))
			}
		}
		rec = append(rec, cf(r.ArrivedWithin30m), cf(r.ArrivalP50), base(a.Disclosure))
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// WriteBenefitsCSV writes b's rows.
func WriteBenefitsCSV(w io.Writer, b Benefits) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(BenefitColumns)
	for _, r := range b.Rows {
		_ = cw.Write([]string{strconv.Itoa(int(r.Municipality)), r.MunicipalityName, r.Technology.String(), ct(r.Start), ct(r.End),
			ci(r.CitizensActive), ci(r.DevicesInstalled), ci(r.NewInstallations), cf(r.VisitsAvoided), cf(r.HoursSaved),
			cf(r.GrossDKK), cf(r.OneOffCostDKK), cf(r.RunningCostDKK), cf(r.NetDKK), strconv.FormatBool(r.Suppressed), base(b.Disclosure),
			r.VisitsAvoidedFrom})
	}
	cw.Flush()
	return cw.Error()
}

// CompareColumns are the columns of the comparison CSV: the JSON rows' fields, in order.
var CompareColumns = []string{"entity", "municipality", "municipality_name", "region", "technology", "municipalities",
	"citizens", "citizens_per_1000_65plus", "devices_installed", "devices_active", "new_installations",
	"days_registration_to_installation_p50", "churn_90d", "churn_90d_share", "acked_within_60s_share", "acked_within_180s_share",
	"arrived_within_30min_share", "net_benefit_per_citizen_dkk", "rank", "rank_of", "suppressed", "rounding_base", "incomplete"}

// WriteCompareCSV writes c's rows in the shape of the JSON rows.
func WriteCompareCSV(w io.Writer, c Comparison) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(CompareColumns)
	for _, r := range c.Rows {
		mun, region := "", ""
		if r.Municipality != 0 {
			mun, region = strconv.Itoa(int(r.Municipality)), strconv.Itoa(int(r.Region))
		}
		_ = cw.Write([]string{r.Entity, mun, r.MunicipalityName, region, r.Technology, strconv.Itoa(r.Municipalities),
			ci(r.Citizens), cf(r.Per1000), ci(r.DevicesInstalled), ci(r.DevicesActive), ci(r.NewInstallations),
			cf(r.DaysToInstallP50), ci(r.Churn), cf(r.ChurnShare), cf(r.AckedWithin60s), cf(r.AckedWithin180s),
			cf(r.ArrivedWithin30m), cf(r.NetPerCitizenDKK), ci(r.Rank), strconv.Itoa(r.RankOf), strconv.FormatBool(r.Suppressed),
			strconv.Itoa(r.RoundingBase), strings.Join(r.IncompleteFigures, " ")})
	}
	cw.Flush()
	return cw.Error()
}
