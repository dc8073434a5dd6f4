package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/test/internal/chain"
	"github.com/vagt-dk/vagt/test/localstack"
)

// The restore drill's parts (TestRestoreDrill): the two stores' backup and restore as the
// runbook gives them, the gateway, the console and the checks.

// drillCounts are what the drill prints.
type drillCounts struct {
	atBackup, atStop, atStart, published int // alarms published by then
	replay                               replayReport
}

// replayReport is vagt alarms replay's output.
type replayReport struct {
	History      int   `json:"history"`
	Filed        int   `json:"filed"`
	AlreadyThere int   `json:"already_there"`
	Ignored      int   `json:"ignored"`
	NextEventID  int64 `json:"next_event_id"`
}

// drillStore is the SQL store under the drill: its DSN, an online backup, and a restore
// with the api stopped.
type drillStore interface {
	dsn() string
	backup(t *testing.T, dir string) error
	restore(t *testing.T, dir string) error
}

// sqliteStore: the backup is sqlite3's online backup (a consistent copy of a WAL database
// while the api writes); the restore copies it back over the file and removes the stale
// -wal and -shm files.
type sqliteStore struct{ path string }

func (s *sqliteStore) dsn() string { return s.path }

func (s *sqliteStore) backup(t *testing.T, dir string) error {
	out, err := exec.Command("sqlite3", s.path, ".backup '"+filepath.Join(dir, "vagt.bak")+"'").CombinedOutput()
	if err != nil {
		return fmt.Errorf("sqlite3 .backup: %w: %s", err, out)
	}
	return nil
}

func (s *sqliteStore) restore(t *testing.T, dir string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(s.path + suffix); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "vagt.bak"))
	if err != nil {
		return err
	}
	return os.WriteFile(s.path, data, 0o600)
}

// postgresStore: pg_dump -Fc while the api writes; pg_restore --clean --if-exists with the
// api stopped; both PostgreSQL 15's own binaries, run as the postgres user when we are
// root (as localstack runs the server), on a dump directory that user owns.
type postgresStore struct {
	url       string
	bin       string // PostgreSQL's bin directory
	dumpDir   string
	cred      *syscall.Credential
	dumpBytes int64
}

func newPostgresStore(t *testing.T, dsn string) *postgresStore {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	if len(bins) == 0 {
		t.Fatal("pg_dump: PostgreSQL is not installed (make tools)")
	}
	slices.Sort(bins)
	s := &postgresStore{url: dsn, bin: filepath.Dir(bins[len(bins)-1])}
	dumpDir, err := os.MkdirTemp("", "vagt-drill-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dumpDir) })
	s.dumpDir = dumpDir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dumpDir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	return s
}

func (s *postgresStore) dsn() string { return s.url }

func (s *postgresStore) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dumpDir
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, out)
	}
	return nil
}

func (s *postgresStore) backup(t *testing.T, dir string) error {
	if err := s.run("pg_dump", "-Fc", "-d", s.url, "-f", "vagt.dump"); err != nil {
		return err
	}
	fi, err := os.Stat(filepath.Join(s.dumpDir, "vagt.dump"))
	if err == nil {
		s.dumpBytes = fi.Size()
	}
	return err
}

func (s *postgresStore) restore(t *testing.T, dir string) error {
	return s.run("pg_restore", "--clean", "--if-exists", "-d", s.url, "vagt.dump")
}

// replay runs vagt alarms replay as the runbook does.
func replay(t *testing.T, bins chain.Binaries, st drillStore, influx localstack.InfluxTarget, since time.Time) replayReport {
	t.Helper()
	cmd := exec.Command(bins.Vagt, "alarms", "replay", "--db", st.dsn(), "--influx-url", influx.URL, "--influx-bucket", influx.Bucket,
		"--influx-token", influx.Token, "--since", since.UTC().Format(time.RFC3339Nano))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("vagt alarms replay: %v\n%s", err, stderr.String())
	}
	var r replayReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("vagt alarms replay printed %q: %v", out, err)
	}
	t.Logf("vagt alarms replay: %s", bytes.TrimSpace(out))
	return r
}

// alarmPoints counts the drill gateway's alarms in InfluxDB.
func alarmPoints(influx localstack.InfluxTarget) (int, error) {
	q := url.Values{"db": {influx.Database}, "q": {`SELECT count(seq) FROM alarm WHERE gw = '` + drillGateway + `'`}}
	resp, err := http.Get(influx.URL + "/query?" + q.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return 0, err
	}
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 || len(r.Results[0].Series[0].Values) == 0 || len(r.Results[0].Series[0].Values[0]) < 2 {
		return 0, nil
	}
	n, ok := r.Results[0].Series[0].Values[0][1].(json.Number)
	if !ok {
		return 0, fmt.Errorf("count: %v", r.Results[0].Series[0].Values[0][1])
	}
	v, err := n.Int64()
	return int(v), err
}

const drillGateway = "gw-drill"

func drillDevice(i int) vagt.DeviceID { return vagt.DeviceID(fmt.Sprintf("pendant-%d", i)) }

// drillGW publishes one panic alarm every drillPace, seq i from device pendant-i, at QoS 1
// as a gateway does; an alarm counts as published once the broker acknowledged it.
type drillGW struct {
	t      *testing.T
	client mqtt.Client
	mu     sync.Mutex
	n      int
}

func newDrillGateway(t *testing.T, broker string) *drillGW {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID(drillGateway).SetCleanSession(true).SetAutoReconnect(true)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("gateway connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(250) })
	return &drillGW{t: t, client: c}
}

func (g *drillGW) run(ctx context.Context) {
	tick := time.NewTicker(drillPace)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		g.mu.Lock()
		i := g.n + 1
		g.mu.Unlock()
		a := &vagt.Alarm{Gateway: drillGateway, Seq: uint64(i), Municipality: municipality, Time: time.Now().UTC().Truncate(time.Millisecond),
			Device: drillDevice(i), Type: vagt.AlarmPanic, Priority: vagt.PriorityCritical, Details: map[string]string{"drill": "restore"}}
		b, err := vagt.EncodeAlarm(a)
		if err != nil {
			g.t.Errorf("encode: %v", err)
			return
		}
		tok := g.client.Publish(vagt.Topic(drillGateway, vagt.LaneAlarm), 1, false, b)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			continue // not acknowledged: the same seq again at the next tick
		}
		g.mu.Lock()
		g.n = i
		g.mu.Unlock()
	}
}

func (g *drillGW) published() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// console is a care console: it lists the alerts, follows the stream from the list's last
// event id, reconnects with Last-Event-ID whenever the stream ends, and on a reset event
// reloads its list (replacing what it had, as the web console does).
type console struct {
	base, token string

	mu       sync.Mutex
	last     int64
	listed   bool
	seen     map[vagt.DeviceID]bool // the drill's devices in the list and the events since
	resets   int
	connects int
}

func (c *console) run(ctx context.Context) {
	for ctx.Err() == nil {
		c.mu.Lock()
		listed := c.listed
		c.mu.Unlock()
		if listed || c.reload(ctx) == nil {
			c.follow(ctx)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// reload reads every alert, page by page, and replaces the console's list.
func (c *console) reload(ctx context.Context) error {
	seen := map[vagt.DeviceID]bool{}
	var last int64 = -1
	err := pages(ctx, c.base, c.token, func(l alertPage) {
		if last < 0 {
			last = l.LastEventID
		}
		for _, a := range l.Alerts {
			seen[a.Device] = true
		}
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen, c.listed = seen, true
	c.last = max(c.last, last)
	return nil
}

func (c *console) follow(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/alerts/stream", nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	c.mu.Lock()
	req.Header.Set("Last-Event-ID", strconv.FormatInt(c.last, 10))
	c.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	c.mu.Lock()
	c.connects++
	c.mu.Unlock()
	readEvents(resp.Body, func(id int64, name string, data alerts.EventData) {
		if name == "reset" {
			c.mu.Lock()
			c.resets++
			c.last = id
			c.mu.Unlock()
			for c.reload(ctx) != nil && ctx.Err() == nil {
				time.Sleep(200 * time.Millisecond)
			}
		} else if id != 0 {
			c.mu.Lock()
			c.last = max(c.last, id)
			if data.Alert.Device != "" {
				c.seen[data.Alert.Device] = true
			}
			c.mu.Unlock()
		}
	})
}

// count is how many of the drill's alarms the console shows.
func (c *console) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for dev := range c.seen {
		if strings.HasPrefix(string(dev), "pendant-") {
			n++
		}
	}
	return n
}

func (c *console) has(dev vagt.DeviceID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[dev]
}

func (c *console) stats() (resets, connects int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resets, c.connects
}

func (c *console) state() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("console: %d alarms shown, last event %d, %d connections, %d resets", len(c.seen), c.last, c.connects, c.resets)
}

type alertPage struct {
	Alerts      []alerts.Alert `json:"alerts"`
	Next        int64          `json:"next"`
	LastEventID int64          `json:"last_event_id"`
}

// pages reads GET /api/v1/alerts page by page (every state).
func pages(ctx context.Context, base, token string, page func(alertPage)) error {
	before := int64(0)
	for {
		u := base + "/api/v1/alerts?limit=500"
		if before > 0 {
			u += "&before=" + strconv.FormatInt(before, 10)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("list alerts: %s: %s", resp.Status, body)
		}
		var l alertPage
		if err := json.Unmarshal(body, &l); err != nil {
			return err
		}
		page(l)
		if l.Next == 0 {
			return nil
		}
		before = l.Next
	}
}

// listAll counts the alerts of the drill's gateway per device (an alert the api raised by
// itself about the gateway, such as a technical one, is not the drill's).
func listAll(base, token string) (map[vagt.DeviceID]int, error) {
	out := map[vagt.DeviceID]int{}
	err := pages(context.Background(), base, token, func(l alertPage) {
		for _, a := range l.Alerts {
			if a.Gateway == drillGateway && a.Device != drillGateway {
				out[a.Device]++
			}
		}
	})
	return out, err
}
