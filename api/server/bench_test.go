package server_test

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// BenchmarkAlarmLatency measures an alarm from its publish on a real Mosquitto to its
// "new" event at a connected SSE client, one alarm at a time. Run with -benchtime=300x; it
// reports p50 and p99. With VAGT_BENCH_BROKER=tcp://... it uses that broker instead of its
// own, e.g. one that vagt ingest and the load generator keep busy.
func BenchmarkAlarmLatency(b *testing.B) {
	for name, dsn := range databases(nil) {
		b.Run(name, func(b *testing.B) {
			url := os.Getenv("VAGT_BENCH_BROKER")
			if url == "" {
				url = stacktest.Mosquitto(b, localstack.MosquittoOptions{Persistence: true}).URL()
			}
			st := startAPIURL(b, url, dsn(b), "vagt-api-bench", api.NewManualClock(t0))
			st.world(b)
			gw := newGateway(b, url).c
			events := st.stream(b, "anna", 0)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				a := vagt.Alarm{Gateway: "gw-0042", Seq: uint64(i + 1), Municipality: 766, Time: t0,
					Device: vagt.DeviceID(fmt.Sprintf("dev-%d", i)), Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical}
				payload, _ := vagt.EncodeAlarm(&a)
				start := time.Now()
				if tok := gw.Publish(vagt.Topic("gw-0042", vagt.LaneAlarm), 1, false, payload); !tok.WaitTimeout(patience) || tok.Error() != nil {
					b.Fatal(tok.Error())
				}
				for ev := range events {
					if ev.Name == "new" && ev.Data.Alert.Device == a.Device {
						break
					}
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkLaneThroughput publishes b.N alarms from 100 gateways as fast as the broker
// takes them and reports how many alerts per second the lane commits.
func BenchmarkLaneThroughput(b *testing.B) {
	for name, dsn := range databases(nil) {
		b.Run(name, func(b *testing.B) {
			broker := stacktest.Mosquitto(b, localstack.MosquittoOptions{Persistence: true})
			st := startAPI(b, broker, dsn(b), "vagt-api-bench", api.NewManualClock(t0))
			gw := newGateway(b, broker.URL()).c
			payloads := make([][]byte, b.N)
			topics := make([]string, b.N)
			for i := range b.N {
				g := vagt.GatewayID(fmt.Sprintf("gw-%04d", i%100))
				a := vagt.Alarm{Gateway: g, Seq: uint64(i + 1), Municipality: 766, Time: t0,
					Device: vagt.DeviceID(fmt.Sprintf("dev-%d", i)), Type: vagt.AlarmFall, Priority: vagt.PriorityCritical}
				payloads[i], _ = vagt.EncodeAlarm(&a)
				topics[i] = vagt.Topic(g, vagt.LaneAlarm)
			}
			start := time.Now()
			b.ResetTimer()
			toks := make([]mqtt.Token, b.N)
			for i := range b.N {
				toks[i] = gw.Publish(topics[i], 1, false, payloads[i])
			}
			for _, tok := range toks {
				if !tok.WaitTimeout(patience) || tok.Error() != nil {
					b.Fatal(tok.Error())
				}
			}
			deadline := time.Now().Add(5 * time.Minute)
			for {
				n, err := st.srv.Store.LastEventID(b.Context())
				if err == nil && n >= int64(b.N) {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("only %d of %d alerts", n, b.N)
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "alerts/s")
		})
	}
}
