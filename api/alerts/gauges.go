package alerts

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// Gauges is what the alert store says, at one moment, about alerts waiting for a person:
// counts only, no personal data (docs/operations.md, "Alert-level metrics").
type Gauges struct {
	// Unresolved counts alerts that are not resolved, by priority and state ("open" or
	// "acknowledged").
	Unresolved map[vagt.Priority]map[State]int
	// OldestUnacked is when the oldest open (unacknowledged) alert of each priority was
	// raised; a priority with none is absent.
	OldestUnacked map[vagt.Priority]time.Time
	// ByTier counts unresolved alerts by the tier they are with.
	ByTier map[Tier]int
	// Escalations counts every escalation step the store has recorded, by tier.
	Escalations map[Tier]int
	// OpenByDistrict counts open (unacknowledged) alerts by the district they belong to;
	// alerts from unregistered gateways count under district 0.
	OpenByDistrict map[DistrictKey]int
	// Gateways counts the registered gateways in use by municipality and GatewayState.
	Gateways map[vagt.MunicipalityCode]map[GatewayState]int
}

// DistrictKey names a district for the metrics.
type DistrictKey struct {
	Municipality vagt.MunicipalityCode
	District     int64
}

// GatewayState is what the platform knows of a registered gateway's link.
type GatewayState string

// The gateway states the metrics count.
const (
	GatewayOnline         GatewayState = "online"          // its last status said online
	GatewayOffline        GatewayState = "offline"         // its will or last status said offline
	GatewayNeverConnected GatewayState = "never_connected" // registered, never heard from
)

var gatewayStates = []GatewayState{GatewayOnline, GatewayOffline, GatewayNeverConnected}

// GaugeReader reads the gauges from the store.
type GaugeReader interface {
	AlertGauges(ctx context.Context) (Gauges, error)
}

// GaugeCollector exports Gauges on each scrape. It reads the store then, within a time
// limit, so a scrape shows the store's state now; when the store does not answer it says so
// in vagt_api_alert_gauges_up and exports nothing else, rather than stale figures.
type GaugeCollector struct {
	r       GaugeReader
	clock   api.Clock
	policy  Policy
	timeout time.Duration
	log     *slog.Logger

	up, unresolved, oldest, byTier, escalations, escalateAfter, byDistrict, gateways *prometheus.Desc
}

// GaugeOptions are a collector's clock (nil: the system clock), the policy whose escalation
// times it exports beside the ages (so an alerting rule compares the two without repeating
// the configuration), and its logger (nil discards).
type GaugeOptions struct {
	Clock  api.Clock
	Policy Policy
	Logger *slog.Logger
}

// NewGaugeCollector returns a collector over r.
func NewGaugeCollector(r GaugeReader, o GaugeOptions) *GaugeCollector {
	clock, policy, log := o.Clock, o.Policy, o.Logger
	if clock == nil {
		clock = api.SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &GaugeCollector{r: r, clock: clock, policy: policy, timeout: 5 * time.Second, log: log,
		up: prometheus.NewDesc("vagt_api_alert_gauges_up",
			"1 when the alert store answered this scrape's query, 0 when it did not.", nil, nil),
		unresolved: prometheus.NewDesc("vagt_api_alerts_unresolved",
			"Alerts not yet resolved, by priority and state (open: nobody has acknowledged it).", []string{"priority", "state"}, nil),
		oldest: prometheus.NewDesc("vagt_api_alert_unacked_oldest_age_seconds",
			"Age of the oldest open (unacknowledged) alert, by priority; absent when there is none.", []string{"priority"}, nil),
		byTier: prometheus.NewDesc("vagt_api_alerts_unresolved_by_tier",
			"Unresolved alerts by the tier they are with (district, backup, central).", []string{"tier"}, nil),
		escalations: prometheus.NewDesc("vagt_api_alert_escalations_total",
			"Escalation steps recorded in the store, by the tier an alert was escalated to.", []string{"tier"}, nil),
		byDistrict: prometheus.NewDesc("vagt_api_alerts_open_by_district",
			"Open (unacknowledged) alerts by municipality and district id (0: not registered to a district).", []string{"municipality", "district"}, nil),
		gateways: prometheus.NewDesc("vagt_api_gateways",
			"Registered gateways in use by municipality and state (online, offline, never_connected).", []string{"municipality", "state"}, nil),
		escalateAfter: prometheus.NewDesc("vagt_api_alert_escalate_after_seconds",
			"How long an open alert of this priority waits before it escalates (configuration).", []string{"priority"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *GaugeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.unresolved, c.oldest, c.byTier, c.escalations, c.escalateAfter, c.byDistrict, c.gateways} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *GaugeCollector) Collect(ch chan<- prometheus.Metric) {
	for p := vagt.PriorityCritical; p <= vagt.PriorityTechnical; p++ {
		if d := c.policy.Escalate[p]; d > 0 {
			ch <- prometheus.MustNewConstMetric(c.escalateAfter, prometheus.GaugeValue, d.Seconds(), p.String())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	g, err := c.r.AlertGauges(ctx)
	if err != nil {
		c.log.Warn("alert gauges: the store did not answer", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	now := c.clock.Now()
	// Every priority, state and tier is exported, zeros included, so a rule sees 0 rather
	// than an absent series when the last alert resolves.
	for p := vagt.PriorityCritical; p <= vagt.PriorityTechnical; p++ {
		for _, st := range []State{StateOpen, StateAcknowledged} {
			ch <- prometheus.MustNewConstMetric(c.unresolved, prometheus.GaugeValue, float64(g.Unresolved[p][st]), p.String(), string(st))
		}
		if t, ok := g.OldestUnacked[p]; ok {
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, max(now.Sub(t).Seconds(), 0), p.String())
		}
	}
	for _, t := range tiers {
		ch <- prometheus.MustNewConstMetric(c.byTier, prometheus.GaugeValue, float64(g.ByTier[t]), string(t))
		if t != TierDistrict {
			ch <- prometheus.MustNewConstMetric(c.escalations, prometheus.CounterValue, float64(g.Escalations[t]), string(t))
		}
	}
	for k, n := range g.OpenByDistrict {
		ch <- prometheus.MustNewConstMetric(c.byDistrict, prometheus.GaugeValue, float64(n),
			strconv.Itoa(int(k.Municipality)), strconv.FormatInt(k.District, 10))
	}
	for mun, states := range g.Gateways {
		for _, st := range gatewayStates {
			ch <- prometheus.MustNewConstMetric(c.gateways, prometheus.GaugeValue, float64(states[st]), strconv.Itoa(int(mun)), string(st))
		}
	}
}
