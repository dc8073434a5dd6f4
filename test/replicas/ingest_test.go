package replicas

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/test/internal/chain"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestIngestReplicasOnClusterKill9: three `vagt ingest --partition k` processes behind a
// cluster that splits telemetry into three partitions; while the load generator publishes,
// replica 0 is killed -9, and it is started again (same client id) after the load ended.
// Its partition waits in its persistent session meanwhile: InfluxDB ends with every reading
// sent, no fewer (lost) and no more (points are idempotent, so a redelivery writes none).
func TestIngestReplicasOnClusterKill9(t *testing.T) {
	const parts = 3
	cluster := stacktest.NATSCluster(t, localstack.NATSClusterOptions{Extra: localstack.NATSTelemetryPartitions(parts)})
	db := stacktest.InfluxDB(t, localstack.InfluxDBOptions{DisableFlux: true})
	dir := t.TempDir()
	bin := buildVagt(t, dir)

	replicas := make([]*apiProc, parts)
	for k := range replicas {
		port, err := localstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		p := &apiProc{Process: &chain.Process{Name: fmt.Sprintf("vagt-ingest-%d", k), Bin: bin, Log: filepath.Join(dir, fmt.Sprintf("ingest-%d.log", k))},
			metrics: "127.0.0.1:" + strconv.Itoa(port)}
		p.Args = []string{"ingest", "--broker", cluster.Node(k).URL(), "--client-id", p.Name, "--partition", strconv.Itoa(k),
			"--influx-url", db.URL(), "--influx-bucket", db.Bucket(), "--influx-token", db.Token,
			"--http", p.metrics, "--linger", "50ms", "--log-level", "warn"}
		p.ready = func() bool {
			resp, err := http.Get("http://" + p.metrics + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
		p.start(t)
		replicas[k] = p
	}
	t.Cleanup(func() {
		for _, p := range replicas {
			if err := p.Stop(); err != nil {
				t.Errorf("%v", err)
			}
			if t.Failed() {
				b, _ := os.ReadFile(p.Log)
				t.Logf("%s log:\n%s", p.Name, b)
			}
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	type result struct {
		r   load.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := load.Run(ctx, load.Config{Broker: cluster.Node(2).URL(), Homes: 30, Sensors: 5, Samples: 10, Batches: 20,
			Interval: 200 * time.Millisecond, Conns: 2, Prefix: "kill9"})
		done <- result{r, err}
	}()
	time.Sleep(1500 * time.Millisecond) // in the middle of the load (4 s)
	if err := replicas[0].Kill(); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	replicas[0].start(t)

	stored := func() int {
		out, err := db.Query(ctx, fmt.Sprintf(`SELECT count(value) FROM "%s"."autogen"."reading" WHERE gw =~ /^kill9/`, db.Database))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`"values":\[\["[^"]*",(\d+)\]\]`).FindSubmatch(out)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	want := int(res.r.Readings)
	waitFor(t, fmt.Sprintf("%d readings in InfluxDB", want), func() bool { return stored() >= want })
	time.Sleep(time.Second)
	if got := stored(); got != want {
		t.Errorf("InfluxDB holds %d readings, want exactly the %d sent", got, want)
	}
	written := make([]float64, parts)
	for k, p := range replicas {
		written[k] = p.metric("vagt_ingest_points_written_total")
	}
	t.Logf("%d readings; points written since start per replica (replica 0 since its restart): %v", want, written)
	if written[0] <= 0 {
		t.Error("the restarted replica wrote nothing: its partition was not waiting in its session")
	}
}
