package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus series, registered on the registry passed in.
type Metrics struct {
	Messages      *prometheus.CounterVec // lane, result (written, rejected, dropped)
	Points        prometheus.Counter     // points accepted by InfluxDB
	Bytes         prometheus.Counter     // payload bytes taken in
	Rejected      *prometheus.CounterVec // reason (vagt.Reason)
	WriteDuration prometheus.Histogram   // one successful write of a batch
	WriteErrors   *prometheus.CounterVec // kind: transient (retried), permanent (dropped)
	InFlight      prometheus.Gauge       // messages taken in and not yet acknowledged
	Acks          prometheus.Counter     // messages acknowledged (MQTT PUBACK, HTTP 2xx/4xx)
	QueueFull     prometheus.Counter     // submissions that found the queue full
	// HTTPWaitExceeded counts POST /v1/telemetry answered 503 because the batch was not
	// written within --http-wait.
	HTTPWaitExceeded prometheus.Counter
	// InFlightBytes is the payload bytes taken in and not yet acknowledged (bounded by
	// --inflight-bytes), HTTPRefused the POST /v1/telemetry requests refused before their
	// batch reached the pipeline, by reason.
	InFlightBytes prometheus.Gauge
	HTTPRefused   *prometheus.CounterVec
}

// NewMetrics creates the series and registers them on reg (nil: not registered, for tests
// that do not look).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vagt_ingest_messages_total", Help: "Messages taken in, by lane and result.",
		}, []string{"lane", "result"}),
		Points: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vagt_ingest_points_written_total", Help: "Points InfluxDB accepted.",
		}),
		Bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vagt_ingest_bytes_total", Help: "Payload bytes taken in.",
		}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vagt_ingest_rejected_total", Help: "Messages rejected, by reason.",
		}, []string{"reason"}),
		WriteDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vagt_ingest_write_duration_seconds", Help: "Duration of a successful batch write to InfluxDB.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		WriteErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vagt_ingest_write_errors_total", Help: "Failed batch writes: transient (retried) or permanent (dropped).",
		}, []string{"kind"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vagt_ingest_inflight_messages", Help: "Messages taken in and not yet acknowledged.",
		}),
		Acks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vagt_ingest_acks_total", Help: "Messages acknowledged after their points were written (or they were rejected).",
		}),
		QueueFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vagt_ingest_queue_full_total", Help: "Submissions that found the intake queue full.",
		}),
		HTTPWaitExceeded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vagt_ingest_http_wait_exceeded_total", Help: "HTTP telemetry requests answered 503 because their batch was not written within --http-wait.",
		}),
		InFlightBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vagt_ingest_inflight_bytes", Help: "Payload bytes taken in and not yet acknowledged.",
		}),
		HTTPRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vagt_ingest_http_refused_total", Help: "POST /v1/telemetry requests refused before their batch reached the pipeline, by reason.",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Messages, m.Points, m.Bytes, m.Rejected, m.WriteDuration, m.WriteErrors, m.InFlight, m.Acks, m.QueueFull, m.HTTPWaitExceeded,
			m.InFlightBytes, m.HTTPRefused)
	}
	return m
}
