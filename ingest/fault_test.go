package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/ingest"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// startLoad runs the load generator in the background; the returned function waits for
// its report.
func startLoad(t *testing.T, cfg load.Config) func() load.Report {
	t.Helper()
	done := make(chan load.Report, 1)
	go func() {
		r, err := load.Run(context.Background(), cfg)
		if err != nil {
			t.Errorf("load: %v", err)
		}
		done <- r
	}()
	return func() load.Report {
		t.Helper()
		select {
		case r := <-done:
			if r.Readings == 0 {
				t.Fatal("load sent nothing")
			}
			return r
		case <-time.After(patience):
			t.Fatal("load did not finish")
		}
		return load.Report{}
	}
}

// TestInfluxDBOutage: InfluxDB stops under load. Ingest acknowledges nothing more, holds
// no more than its in-flight bound (the broker keeps the rest), and after InfluxDB is back
// every reading is stored exactly once.
func TestInfluxDBOutage(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	db := stacktest.InfluxDB(t, localstack.InfluxDBOptions{DisableFlux: true})
	target := db.Target(db.Database)
	cfg := baseConfig(broker.URL(), target, "ingest-outage")
	cfg.InFlight = 150
	cfg.Writers = 2
	addr := runIngest(t, cfg)

	wait := startLoad(t, load.Config{Broker: broker.URL(), Homes: 20, Sensors: 9, Samples: 4, Batches: 40,
		Interval: 25 * time.Millisecond, AlarmEvery: 10, Conns: 2, Prefix: "outage"}) // the bound below follows these
	waitMetric(t, addr, "vagt_ingest_points_written_total", func(v float64) bool { return v > 0 })
	if err := db.Stop(); err != nil {
		t.Fatal(err)
	}
	const failures = `vagt_ingest_write_errors_total{kind="transient"}`
	waitMetric(t, addr, failures, func(v float64) bool { return v > 0 })
	r := wait() // the broker took everything while InfluxDB was down
	// Writes that were under way when InfluxDB stopped have finished by now; from here on,
	// while the writers keep failing, not a single message may be acknowledged.
	acksWhileDown := metric(t, addr, "vagt_ingest_acks_total")
	seen := metric(t, addr, failures)
	waitMetric(t, addr, failures, func(v float64) bool { return v >= seen+2 })
	if got := metric(t, addr, "vagt_ingest_acks_total"); got != acksWhileDown {
		t.Errorf("acknowledged %v messages while InfluxDB was down", got-acksWhileDown)
	}
	// Bounded: the queue, plus one batch per writer, one waiting and one being filled. A
	// batch holds BatchPoints points: telemetry messages of 9×4 readings and, among them,
	// alarms of one point each — per home at most one per AlarmEvery of its batches, and one
	// more where its alarm falls at the batch's edge.
	const homes, perMessage, alarmEvery = 20, 9 * 4, 10
	telemetry := cfg.BatchPoints/perMessage + 1
	perBatch := telemetry + telemetry/alarmEvery + homes
	if got, bound := metric(t, addr, "vagt_ingest_inflight_messages"), cfg.InFlight+(cfg.Writers+2)*perBatch; got > float64(bound) {
		t.Errorf("%v messages in flight, bound %d", got, bound)
	}
	if got := metric(t, addr, "vagt_ingest_acks_total"); got >= float64(r.Batches+r.Alarms) {
		t.Fatalf("everything was acknowledged before the outage (%v): the test proves nothing", got)
	}
	if err := db.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	newCounter(t, target).waitStored(t, r)
}

// TestTwoReplicasSplitLoad: two ingest replicas on one shared subscription each take part
// of the load, and every reading is stored once.
func TestTwoReplicasSplitLoad(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	target := stacktest.SharedInfluxDB(t)
	shared := func(id string) ingest.Config {
		c := baseConfig(broker.URL(), target, id)
		c.Group = "vagt-ingest" // opt in: the default subscribes directly (see vagt.LaneSubscription)
		return c
	}
	a := runIngest(t, shared("ingest-a"))
	b := runIngest(t, shared("ingest-b"))

	r := runLoad(t, load.Config{Broker: broker.URL(), Homes: 30, Sensors: 9, Samples: 2, Batches: 10, AlarmEvery: 5, Conns: 2, Prefix: "split"})
	newCounter(t, target).waitStored(t, r)
	const series = `vagt_ingest_messages_total{lane="telemetry",result="written"}`
	na, nb := metric(t, a, series), metric(t, b, series)
	if na == 0 || nb == 0 {
		t.Errorf("replicas wrote %v and %v telemetry messages: the load was not split", na, nb)
	}
	if na+nb != float64(r.Batches) {
		t.Errorf("replicas wrote %v messages, %d were sent: split means each message to one replica", na+nb, r.Batches)
	}
}

// TestKilledIngestLosesNothing: the vagt binary is killed with SIGKILL mid-load and
// started again under the same client id; the broker's persistent session redelivers what
// was not acknowledged, and every reading is stored exactly once.
func TestKilledIngestLosesNothing(t *testing.T) {
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	target := stacktest.SharedInfluxDB(t)
	bin := filepath.Join(t.TempDir(), "vagt")
	build := exec.Command("go", "build", "-o", bin, "../cmd/vagt")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build vagt: %v\n%s", err, out)
	}
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := "127.0.0.1:" + strconv.Itoa(port)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "ingest", "--broker", broker.URL(), "--client-id", "ingest-kill",
			"--influx-url", target.URL, "--influx-bucket", target.Bucket, "--influx-token", target.Token,
			"--http", httpAddr, "--batch-points", "500", "--linger", "10ms", "--inflight", "200", "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // a no-op for a process already waited for
			if cmd.ProcessState == nil {
				_ = cmd.Process.Signal(os.Interrupt)
				_ = cmd.Wait()
			}
		})
		return cmd
	}
	first := start()
	// The first start creates the session and its subscription: what is published before
	// that reaches nobody (MQTT keeps messages only for existing sessions).
	for deadline := time.Now().Add(patience); ; {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wait := startLoad(t, load.Config{Broker: broker.URL(), Homes: 20, Sensors: 9, Samples: 4, Batches: 30,
		Interval: 20 * time.Millisecond, AlarmEvery: 7, Conns: 2, Prefix: "kill"})
	counter := newCounter(t, target)
	for deadline := time.Now().Add(patience); ; {
		got, err := counter.perGateway(context.Background(), "reading", "value")
		if err == nil && total(got) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing stored before the kill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	r := wait()
	stored, err := counter.perGateway(context.Background(), "reading", "value")
	if err != nil {
		t.Fatal(err)
	}
	if total(stored) >= r.Readings {
		t.Fatalf("everything was stored before the kill (%d): the test proves nothing", total(stored))
	}
	start()
	counter.waitStored(t, r)
}

// TestHTTPWaitBoundInfluxDBDown: with InfluxDB stopped, POST /v1/telemetry answers 503
// with Retry-After and a JSON error once --http-wait passes (the client does not have to
// give up); nothing is acknowledged. InfluxDB comes back, the client sends the batch again
// until it gets 204, and InfluxDB holds exactly one copy of each reading, although the
// batch was taken in more than once (the 503'd copies are written too).
func TestHTTPWaitBoundInfluxDBDown(t *testing.T) {
	db := stacktest.InfluxDB(t, localstack.InfluxDBOptions{DisableFlux: true})
	target := db.Target(db.Database)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("gw-wait "+ingest.HashToken("s3cret")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig("", target, "")
	cfg.TokenFile = tokens
	cfg.HTTPWait = 300 * time.Millisecond
	addr := runIngest(t, cfg)

	at := time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)
	body, err := vagt.EncodeBatch(&vagt.Batch{Gateway: "gw-wait", Seq: 1, Municipality: 766, Readings: []vagt.Reading{
		{Device: "dev-1", Kind: vagt.KindTemperature, Time: at, Value: 21.5},
		{Device: "dev-1", Kind: vagt.KindTemperature, Time: at.Add(time.Minute), Value: 21.7},
		{Device: "dev-2", Kind: vagt.KindDoorOpen, Time: at, Value: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	post := func() (status int, retryAfter string, resp string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/telemetry", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("gw-wait", "s3cret")
		req.Header.Set("Content-Type", "application/cbor")
		ctx, cancel := context.WithTimeout(context.Background(), patience) // a hung request fails, not hangs
		defer cancel()
		r, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		defer r.Body.Close()
		return r.StatusCode, r.Header.Get("Retry-After"), readAll(t, r.Body)
	}

	if err := db.Stop(); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	status, retryAfter, resp := post()
	t.Logf("503 after %v (bound %v; reported, not asserted)", time.Since(sent).Round(time.Millisecond), cfg.HTTPWait)
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp), &e); err != nil || status != http.StatusServiceUnavailable || retryAfter == "" || e.Error.Code != "not_written" {
		t.Fatalf("with InfluxDB down: %d (Retry-After %q) %s, want 503 not_written with Retry-After", status, retryAfter, resp)
	}
	if got := metric(t, addr, "vagt_ingest_acks_total"); got != 0 {
		t.Errorf("%v messages acknowledged while InfluxDB was down", got)
	}
	if got := metric(t, addr, "vagt_ingest_http_wait_exceeded_total"); got != 1 {
		t.Errorf("http_wait_exceeded_total %v, want 1", got)
	}
	if err := db.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	// The client's part: send again, after Retry-After, until 204. Each 503 leaves one more
	// copy of the batch in the pipeline; a 204 comes only after every earlier copy was
	// written too (acknowledgements are in arrival order).
	sends := 1
	for deadline := time.Now().Add(patience); ; sends++ {
		status, retryAfter, resp = post()
		if status == http.StatusNoContent {
			break
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("resend %d: %d %s", sends, status, resp)
		}
		wait, _ := strconv.Atoi(retryAfter)
		time.Sleep(time.Duration(wait) * time.Second)
	}
	taken := metric(t, addr, `vagt_ingest_messages_total{lane="telemetry",result="written"}`)
	stored, err := newCounter(t, target).perGateway(context.Background(), "reading", "value")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("batch sent %d times, written %v times; 204 %v after InfluxDB was back", sends+1, taken, time.Since(restarted).Round(time.Millisecond))
	if taken < 2 {
		t.Errorf("the batch was written %v times: the 503'd copy was not, and the test proves nothing about duplicates", taken)
	}
	if stored["gw-wait"] != 3 {
		t.Errorf("stored %d readings of gw-wait, want exactly the batch's 3", stored["gw-wait"])
	}
}
