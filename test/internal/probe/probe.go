// Package probe holds what the measurement programs (test/bench, test/replicas/bench,
// test/scale) share: waiting for a vagt process to be ready, reading one series from its
// /metrics, counting points in InfluxDB (every measurement checks that all it sent was
// stored), and the CPU and load figures they print.
package probe

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vagt-dk/vagt/ingest/influx"
)

// WaitReady waits up to a minute for http://addr/readyz to answer 200.
func WaitReady(ctx context.Context, addr string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready: %v", addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Scrape reads one unlabelled series from http://addr/metrics (0 when it is not there yet).
func Scrape(ctx context.Context, addr, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept-Encoding", "identity") // spare the measured process the gzip on loopback
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, s.Err()
}

// Count runs an InfluxQL count query against the InfluxDB 1.8 at url and returns the one
// number it answers (0 for no series).
func Count(ctx context.Context, url, q string) (uint64, error) {
	w, err := influx.New(influx.Config{URL: url, Bucket: "x"})
	if err != nil {
		return 0, err
	}
	defer w.Close()
	body, err := w.Query1x(ctx, q)
	if err != nil {
		return 0, err
	}
	n, err := parseCount(body)
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", q, err)
	}
	return n, nil
}

// parseCount reads the number out of a one-row answer:
// {"results":[{"statement_id":0,"series":[{"name":"reading","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",123]]}]}]}
func parseCount(body []byte) (uint64, error) {
	i := bytes.LastIndexByte(body, ',')
	j := bytes.Index(body[max(i, 0):], []byte("]"))
	if i < 0 || j < 0 || !bytes.Contains(body, []byte(`"values"`)) {
		return 0, nil
	}
	n, err := strconv.ParseUint(string(body[i+1:i+j]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("no count in %s", body)
	}
	return n, nil
}

// CPU is the user and system time a process that has ended used.
func CPU(ps *os.ProcessState) time.Duration {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return 0
}

// LoadAvg is the machine's 1, 5 and 15 minute load averages, "?" where it cannot be read:
// printed with every figure, since this machine is shared.
func LoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
