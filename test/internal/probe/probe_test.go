package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

func TestParseCount(t *testing.T) {
	for _, c := range []struct {
		body string
		want uint64
		bad  bool
	}{
		{`{"results":[{"statement_id":0,"series":[{"name":"reading","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",123]]}]}]}`, 123, false},
		{`{"results":[{"statement_id":0}]}`, 0, false}, // no series: nothing stored yet
		{`{"results":[{"statement_id":0,"series":[{"name":"reading","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",null]]}]}]}`, 0, true},
	} {
		got, err := parseCount([]byte(c.body))
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseCount(%s) = %d, %v; want %d, error %t", c.body, got, err, c.want, c.bad)
		}
	}
}

func TestScrapeAndWaitReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.Write([]byte("ready"))
		case "/metrics":
			w.Write([]byte("# HELP x\nvagt_ingest_points_written_total_other 9\nvagt_ingest_points_written_total 4.2e+06\n"))
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if err := WaitReady(context.Background(), addr); err != nil {
		t.Fatal(err)
	}
	v, err := Scrape(context.Background(), addr, "vagt_ingest_points_written_total")
	if err != nil || v != 4.2e6 {
		t.Errorf("Scrape = %v, %v; want 4.2e6", v, err)
	}
	if v, err := Scrape(context.Background(), addr, "absent_total"); err != nil || v != 0 {
		t.Errorf("Scrape of an absent series = %v, %v; want 0", v, err)
	}
}

func TestCPUAndLoadAvg(t *testing.T) {
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	if CPU(cmd.ProcessState) <= 0 {
		t.Errorf("CPU of a busy loop = %v", CPU(cmd.ProcessState))
	}
	if f := strings.Fields(LoadAvg()); len(f) != 3 {
		t.Errorf("LoadAvg = %q, want three figures", LoadAvg())
	}
}
