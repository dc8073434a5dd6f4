// Command bench measures ingest replicas on the 3-node NATS cluster (issue 20 item 3):
// for 1, 2 and 3 replicas, each `vagt ingest --partition k` behind a cluster whose subject
// mapping splits telemetry into as many partitions by gateway (localstack's
// NATSTelemetryPartitions, deploy/nats/nats.conf), the load generator publishes the same
// readings, and the bench prints readings/s until every reading was written, the replicas'
// CPU-s per million readings, and the readings InfluxDB holds (which must be all).
// The machine's load average is printed with each run.
//
//	go build -o bin/vagt ./cmd/vagt && go run ./test/replicas/bench -vagt bin/vagt
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vagt-dk/vagt/firmware-sim/load"
	"github.com/vagt-dk/vagt/test/internal/probe"
	"github.com/vagt-dk/vagt/test/localstack"
)

type options struct {
	vagt                             string
	replicas                         string
	homes, sensors, samples, batches int
}

func main() {
	var o options
	flag.StringVar(&o.vagt, "vagt", "bin/vagt", "the vagt binary")
	flag.StringVar(&o.replicas, "replicas", "1,2,3", "replica counts to measure")
	flag.IntVar(&o.homes, "homes", 1000, "gateways the load generator plays")
	flag.IntVar(&o.sensors, "sensors", 25, "sensors per home")
	flag.IntVar(&o.samples, "samples", 20, "readings per sensor per batch (25×20 = 500)")
	flag.IntVar(&o.batches, "batches", 4, "batches per gateway")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	db, err := localstack.StartInfluxDB(ctx, localstack.InfluxDBOptions{DisableFlux: true})
	if err != nil {
		return err
	}
	defer db.Close()
	for _, s := range strings.Split(o.replicas, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("replicas %q", s)
		}
		if err := measure(ctx, db, o, n); err != nil {
			return fmt.Errorf("%d replicas: %w", n, err)
		}
	}
	return nil
}

func measure(ctx context.Context, db *localstack.InfluxDB, o options, n int) error {
	cluster, err := localstack.StartNATSCluster(ctx, localstack.NATSClusterOptions{Extra: localstack.NATSTelemetryPartitions(n)})
	if err != nil {
		return err
	}
	defer cluster.Close()
	database := fmt.Sprintf("replicas_%d", n)
	type replica struct {
		cmd  *exec.Cmd
		addr string
	}
	var reps []replica
	defer func() {
		for _, r := range reps {
			if r.cmd.ProcessState == nil {
				_ = r.cmd.Process.Kill()
				_ = r.cmd.Wait()
			}
		}
	}()
	for k := range n {
		port, err := localstack.FreePort()
		if err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.CommandContext(ctx, o.vagt, "ingest", "--broker", cluster.Node(k%3).URL(),
			"--client-id", fmt.Sprintf("bench-ingest-%d-of-%d", k, n), "--partition", strconv.Itoa(k),
			"--influx-url", db.URL(), "--influx-bucket", database+"/autogen", "--influx-token", db.Token,
			"--http", addr, "--batch-points", "5000", "--inflight", "1000", "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		reps = append(reps, replica{cmd, addr})
		if err := probe.WaitReady(ctx, addr); err != nil {
			return err
		}
	}
	before := probe.LoadAvg()
	cfg := load.Config{Broker: cluster.Node(0).URL(), Homes: o.homes, Sensors: o.sensors, Samples: o.samples, Batches: o.batches,
		Conns: 4, Window: 512, Prefix: fmt.Sprintf("r%d", n)}
	start := time.Now()
	report, err := load.Run(ctx, cfg)
	if err != nil {
		return err
	}
	sent := time.Since(start)
	for {
		var sum float64
		for _, r := range reps {
			v, err := probe.Scrape(ctx, r.addr, "vagt_ingest_points_written_total")
			if err != nil {
				return err
			}
			sum += v
		}
		if sum >= float64(report.Readings) {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("only %.0f of %d readings written after 5 min", sum, report.Readings)
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	after := probe.LoadAvg()
	var cpu time.Duration
	var per []string
	for _, r := range reps {
		v, _ := probe.Scrape(ctx, r.addr, "vagt_ingest_points_written_total")
		per = append(per, strconv.FormatFloat(v, 'f', 0, 64))
		if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return err
		}
		if err := r.cmd.Wait(); err != nil {
			return fmt.Errorf("vagt ingest: %w", err)
		}
		cpu += probe.CPU(r.cmd.ProcessState)
	}
	stored, err := probe.Count(ctx, db.URL(), `SELECT count(value) FROM "`+database+`"."autogen"."reading"`)
	if err != nil {
		return err
	}
	verdict := "all"
	if stored != uint64(report.Readings) {
		verdict = "MISSING"
	}
	fmt.Printf("%d replica(s): %.0f readings/s (%d readings in %.2fs; published in %.2fs), %.2f CPU-s per million (ingest, all replicas: %.2fs), points per replica %s, stored %d (%s), load average %s → %s\n",
		n, float64(report.Readings)/elapsed.Seconds(), report.Readings, elapsed.Seconds(), sent.Seconds(),
		cpu.Seconds()/(float64(report.Readings)/1e6), cpu.Seconds(), strings.Join(per, "/"), stored, verdict, before, after)
	if verdict != "all" {
		return errors.New("InfluxDB does not hold every reading")
	}
	return nil
}
