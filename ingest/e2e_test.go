package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/ingest"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/influx2"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestEveryReadingStored: the load generator's gateways publish through Mosquitto, and
// InfluxDB ends up holding exactly what the broker acknowledged, per gateway, alarms too.
func TestEveryReadingStored(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	target := stacktest.SharedInfluxDB(t)
	addr := runIngest(t, baseConfig(broker.URL(), target, "ingest-e2e"))

	r := runLoad(t, load.Config{Broker: broker.URL(), Homes: 40, Sensors: 9, Samples: 5, Batches: 10, AlarmEvery: 3, Conns: 2})
	newCounter(t, target).waitStored(t, r)

	// InfluxDB holds the last batch a moment before its write returns to ingest and the
	// batch is acknowledged: wait for the counts (waitMetric fails if they never come).
	waitMetric(t, addr, `vagt_ingest_messages_total{lane="telemetry",result="written"}`, func(v float64) bool { return v >= float64(r.Batches) })
	waitMetric(t, addr, "vagt_ingest_acks_total", func(v float64) bool { return v >= float64(r.Batches+r.Alarms) })
}

// publish sends payload on topic with QoS 1 and waits for the broker's PUBACK.
func publish(t *testing.T, client mqtt.Client, topic string, payload []byte) {
	t.Helper()
	tok := client.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func connect(t *testing.T, url, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id))
	if tok := c.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// TestBadMessagesRejected: malformed, oversized, wrong-version and spoofed messages are
// acknowledged and counted by reason, none of their points is written, a dead-letter copy
// goes out, and the consumer carries on with the good message after them.
func TestBadMessagesRejected(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	target := stacktest.SharedInfluxDB(t)
	cfg := baseConfig(broker.URL(), target, "ingest-bad")
	cfg.DeadLetter = "vagt/deadletter"
	addr := runIngest(t, cfg)

	client := connect(t, broker.URL(), "bad-publisher")
	dead := make(chan string, 16)
	if tok := client.Subscribe("vagt/deadletter/#", 1, func(_ mqtt.Client, m mqtt.Message) { dead <- m.Topic() }); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	at := time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)
	good := &vagt.Batch{Gateway: "gw-good", Seq: 1, Municipality: 766, Readings: []vagt.Reading{
		{Device: "dev-1", Kind: vagt.KindTemperature, Time: at, Value: 21.5},
		{Device: "dev-1", Kind: vagt.KindHumidity, Time: at, Value: 40},
	}}
	spoofed := &vagt.Batch{Gateway: "gw-victim", Seq: 1, Municipality: 766, Readings: good.Readings}
	goodBytes, err := vagt.EncodeBatch(good)
	if err != nil {
		t.Fatal(err)
	}
	spoofedBytes, err := vagt.EncodeBatch(spoofed)
	if err != nil {
		t.Fatal(err)
	}
	wrongVersion := bytes.Clone(goodBytes)
	if wrongVersion[1] != 0x00 || wrongVersion[2] != 0x01 { // {0: 1, ...}: map header, key 0, value 1
		t.Fatalf("unexpected encoding % x", wrongVersion[:4])
	}
	wrongVersion[2] = 0x02
	cases := []struct {
		topic, reason string
		payload       []byte
	}{
		{vagt.Topic("gw-bad", vagt.LaneTelemetry), "malformed", []byte{0xa1, 0x00}},
		{vagt.Topic("gw-bad", vagt.LaneTelemetry), "too_large", make([]byte, vagt.MaxBatchBytes+1)},
		{vagt.Topic("gw-good", vagt.LaneTelemetry), "unknown_version", wrongVersion},
		{vagt.Topic("gw-good", vagt.LaneTelemetry), "gateway_mismatch", spoofedBytes},
		{vagt.Topic("gw-good", vagt.LaneAlarm), "malformed", goodBytes}, // a batch on the alarm lane
	}
	for _, c := range cases {
		publish(t, client, c.topic, c.payload)
	}
	publish(t, client, vagt.Topic("gw-good", vagt.LaneTelemetry), goodBytes)

	newCounter(t, target).waitStored(t, load.Report{Readings: 2, PerGateway: map[string]load.GatewayCount{"gw-good": {Readings: 2}}})
	waitMetric(t, addr, "vagt_ingest_acks_total", func(v float64) bool { return v == float64(len(cases)+1) })
	want := map[string]float64{}
	for _, c := range cases {
		want[c.reason]++
	}
	for reason, n := range want {
		if got := metric(t, addr, `vagt_ingest_rejected_total{reason="`+reason+`"}`); got != n {
			t.Errorf("rejected %s: %v, want %v", reason, got, n)
		}
	}
	for range cases {
		select {
		case topic := <-dead:
			t.Logf("dead letter: %s", topic)
		case <-time.After(patience):
			t.Fatal("a rejected message did not reach the dead-letter topic")
		}
	}
	// The victim's series must not exist: nothing of a spoofed message is written.
	stored, err := newCounter(t, target).perGateway(context.Background(), "reading", "value")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 {
		t.Errorf("stored gateways %v, want only gw-good", stored)
	}
}

// TestHTTPTelemetryStored: a gateway without MQTT posts a batch; 204 comes only once the
// points are in InfluxDB, and a spoofed batch is refused with its reason, writing nothing.
func TestHTTPTelemetryStored(t *testing.T) {
	target := stacktest.SharedInfluxDB(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("gw-http "+ingest.HashToken("s3cret")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig("", target, "")
	cfg.TokenFile = tokens
	addr := runIngest(t, cfg)

	at := time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)
	post := func(gw vagt.GatewayID) *http.Response {
		t.Helper()
		b := &vagt.Batch{Gateway: gw, Seq: 1, Municipality: 766, Readings: []vagt.Reading{
			{Device: "dev-1", Kind: vagt.KindTemperature, Time: at, Value: 21.5},
			{Device: "dev-1", Kind: vagt.KindBedOccupied, Time: at, Value: 1},
			{Device: "dev-2", Kind: vagt.KindDoorOpen, Time: at, Value: 0},
		}}
		body, err := vagt.EncodeBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/telemetry", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("gw-http", "s3cret")
		req.Header.Set("Content-Type", "application/cbor")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := post("gw-http"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("post: %s %s", resp.Status, readAll(t, resp.Body))
	}
	// No waiting: 204 means written.
	stored, err := newCounter(t, target).perGateway(context.Background(), "reading", "value")
	if err != nil {
		t.Fatal(err)
	}
	if stored["gw-http"] != 3 || len(stored) != 1 {
		t.Errorf("after 204: stored %v, want 3 readings of gw-http", stored)
	}
	resp := post("gw-victim")
	if body := readAll(t, resp.Body); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "gateway_mismatch") {
		t.Errorf("spoofed: %s %s, want 400 gateway_mismatch", resp.Status, body)
	}
}

// TestIngest2x: ingest configured for InfluxDB 2.x (org, bucket, token; here the influx2
// stand-in of 2.7's API, as no 2.x server can be had) creates the bucket with the
// retention in the org, reports ready, and a posted batch is stored in that bucket at the
// readings' millisecond timestamps before the 204.
func TestIngest2x(t *testing.T) {
	s := influx2.Start(t, influx2.Options{Org: "aarhus"})
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("gw-2x "+ingest.HashToken("s3cret")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := ingest.Config{
		InfluxURL: s.URL, InfluxOrg: "aarhus", InfluxBucket: "telemetry", InfluxToken: s.Token, InfluxRaw: true,
		Setup: true, Retention: 720 * time.Hour, TokenFile: tokens, Linger: 20 * time.Millisecond,
	}
	addr := runIngest(t, cfg)
	if b := s.Buckets(); len(b) != 1 || b[0].Name != "telemetry" || b[0].Retention != 720*time.Hour {
		t.Fatalf("buckets after start: %+v, want telemetry keeping 720h", b)
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("readyz: %s", resp.Status)
	}
	at := time.Date(2026, 11, 23, 3, 12, 0, 345_000_000, time.UTC)
	body, err := vagt.EncodeBatch(&vagt.Batch{Gateway: "gw-2x", Seq: 1, Municipality: 751, Readings: []vagt.Reading{
		{Device: "dev-1", Kind: vagt.KindTemperature, Time: at, Value: 21.5},
		{Device: "dev-1", Kind: vagt.KindBedOccupied, Time: at.Add(time.Second), Value: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/telemetry", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("gw-2x", "s3cret")
	req.Header.Set("Content-Type", "application/cbor")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("post: %s %s", resp.Status, readAll(t, resp.Body))
	}
	if points, _ := s.Points(); points != 2 {
		t.Errorf("%d points stored, want 2", points)
	}
	if f, ok := s.Point("telemetry", "reading,dev=dev-1,gw=gw-2x,kind=temperature,mun=751,tech=environment_sensor", at); !ok || f != "value=21.5" {
		t.Errorf("temperature at %v: %q, %v; want value=21.5", at, f, ok)
	}
}

// TestIngest2xSetupRefused: with a token 2.x refuses, or an org that does not exist, ingest
// does not keep retrying its set-up (that cannot mend it) but stops with an error that says
// what to fix.
func TestIngest2xSetupRefused(t *testing.T) {
	s := influx2.Start(t, influx2.Options{})
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("gw-2x "+ingest.HashToken("s3cret")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ org, token, want string }{
		{s.Org, "guess", "refused the token"},
		{"nowhere", s.Token, `organisation "nowhere" does not exist`},
	} {
		cfg := ingest.Config{InfluxURL: s.URL, InfluxOrg: c.org, InfluxBucket: "vagt", InfluxToken: c.token, Setup: true, TokenFile: tokens, HTTPAddr: "127.0.0.1:0"}
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		err := ingest.Run(ctx, cfg, ingest.Deps{Logger: testLogger(t)})
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("org %s, token %s: %v, want an error with %q at once", c.org, c.token, err, c.want)
		}
	}
	if b := s.Buckets(); len(b) != 0 {
		t.Errorf("created %+v", b)
	}
}
