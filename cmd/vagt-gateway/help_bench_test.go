package main

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/server"
	"github.com/vagt-dk/vagt/firmware-sim/baseunit"
	"github.com/vagt-dk/vagt/gateway"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// helpPlatform is the whole way from a press to the help news on the unit: the emulated
// base unit on a pty, the gateway, a real Mosquitto, vagt api on SQLite (alarm lane, alert
// store, downlink) — and "staff" who acknowledge each alert as soon as they learn of it.
type helpPlatform struct {
	srv    *server.Server
	unit   *baseunit.Unit
	g      *gateway.Gateway
	alerts chan uint64 // alert ids, from the downlinks that said "received"
}

func startHelpPlatform(t testing.TB) *helpPlatform {
	t.Helper()
	dir := t.TempDir()
	// As the production broker (deploy/mosquitto/mosquitto.conf): without it, Nagle's
	// algorithm holds the downlink behind the PUBACK the broker just sent the gateway
	// until the delayed TCP ACK comes, 40 ms on Linux.
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Extra: "set_tcp_nodelay true"})
	srv, err := server.New(t.Context(), server.Config{Listen: "127.0.0.1:0", DB: filepath.Join(dir, "vagt.db"), Broker: broker.URL(),
		ClientID: "vagt-api-help"}, server.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	line, err := baseunit.NewLine(filepath.Join(dir, "tty"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := gateway.Defaults()
	cfg.Gateway, cfg.Municipality = "gw-help", 766
	cfg.Spool.Path = filepath.Join(dir, "spool.db")
	cfg.Uplink.Broker, cfg.Serial.Path, cfg.StatusAddr = broker.URL(), line.Path, ""
	g, err := gateway.New(cfg, gateway.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	p := &helpPlatform{srv: srv, unit: baseunit.New("bu-1"), g: g, alerts: make(chan uint64, 1000)}
	// The staff's screen: the downlinks tell which alert each press became.
	watch := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID("staff"))
	if tok := watch.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	tok := watch.Subscribe(vagt.Topic(cfg.Gateway, vagt.LaneDownlink), 1, func(_ mqtt.Client, m mqtt.Message) {
		if d, err := vagt.DecodeDownlink(m.Payload()); err == nil && d.State == vagt.HelpReceived {
			p.alerts <- d.Alert
		}
	})
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	p.unit.Attach(line.End())
	wg.Go(func() { srv.Run(ctx) })
	wg.Go(func() { p.unit.Run(ctx, line.End()) })
	wg.Go(func() { g.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); watch.Disconnect(100); line.Unplug() })
	deadline := time.Now().Add(time.Minute)
	for !g.Snapshot().UplinkUp || !srv.AlarmLane().Connected() {
		if time.Now().After(deadline) {
			t.Fatal("gateway or alarm lane not connected within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

// press presses a new button (a new alert each time: presses of one button within two
// minutes fold into one) and returns how long until the unit showed "received" and
// "acknowledged", staff acknowledging the alert as soon as they learn of it.
func (p *helpPlatform) press(t testing.TB, i int) (received, acknowledged time.Duration) {
	t.Helper()
	start := time.Now()
	frame, _ := p.unit.Alarm("btn-"+strconv.Itoa(i), "panic")
	n := nextNews(t, p.unit, "received")
	received = n.At.Sub(start)
	if n.Seq != frame {
		t.Fatalf("news for frame %d, pressed %d", n.Seq, frame)
	}
	var alert uint64
	select {
	case alert = <-p.alerts:
	case <-time.After(time.Minute):
		t.Fatal("staff did not learn of the alert")
	}
	if _, err := p.srv.Store.Ack(context.Background(), int64(alert), "anna", api.Scope{All: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	n = nextNews(t, p.unit, "acknowledged")
	if n.Seq != frame {
		t.Fatalf("acknowledged news for frame %d, pressed %d", n.Seq, frame)
	}
	return received, n.At.Sub(start)
}

// TestPressToHelpThroughThePlatform: the whole way, with the real api: a press is
// "received" on the unit once the alert is committed, "acknowledged" once staff ack it,
// and the unit's screen says help is coming.
func TestPressToHelpThroughThePlatform(t *testing.T) {
	p := startHelpPlatform(t)
	p.press(t, 0)
	if p.unit.Display() != "Hjælpen er på vej" {
		t.Fatalf("display %q", p.unit.Display())
	}
	list, err := p.srv.Store.ListAlerts(t.Context(), api.Scope{All: true}, alerts.Filter{})
	if err != nil || len(list) != 1 || list[0].State != alerts.StateAcknowledged {
		t.Fatalf("alerts %+v %v", list, err)
	}
}

// BenchmarkPressToHelp: press → "received" and press → "acknowledged" (staff acking at
// once) back on the emulated unit, through the gateway, Mosquitto and vagt api on SQLite,
// all on loopback. Reports p50 and p99 of each.
func BenchmarkPressToHelp(b *testing.B) {
	p := startHelpPlatform(b)
	rec := make([]time.Duration, 0, b.N)
	ack := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, a := p.press(b, i)
		rec, ack = append(rec, r), append(ack, a)
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"received", rec}, {"acknowledged", ack}} {
		slices.Sort(m.d)
		b.ReportMetric(float64(m.d[len(m.d)/2].Microseconds())/1000, m.name+"-p50-ms")
		b.ReportMetric(float64(m.d[min(len(m.d)-1, len(m.d)*99/100)].Microseconds())/1000, m.name+"-p99-ms")
	}
}
