package ingest_test

import (
	"context"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/ingest"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestOversizeMQTTRefusedEarly (issue 15 defect 5, MQTT side) against a real Mosquitto
// that lets large packets through and a real InfluxDB: twenty concurrent 2 MB publishes on
// the telemetry lane are each refused as too_large at once — counted, acknowledged (ingest
// holds none of them), logged once — and a real batch after them is written.
func TestOversizeMQTTRefusedEarly(t *testing.T) {
	broker := stacktest.Mosquitto(t) // Mosquitto's default max_packet_size: no limit below MQTT's
	target := stacktest.SharedInfluxDB(t)
	reg := prometheus.NewRegistry()
	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	cfg := baseConfig(broker.URL(), target, "ingest-oversize")
	go func() {
		done <- ingest.Run(ctx, cfg, ingest.Deps{Logger: logger, Registry: reg, Listener: ln, Started: func(string) { close(started) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest.Run: %v", err)
		}
	})
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("ingest did not start: %v", err)
	}

	var peak uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // a figure for the report, not asserted
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stopSampling:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	topic := vagt.Topic("gw-big", vagt.LaneTelemetry)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("big-" + string(rune('a'+i))))
			if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
				t.Errorf("connect: %v", tok.Error())
				return
			}
			defer c.Disconnect(100)
			payload := make([]byte, 2<<20)
			payload[0] = byte(i)
			if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(patience) || tok.Error() != nil {
				t.Errorf("publish: %v", tok.Error())
			}
		})
	}
	wg.Wait()
	good := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("gw-good"))
	if tok := good.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer good.Disconnect(100)
	b := &vagt.Batch{Gateway: "gw-good", Seq: 1, Municipality: 766}
	for i := range 5 {
		b.Readings = append(b.Readings, vagt.Reading{Device: "d-1", Kind: vagt.KindTemperature, Time: time.Now().Add(time.Duration(i) * time.Millisecond).Truncate(time.Millisecond), Value: 21})
	}
	data, err := vagt.EncodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	good.Publish(vagt.Topic("gw-good", vagt.LaneTelemetry), 1, false, data).Wait()

	metric := func(name string, labels map[string]string) float64 {
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != name {
				continue
			}
		next:
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
						continue next
					}
				}
				return value(m)
			}
		}
		return 0
	}
	deadline := time.Now().Add(patience)
	for metric("vagt_ingest_rejected_total", map[string]string{"reason": "too_large"}) < 20 || metric("vagt_ingest_points_written_total", nil) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("too_large %v, points %v", metric("vagt_ingest_rejected_total", map[string]string{"reason": "too_large"}),
				metric("vagt_ingest_points_written_total", nil))
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stopSampling)
	<-sampled
	if got := metric("vagt_ingest_rejected_total", map[string]string{"reason": "too_large"}); got != 20 {
		t.Errorf("too_large counted %v times, want 20", got)
	}
	if got := metric("vagt_ingest_acks_total", nil); got != 21 {
		t.Errorf("%v acknowledgements, want 21 (20 refused, 1 written)", got)
	}
	if got := metric("vagt_ingest_bytes_total", nil); got > 1<<20 {
		t.Errorf("the pipeline took in %v payload bytes: the oversize messages were queued, not refused at the door", got)
	}
	if got := metric("vagt_ingest_inflight_bytes", nil); got != 0 {
		t.Errorf("%v bytes held after everything was acknowledged", got)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if n := strings.Count(out, "reason=too_large"); n != 1 {
		t.Errorf("too_large logged %d times, want once per burst:\n%s", n, out)
	}
	t.Logf("peak heap in use while 20 × 2 MB were refused (test process: publishers, broker client and ingest): %.1f MiB", float64(peak)/(1<<20))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}
