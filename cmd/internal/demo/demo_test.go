package demo_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/stats"
	"github.com/vagt-dk/vagt/cmd/internal/demo"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestDemo starts `vagt-demo` the way `make run` does — the built binary, its own data
// directory — waits until the simulated homes report, and checks through the API and the
// database that telemetry reached InfluxDB and that an alarm became an alert on the live
// stream; then stops it with SIGINT, checks it exits cleanly, and starts it again on the
// data it kept.
func TestDemo(t *testing.T) {
	if _, err := localstack.FindBinary("influxd"); err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "vagt-demo")
	build := exec.Command("go", "build", "-o", bin, "github.com/vagt-dk/vagt/cmd/vagt-demo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "var")

	first := startDemo(t, bin, dir)
	staff := first.token("staff")
	events := first.stream(t, staff)
	deadline := time.After(90 * time.Second)
	for seen := false; !seen; {
		select {
		case ev := <-events:
			seen = isVillageAlarm(ev)
		case <-deadline:
			t.Fatal("no alarm of the village reached the staff's stream as an alert within 90 s")
		}
	}
	waitFor(t, 90*time.Second, "an alarm of the village as an alert", func() bool {
		return isVillageAlarm(first.get(t, "/api/v1/alerts", first.token("admin")))
	})
	// Issue 21's "Done when": the start block says where to look and whose token is which,
	// a line per alarm; the staff token sees every alarm, and takes one through "on my
	// way" and "arrived" to resolved; one nobody acknowledges reaches the backup.
	checkPrinted(t, first)
	staffSeesEveryAlarm(t, first)
	staffTakesAndResolves(t, first)
	backupGetsUnanswered(t, first)
	waitFor(t, 90*time.Second, "readings of every simulated home in InfluxDB", func() bool {
		return first.influxCount(t, `SELECT count(value) FROM reading WHERE time > now() - 1h GROUP BY gw`) == 3
	})
	// The manager's dashboard has figures: adoption over the past year counts the village's
	// citizens and, from the telemetry, active devices.
	// Dates in a period are Danish dates: between 22:00 and 24:00 UTC the Danish date is
	// already tomorrow's, and a "to" from the UTC date would end before the readings.
	now := time.Now().In(vagt.Copenhagen)
	q := fmt.Sprintf("/api/v1/stats/adoption?from=%s&to=%s&interval=month",
		now.AddDate(-1, 0, 0).Format("2006-01-02"), now.AddDate(0, 0, 1).Format("2006-01-02"))
	waitFor(t, 90*time.Second, "adoption statistics with citizens and active devices", func() bool {
		var a struct {
			Rows []map[string]any `json:"rows"`
		}
		if err := json.Unmarshal([]byte(first.get(t, q, first.token("manager"))), &a); err != nil {
			t.Fatalf("adoption: %v", err)
		}
		citizens, active := 0.0, 0.0
		for _, r := range a.Rows {
			c, _ := r["citizens"].(float64)
			d, _ := r["devices_active"].(float64)
			citizens, active = max(citizens, c), max(active, d)
		}
		return citizens > 0 && active > 0
	})
	// Issue 18's "Done when": the national and municipal views of the demo agree.
	demoViewsAgree(t, first, now)
	first.lastAlerts = first.get(t, "/api/v1/alerts", first.token("admin"))
	if first.get(t, "/api/v1/me", staff) == "" {
		t.Fatal("the printed staff token does not sign in")
	}
	// The demo citizen's token opens the citizen page's content: their own home's devices.
	if body := first.get(t, "/api/v1/me/overview", first.token("citizen")); !strings.Contains(body, `"devices":[{`) {
		t.Fatalf("the printed citizen token does not show the citizen's page: %.300s", body)
	}
	first.stop(t)

	// The data stays: a second run signs in with the same tokens and sees the old alerts.
	second := startDemo(t, bin, dir)
	if second.token("staff") != staff {
		t.Fatal("a second run issued new tokens instead of keeping the first run's")
	}
	if body := second.get(t, "/api/v1/alerts", second.token("admin")); !isVillageAlarm(body) {
		t.Fatalf("the first run's alerts are gone: %s", body)
	}
	// And it works: a new alarm becomes a new alert (issue 15 defect 6: after a restart the
	// embedded broker refused the api's session and no alarm did; the stream alone would
	// not tell, as it also carries escalations of the first run's alerts).
	newest := newestVillageAlert(t, first.lastAlerts)
	waitFor(t, 90*time.Second, "a new alarm of the village as a new alert after the restart", func() bool {
		return newestVillageAlert(t, second.get(t, "/api/v1/alerts", second.token("admin"))) > newest
	})
	if body := second.get(t, "/readyz", ""); !strings.Contains(body, "ready") {
		t.Fatalf("readyz after a restart: %s", body)
	}
	second.stop(t)
}

// demoViewsAgree compares the manager's comparison (their municipality exact) with the
// national one over the past year, row by row of the manager's own: in the national view
// a count is suppressed only where the citizens behind it are 1-4 (citizens and devices
// installed: the citizens; devices active: the active citizens, which the row does not
// show, so there a hidden figure must come with the row marked suppressed), and otherwise
// it is the exact count rounded to the base; a municipality the national view ranks has
// the same rank for its manager, among as many municipalities.
func demoViewsAgree(t *testing.T, p *demoProcess, now time.Time) {
	t.Helper()
	q := fmt.Sprintf("/api/v1/stats/compare?from=%s&to=%s",
		now.AddDate(-1, 0, 0).Format("2006-01-02"), now.AddDate(0, 0, 1).Format("2006-01-02"))
	read := func(role string) stats.Comparison {
		var c stats.Comparison
		if err := json.Unmarshal([]byte(p.get(t, q, p.token(role))), &c); err != nil {
			t.Fatalf("%s comparison: %v", role, err)
		}
		return c
	}
	mine, nat := read("manager"), read("national")
	national := map[string]stats.CompareRow{}
	for _, r := range nat.Rows {
		if r.Entity == "municipality" {
			national[fmt.Sprint(r.Municipality, "/", r.Technology)] = r
		}
	}
	small := func(n *int) bool { return n != nil && *n > 0 && *n < stats.SuppressBelow }
	show := func(n *int) string {
		if n == nil {
			return "null"
		}
		return fmt.Sprint(*n)
	}
	// same checks one figure: hidden says it must be suppressed; maybe that it may be
	// (the row is marked suppressed and the citizens behind the figure are not shown).
	same := func(what string, exact, shown *int, hidden, maybe bool) {
		t.Helper()
		switch {
		case exact == nil:
			if shown != nil {
				t.Errorf("%s: the manager sees none, the national view %d", what, *shown)
			}
		case hidden:
			if shown != nil {
				t.Errorf("%s: behind 1-4 citizens, yet the national view shows %d (exact %d)", what, *shown, *exact)
			}
		case shown == nil:
			if !maybe {
				t.Errorf("%s: exact %d, hidden in the national view", what, *exact)
			}
		case *shown != (*exact+stats.RoundingBase/2)/stats.RoundingBase*stats.RoundingBase:
			t.Errorf("%s: exact %d, national %d", what, *exact, *shown)
		}
	}
	own := 0
	for _, m := range mine.Rows {
		if m.Entity != "municipality" || m.Technology == "all" {
			continue
		}
		own++
		k, ok := national[fmt.Sprint(m.Municipality, "/", m.Technology)]
		if !ok {
			t.Errorf("the national comparison has no row for %d/%s", m.Municipality, m.Technology)
			continue
		}
		hidden := small(m.Citizens)
		if hidden && !k.Suppressed {
			t.Errorf("%s: %s citizens, not marked suppressed nationally", m.Technology, show(m.Citizens))
		}
		same(m.Technology+" citizens", m.Citizens, k.Citizens, hidden, false)
		same(m.Technology+" devices installed", m.DevicesInstalled, k.DevicesInstalled, hidden, false)
		same(m.Technology+" devices active", m.DevicesActive, k.DevicesActive, false, k.Suppressed)
		if hidden && k.Rank != nil {
			t.Errorf("%s: ranked %d nationally behind %s citizens", m.Technology, *k.Rank, show(m.Citizens))
		}
		if k.Rank != nil && (m.Rank == nil || *m.Rank != *k.Rank) || m.RankOf != k.RankOf {
			t.Errorf("%s: rank %s of %d for the manager, %s of %d nationally", m.Technology, show(m.Rank), m.RankOf, show(k.Rank), k.RankOf)
		}
	}
	if own == 0 {
		t.Fatalf("the manager's comparison has no row of their own municipality: %+v", mine.Rows)
	}
}

// isVillageAlarm reports whether s shows an alert of one of the alarms the demo raises.
func isVillageAlarm(s string) bool {
	return strings.Contains(s, `"type":"panic"`) || strings.Contains(s, `"type":"fall"`) || strings.Contains(s, `"type":"water_leak"`)
}

// newestVillageAlert is the highest id of an alert of a village alarm in an alert list.
func newestVillageAlert(t *testing.T, list string) int64 {
	t.Helper()
	var l struct {
		Alerts []struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(list), &l); err != nil {
		t.Fatalf("alert list: %v", err)
	}
	var newest int64
	for _, a := range l.Alerts {
		if a.Type == "panic" || a.Type == "fall" || a.Type == "water_leak" {
			newest = max(newest, a.ID)
		}
	}
	return newest
}

type demoProcess struct {
	lastAlerts string // the alert list just before the process was stopped
	cmd        *exec.Cmd
	out        *syncWriter // what it printed, read while it prints
	done       chan error
	api        string
	influx     string
	tokens     map[string]string
}

var (
	apiLine    = regexp.MustCompile(`API\s+http://(\S+)/api/v1`)
	influxLine = regexp.MustCompile(`InfluxDB\s+(http://\S+)`)
	tokenLine  = regexp.MustCompile(`^\s+(staff|backup|manager|national|admin|citizen)\b.*\s(vagt_\S+)$`)
)

func startDemo(t *testing.T, bin, dir string) *demoProcess {
	t.Helper()
	cmd := exec.Command(bin, "--dir", dir, "--homes", "3", "--tick", "1s", "--first-alarm", "2s", "--alarm-every", "5s", "--escalate-after", "5s",
		"--listen", freeAddr(t), "--broker-listen", freeAddr(t), "--ingest-listen", freeAddr(t))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncWriter{b: &strings.Builder{}} // read on failure while the demo writes
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &demoProcess{cmd: cmd, out: &syncWriter{b: &strings.Builder{}}, done: make(chan error, 1), tokens: map[string]string{}}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.out.Write([]byte(line + "\n"))
			if m := apiLine.FindStringSubmatch(line); m != nil {
				p.api = m[1]
			}
			if m := influxLine.FindStringSubmatch(line); m != nil {
				p.influx = m[1]
			}
			if m := tokenLine.FindStringSubmatch(line); m != nil {
				p.tokens[m[1]] = m[2]
			}
			if strings.HasPrefix(line, "Ctrl-C") { // the start block's last line
				close(ready)
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("vagt-demo printed:\n%s\nand logged:\n%s", p.out, tail(stderr.String(), 4000))
		}
	})
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("vagt-demo exited before it was ready: %v\n%s", err, tail(stderr.String(), 4000))
	case <-time.After(3 * time.Minute):
		t.Fatalf("vagt-demo did not say it is running within 3 minutes:\n%s", tail(stderr.String(), 4000))
	}
	for _, role := range []string{"staff", "backup", "manager", "national", "admin"} {
		if p.tokens[role] == "" {
			t.Fatalf("no %s token printed:\n%s", role, p.out)
		}
	}
	return p
}

func (p *demoProcess) token(role string) string { return p.tokens[role] }

func (p *demoProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("vagt-demo did not exit cleanly on SIGINT: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("vagt-demo did not stop within 90 s of SIGINT")
	}
	if !strings.Contains(p.out.String(), "stopping (data kept in") {
		t.Errorf("no goodbye:\n%s", p.out)
	}
}

func (p *demoProcess) get(t *testing.T, path, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.api+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	return string(body)
}

// stream follows the alert stream as a console does and hands over each event's data.
func (p *demoProcess) stream(t *testing.T, token string) <-chan string {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.api+"/api/v1/alerts/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %s", resp.Status)
	}
	events := make(chan string, 100)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				select {
				case events <- strings.TrimSpace(data):
				default:
				}
			}
		}
	}()
	return events
}

// influxCount runs an InfluxQL query on the demo's database and counts the series.
func (p *demoProcess) influxCount(t *testing.T, q string) int {
	t.Helper()
	resp, err := http.PostForm(p.influx+"/query", url.Values{"db": {"vagt"}, "q": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Results []struct {
			Series []json.RawMessage `json:"series"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Results) == 0 {
		t.Fatalf("influx %s: %v", q, err)
	}
	return len(r.Results[0].Series)
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	stacktest.WaitFor(t, what, limit, ok)
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// TestDemoOnMosquitto runs the demo in process against a real Mosquitto instead of the
// embedded broker (vagt-demo --broker), and sees an alarm of the village become an alert.
func TestDemoOnMosquitto(t *testing.T) {
	mosq := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	if _, err := localstack.FindBinary("influxd"); err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	listen := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		done <- demo.Run(ctx, demo.Config{Dir: t.TempDir(), Homes: 2, Broker: mosq.URL(), Listen: listen, IngestListen: freeAddr(t),
			Tick: time.Second, FirstAlarm: time.Second, AlarmEvery: 2 * time.Second}, nil, &syncWriter{b: &out})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo.Run: %v", err)
		}
	})
	p := &demoProcess{api: listen, tokens: map[string]string{}}
	waitFor(t, 90*time.Second, "the demo's tokens", func() bool {
		for _, m := range tokenLineMulti.FindAllStringSubmatch((&syncWriter{b: &out}).String(), -1) {
			p.tokens[m[1]] = m[2]
		}
		return p.tokens["admin"] != ""
	})
	waitFor(t, 90*time.Second, "an alarm of the village as an alert, through Mosquitto", func() bool {
		return isVillageAlarm(p.get(t, "/api/v1/alerts", p.token("admin")))
	})
}

var tokenLineMulti = regexp.MustCompile(`(?m)^\s+(staff|backup|manager|national|admin)\b.*\s(vagt_\S+)$`)

// syncWriter lets the test read what demo.Run writes from another goroutine.
type syncWriter struct{ b *strings.Builder }

var syncMu sync.Mutex

func (w *syncWriter) Write(p []byte) (int, error) {
	syncMu.Lock()
	defer syncMu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	syncMu.Lock()
	defer syncMu.Unlock()
	return w.b.String()
}
