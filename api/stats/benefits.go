package stats

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
)

// TechnologyModel is the benefit model's assumptions for one technology.
type TechnologyModel struct {
	VisitsAvoidedPerCitizenWeek float64 `json:"visits_avoided_per_citizen_week"`
	MinutesPerVisit             float64 `json:"minutes_per_visit"`
	HourlyCostDKK               float64 `json:"hourly_cost_dkk"`
	OneOffCostDKK               float64 `json:"one_off_cost_dkk"`
	RunningCostDKKPerDeviceMon  float64 `json:"running_cost_dkk_per_device_month"`
}

// BenefitModel turns adoption into an estimated saving. It is returned with every estimate.
type BenefitModel struct {
	Name         string                              `json:"name"`
	Currency     string                              `json:"currency"`
	Illustrative bool                                `json:"illustrative"`
	Assumptions  []string                            `json:"assumptions"`
	Technologies map[vagt.Technology]TechnologyModel `json:"technologies"`
}

//go:embed data/benefit-model.json
var defaultModel []byte

// DefaultBenefitModel is the illustrative model shipped with vagt (data/benefit-model.json).
func DefaultBenefitModel() BenefitModel {
	m, err := ParseBenefitModel(defaultModel)
	if err != nil {
		panic("stats: data/benefit-model.json: " + err.Error())
	}
	return m
}

// ParseBenefitModel reads a model in the JSON form of data/benefit-model.json and checks it.
func ParseBenefitModel(b []byte) (BenefitModel, error) {
	var m BenefitModel
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("benefit model: %w", err)
	}
	return m, m.Validate()
}

// Validate refuses negative figures and a model without a name or currency.
func (m BenefitModel) Validate() error {
	if m.Name == "" || m.Currency == "" {
		return fmt.Errorf("benefit model: name and currency are required")
	}
	for t, tm := range m.Technologies {
		if tm.VisitsAvoidedPerCitizenWeek < 0 || tm.MinutesPerVisit < 0 || tm.HourlyCostDKK < 0 || tm.OneOffCostDKK < 0 || tm.RunningCostDKKPerDeviceMon < 0 {
			return fmt.Errorf("benefit model: %s: negative figure", t)
		}
	}
	return nil
}

// BenefitRow is the estimate for one municipality × technology × interval.
type BenefitRow struct {
	Municipality     vagt.MunicipalityCode `json:"municipality,omitempty"` // 0 in a total
	MunicipalityName string                `json:"municipality_name,omitempty"`
	Technology       vagt.Technology       `json:"technology"`
	Start            time.Time             `json:"interval_start"`
	End              time.Time             `json:"interval_end"`
	CitizensActive   *int                  `json:"citizens_active"`
	DevicesInstalled *int                  `json:"devices_installed"`
	NewInstallations *int                  `json:"new_installations"`
	VisitsAvoided    *float64              `json:"visits_avoided"`
	HoursSaved       *float64              `json:"hours_saved"`
	GrossDKK         *float64              `json:"gross_dkk"`
	OneOffCostDKK    *float64              `json:"one_off_cost_dkk"`
	RunningCostDKK   *float64              `json:"running_cost_dkk"`
	NetDKK           *float64              `json:"net_dkk"`
	Suppressed       bool                  `json:"suppressed"`
	// VisitsAvoidedFrom says where visits_avoided comes from: "model" (citizens active ×
	// the model's visits per week) or "night_checks" (the night checks staff made
	// remotely, as recorded: docs/night-supervision.md).
	VisitsAvoidedFrom string `json:"visits_avoided_from,omitempty"`
}

// Benefits is the answer of GET /stats/benefits: always an estimate, with its model.
type Benefits struct {
	Period          Period       `json:"period"`
	Estimate        bool         `json:"estimate"`
	Model           BenefitModel `json:"model"`
	SuppressedBelow int          `json:"suppressed_below,omitempty"`
	Disclosure      Disclosure   `json:"disclosure"`
	Rows            []BenefitRow `json:"rows"`
	// Totals over every municipality asked (benefit_totals.go): per technology and interval
	// from the adoption totals, protected as cells of their own; over technologies and over
	// the whole period, sums of those that say what they lack.
	Totals []BenefitTotal `json:"totals"`
}

// Benefits applies the model to the adoption figures of q.
func (s *Service) Benefits(ctx context.Context, q Query) (Benefits, error) {
	res := Benefits{Period: q.Period, Estimate: true, Model: s.Model, Rows: []BenefitRow{}}
	a, err := s.Adoption(ctx, q)
	if err != nil {
		return res, err
	}
	return s.benefitsFrom(ctx, q, a)
}

// benefitsFrom applies the model to the adoption figures a of q.
func (s *Service) benefitsFrom(ctx context.Context, q Query, a Adoption) (Benefits, error) {
	res := Benefits{Period: q.Period, Estimate: true, Model: s.Model, Rows: []BenefitRow{}}
	var err error
	res.SuppressedBelow, res.Disclosure = a.SuppressedBelow, a.Disclosure
	cal := newCalendar(q.Period.Interval)
	for _, r := range a.Rows {
		b := BenefitRow{Municipality: r.Municipality, MunicipalityName: r.MunicipalityName, Technology: r.Technology, Start: r.Start, End: r.End}
		if err := s.estimate(ctx, q, cal, &b, r, []vagt.MunicipalityCode{r.Municipality}); err != nil {
			return res, err
		}
		res.Rows = append(res.Rows, b)
	}
	res.Totals, err = s.benefitTotals(ctx, q, cal, a, res.Rows)
	return res, err
}

// estimate fills b from the released adoption figures r of the municipalities muns.
func (s *Service) estimate(ctx context.Context, q Query, cal *calendar, b *BenefitRow, r AdoptionRow, muns []vagt.MunicipalityCode) error {
	// An estimate needs every count it multiplies; a suppressed one suppresses the row.
	if r.CitizensActive == nil || r.NewInstallations == nil || r.DevicesInstalled == nil {
		b.Suppressed = true
		return nil
	}
	tm := s.Model.Technologies[r.Technology]
	weeks := cal.daysOf(Bucket{r.Start, r.End}) / 7
	months := cal.monthsOf(Bucket{r.Start, r.End})
	visits := float64(*r.CitizensActive) * tm.VisitsAvoidedPerCitizenWeek * weeks
	b.VisitsAvoidedFrom = "model"
	if r.Technology == vagt.TechNightSupervision && s.Night != nil {
		n, err := s.Night.NightCounts(ctx, muns, r.Start, r.End)
		if err != nil {
			return err
		}
		remote := 0
		for m, c := range n {
			if muns == nil || slices.Contains(muns, m) { // nil: all
				remote += c.Remote
			}
		}
		visits, b.VisitsAvoidedFrom = float64(q.released(remote)), "night_checks"
	}
	hours := visits * tm.MinutesPerVisit / 60
	gross := hours * tm.HourlyCostDKK
	oneOff := float64(*r.NewInstallations) * tm.OneOffCostDKK
	running := float64(*r.DevicesInstalled) * tm.RunningCostDKKPerDeviceMon * months
	b.CitizensActive, b.DevicesInstalled, b.NewInstallations = r.CitizensActive, r.DevicesInstalled, r.NewInstallations
	b.VisitsAvoided, b.HoursSaved = ptr(round(visits, 2)), ptr(round(hours, 2))
	b.GrossDKK, b.OneOffCostDKK, b.RunningCostDKK = ptr(round(gross, 2)), ptr(round(oneOff, 2)), ptr(round(running, 2))
	b.NetDKK = ptr(round(gross-oneOff-running, 2))
	return nil
}
