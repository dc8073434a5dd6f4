package chaos

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vagt-dk/vagt"
)

// report is the chaos run's table: per fault the alarms raised during it and how long
// they took to reach the stream; per home what was produced, heard, dropped and stored.
type report struct {
	injected int
	phases   []phaseRecord
	homes    []homeRecord
	notes    []string
	end      time.Time
}

type phaseRecord struct {
	name      string
	start     time.Time
	latencies []time.Duration

	lostReadings, lostAlarms int
	folded                   int // repeats of an alarm folded into its alert
}

type homeRecord struct {
	id                   vagt.GatewayID
	produced, dropped    uint64
	stored               uint64
	alarms, storedAlarms int
}

// phaseAt is the phase during which t fell.
func (r *report) phaseAt(t time.Time) int {
	i := 0
	for j, ph := range r.phases {
		if !t.Before(ph.start) {
			i = j
		}
	}
	return i
}

// inflight is how long before a fault a reading may have been sent and still be on its
// way (in the broker's queue for ingest, in ingest's batch) when the fault struck.
const inflight = time.Second

// lossPhase is the phase a lost reading sent at t is charged to: the one it was sent in,
// or the next when that began within inflight after t.
func (r *report) lossPhase(t time.Time) int {
	i := r.phaseAt(t)
	if i+1 < len(r.phases) && r.phases[i+1].start.Sub(t) < inflight {
		return i + 1
	}
	return i
}

func (r *report) latency(phase int, d time.Duration) {
	r.phases[phase].latencies = append(r.phases[phase].latencies, d)
}

// percentile is the nearest-rank percentile of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(float64(len(ds))*p+0.999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func (r *report) table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "fault\tlasted\treadings lost\talarms\talarms lost\trepeats folded\tp50\tp99\tmax\t\n")
	for i, ph := range r.phases {
		end := r.end
		if i+1 < len(r.phases) {
			end = r.phases[i+1].start
		}
		ds := slices.Clone(ph.latencies)
		slices.Sort(ds)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", ph.name, end.Sub(ph.start).Round(100*time.Millisecond),
			ph.lostReadings, len(ds)+ph.lostAlarms, ph.lostAlarms, ph.folded,
			ms(percentile(ds, .5)), ms(percentile(ds, .99)), ms(percentile(ds, 1)))
	}
	tw.Flush()
	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "gateway\treadings sent\tdropped (spool full)\tstored\tlost\talarms\talarms stored\talarms lost\t\n")
	var tot homeRecord
	for _, h := range r.homes {
		lost := int64(h.produced) - int64(h.dropped) - int64(h.stored)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", h.id, h.produced, h.dropped, h.stored, lost,
			h.alarms, h.storedAlarms, h.alarms-h.storedAlarms)
		tot.produced += h.produced
		tot.dropped += h.dropped
		tot.stored += h.stored
		tot.alarms += h.alarms
		tot.storedAlarms += h.storedAlarms
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", tot.produced, tot.dropped, tot.stored,
		int64(tot.produced)-int64(tot.dropped)-int64(tot.stored), tot.alarms, tot.storedAlarms, tot.alarms-tot.storedAlarms)
	tw.Flush()
	fmt.Fprintf(&b, "faults injected: %d; readings are the units' temperature readings, \"stored\" the points InfluxDB holds of them\n", r.injected)
	for _, n := range r.notes {
		b.WriteString(n + "\n")
	}
	return b.String()
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
