package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/gateway/serial"
	"github.com/vagt-dk/vagt/gateway/uplink"
	"github.com/vagt-dk/vagt/gateway/zigbee"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// recorder keeps the log records a test wants to count.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) count(level slog.Level, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.records {
		if rec.Level == level && rec.Message == msg {
			n++
		}
	}
	return n
}

// TestZigbeeAtEpochAndRefusalsOnMetrics, against a real Mosquitto (issue 15, defects 1 and
// 4): on a gateway whose clock reads 1970, a Zigbee SOS reaches the platform's alarm lane
// marked clock unsynced, with a time the wire carries; a burst of refused payloads is
// logged at warn once, not at debug and not every time; and /metrics shows the Zigbee
// refusals and the telemetry refused for its time, by reason.
func TestZigbeeAtEpochAndRefusalsOnMetrics(t *testing.T) {
	broker := stacktest.Mosquitto(t)
	cfg := testConfig(t, broker.URL())
	cfg.Home.Devices = []DeviceFile{{Device: "0x0c", Technology: vagt.TechPersonalAlarm, Zigbee: "sos_button"}}
	client := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("z2m-and-platform"))
	if tok := client.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer client.Disconnect(100)
	alarms := make(chan vagt.Alarm, 10)
	client.Subscribe(vagt.Topic(cfg.Gateway, vagt.LaneAlarm), 1, func(_ mqtt.Client, m mqtt.Message) {
		if a, err := vagt.DecodeAlarm(m.Payload()); err == nil {
			alarms <- a
		}
	}).Wait()

	rec := &recorder{}
	g, err := New(cfg, Deps{Logger: slog.New(rec), Clock: &testClock{t: epoch.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the Zigbee subscription", func() bool {
		client.Publish("zigbee2mqtt/sos_button/availability", 1, false, "online").Wait()
		s, _ := g.Snapshot().Zigbee.(zigbee.Stats)
		return s.Messages > 0
	})

	for range 5 {
		client.Publish("zigbee2mqtt/sos_button", 1, false, `not json`).Wait()
	}
	client.Publish("zigbee2mqtt/sos_button", 1, false, `{"sos":true,"battery":80}`).Wait()
	select {
	case a := <-alarms:
		if a.Type != vagt.AlarmPanic || a.Device != "0x0c" || a.Details[DetailClock] != DetailClockUnsynced || a.Time.Before(saneFloor) {
			t.Fatalf("alarm %+v: want a panic of 0x0c marked clock unsynced, not before %s", a, saneFloor)
		}
	case <-time.After(time.Minute):
		t.Fatal("no alarm on the platform's alarm lane within a minute")
	}
	if n := rec.count(slog.LevelWarn, "zigbee: payload refused"); n != 1 {
		t.Errorf("a burst of 5 refused payloads logged %d times at warn, want once", n)
	}
	if n := rec.count(slog.LevelInfo, "zigbee: device sends usable payloads again"); n != 1 {
		t.Errorf("the end of the burst logged %d times, want once", n)
	}

	resp, err := http.Get("http://" + g.StatusAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`vagt_gateway_zigbee_refused_total{reason="rejected"} 5`,
		`vagt_gateway_zigbee_refused_total{reason="bad_field"} 0`,
		`vagt_gateway_refused_readings_total{reason="bad_time"} 2`, // the SOS press and the battery: telemetry refused, the alarm raised
		"vagt_gateway_clock_trusted 0",
		"vagt_gateway_unsynced_alarms_total 1",
		"# TYPE vagt_gateway_zigbee_refused_total counter",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

// TestSerialOnMetrics: the serial line's counters, which were only on /status, are on
// /metrics, the rejections by reason (every reason shown, at 0 until it happens).
func TestSerialOnMetrics(t *testing.T) {
	var b strings.Builder
	writeMetrics(&b, Snapshot{Serial: serial.Stats{Frames: 12, Rejected: map[string]uint64{"bad_crc": 3}, NoiseBytes: 40, Reopens: 2, Duplicates: 1, Acks: 4},
		Counters: counters{AlarmFrames: 4, AlarmFramesNotAcked: 1}})
	for _, want := range []string{
		"vagt_gateway_serial_frames_total 12",
		`vagt_gateway_serial_rejected_total{reason="bad_crc"} 3`,
		`vagt_gateway_serial_rejected_total{reason="torn"} 0`,
		"vagt_gateway_serial_noise_bytes_total 40",
		"vagt_gateway_serial_reopens_total 2",
		"vagt_gateway_serial_duplicates_total 1",
		"vagt_gateway_serial_acks_total 4",
		"vagt_gateway_alarm_frames_not_acked_total 1",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b.String())
		}
	}
}

// TestUplinkSubscriptionsOnMetrics: lanes the broker refused show on /metrics.
func TestUplinkSubscriptionsOnMetrics(t *testing.T) {
	var b strings.Builder
	writeMetrics(&b, Snapshot{UplinkUp: true, UplinkSubscribe: uplink.SubscribeState{Refused: []string{"vagt/v1/gw/gw-1/config"}, Failures: 7}})
	for _, want := range []string{"vagt_gateway_uplink_subscribed 0", "vagt_gateway_uplink_subscribe_failures_total 7"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b.String())
		}
	}
}

// TestHelpOnMetrics: the downlink counters, which were only on /status, are on /metrics,
// the refusals by reason (every reason shown, at 0 until it happens).
func TestHelpOnMetrics(t *testing.T) {
	var b strings.Builder
	writeMetrics(&b, Snapshot{Help: HelpStats{Applied: 3, Repeats: 2, Unknown: 1, Rejected: 2, LinkDown: true,
		Refused: map[string]uint64{"malformed": 1, "gateway_mismatch": 1}}})
	for _, want := range []string{
		"vagt_gateway_downlink_applied_total 3",
		"vagt_gateway_downlink_repeats_total 2",
		"vagt_gateway_downlink_unknown_total 1",
		`vagt_gateway_downlink_refused_total{reason="malformed"} 1`,
		`vagt_gateway_downlink_refused_total{reason="gateway_mismatch"} 1`,
		`vagt_gateway_downlink_refused_total{reason="unknown_version"} 0`,
		"# TYPE vagt_gateway_downlink_refused_total counter",
		"vagt_gateway_help_link_down_told 1",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b.String())
		}
	}
}
