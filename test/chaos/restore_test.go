package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/internal/chain"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// TestRestoreDrill rehearses docs/operations.md "Backup and restore" with the real
// processes, once on SQLite and once on PostgreSQL: alarms flow the whole time, each from a
// device of its own (so none folds into another's alert); the store is backed up online
// (sqlite3 .backup; pg_dump -Fc); more alarms are committed and acknowledged to the broker;
// the api is stopped, the backup restored (copy back; pg_restore --clean), the alarm history
// replayed from InfluxDB (vagt alarms replay) and the api started. A console stream stays
// open throughout, reconnecting with its Last-Event-ID. At the end every alarm published is
// exactly one alert, and the console's reloaded list and events hold them all.
//
// It restarts the platform twice and takes a few minutes, so `make test` leaves it out:
// `make restore-drill` runs it (VAGT_RESTORE_DRILL=1). Its parts have their own tests in
// `make test`: stats.TestAlarmHistory, sqlstore.TestReplayAlarm and TestSkipEventIDs,
// httpapi.TestStreamLastEventIDNotInLog, cmd/vagt TestAlarmsReplay.
func TestRestoreDrill(t *testing.T) {
	if os.Getenv("VAGT_RESTORE_DRILL") == "" {
		t.Skip("the restore drill runs in `make restore-drill` (VAGT_RESTORE_DRILL=1)")
	}
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Fatal("sqlite3 is not installed (make tools)")
	}
	bins := chain.Build(t)
	for _, kind := range []string{"sqlite", "postgres"} {
		if only := os.Getenv("VAGT_RESTORE_DRILL_STORE"); only != "" && only != kind {
			continue
		}
		t.Run(kind, func(t *testing.T) { restoreDrill(t, bins, kind) })
	}
}

// drillPace is how often the drill's gateway publishes an alarm; drillBatch is how many
// alarms each phase waits for.
const (
	drillPace  = 100 * time.Millisecond
	drillBatch = 20
)

func restoreDrill(t *testing.T, bins chain.Binaries, kind string) {
	dir := t.TempDir()
	broker := stacktest.Mosquitto(t, localstack.MosquittoOptions{Persistence: true})
	influx := stacktest.SharedInfluxDB(t)
	var st drillStore
	if kind == "sqlite" {
		st = &sqliteStore{path: filepath.Join(dir, "vagt.db")}
	} else {
		st = newPostgresStore(t, stacktest.SharedPostgres(t))
	}
	ports := make([]int, 2)
	for i := range ports {
		var err error
		if ports[i], err = localstack.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	apiURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	ingest := &chain.Process{Name: "ingest", Bin: bins.Vagt, Log: filepath.Join(dir, "ingest.log"), Args: []string{"ingest",
		"--broker", broker.URL(), "--client-id", "drill-ingest",
		"--influx-url", influx.URL, "--influx-bucket", influx.Bucket, "--influx-token", influx.Token,
		"--http", "127.0.0.1:" + strconv.Itoa(ports[0]), "--linger", "50ms", "--log-level", "warn"}}
	api := &chain.Process{Name: "api", Bin: bins.Vagt, Log: filepath.Join(dir, "api.log"), Args: []string{"api",
		"--listen", "127.0.0.1:" + strconv.Itoa(ports[1]), "--db", st.dsn(), "--broker", broker.URL(), "--client-id", "drill-api",
		"--tick", "100ms", "--log-level", "warn"}}
	for _, p := range []*chain.Process{ingest, api} {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if err := api.Stop(); err != nil {
			t.Errorf("stopping the api: %v", err)
		}
		if err := ingest.Stop(); err != nil {
			t.Errorf("stopping ingest: %v", err)
		}
		api.CheckRaces(t)
		ingest.CheckRaces(t)
		if t.Failed() {
			for _, name := range []string{"ingest.log", "api.log"} {
				t.Logf("%s:\n%s", name, chain.Tail(filepath.Join(dir, name), 40))
			}
		}
	})
	waitUntil(t, "the api to answer", func() bool { return ready(apiURL + "/readyz") }, nil)
	waitUntil(t, "ingest to answer", func() bool { return ready("http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/readyz") }, nil)
	out, err := exec.Command(bins.Vagt, "token", "create", "--db", st.dsn(), "--name", "drill",
		"--role", "staff", "--municipality", strconv.Itoa(municipality)).Output()
	if err != nil {
		t.Fatalf("vagt token create: %v", err)
	}
	token := strings.TrimSpace(string(out))

	// The console: it lists, then follows the stream from the list's last event id.
	con := &console{base: apiURL, token: token, seen: map[vagt.DeviceID]bool{}}
	conCtx, stopConsole := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stopConsole(); wg.Wait() }()
	wg.Go(func() { con.run(conCtx) })

	// The gateway: one alarm every drillPace, each from a device of its own.
	gw := newDrillGateway(t, broker.URL())
	pubCtx, stopPublishing := context.WithCancel(context.Background())
	var pubWG sync.WaitGroup
	defer func() { stopPublishing(); pubWG.Wait() }()
	pubWG.Go(func() { gw.run(pubCtx) })

	count := &drillCounts{}
	// 1. Alarms flow and are committed.
	waitUntil(t, "the first alarms to reach the console", func() bool { return con.count() >= drillBatch }, con.state)
	// 2. The online backup, while alarms flow.
	backupAt := time.Now()
	if err := st.backup(t, dir); err != nil {
		t.Fatal(err)
	}
	count.atBackup = gw.published()
	// 3. More alarms are committed (and acknowledged to the broker) after the backup.
	target := con.count() + drillBatch
	waitUntil(t, "alarms after the backup", func() bool { return con.count() >= target }, con.state)
	// 4. Stop the api; alarms go on arriving at the broker for its session.
	if err := api.Stop(); err != nil {
		t.Fatal(err)
	}
	count.atStop = gw.published()
	time.Sleep(20 * drillPace) // alarms published while the api is down
	// 5. Restore.
	if err := st.restore(t, dir); err != nil {
		t.Fatal(err)
	}
	// 6. Replay the history since the backup (less a margin for the alarms' own clocks),
	// once ingest has written everything the api acknowledged.
	var points int
	waitUntil(t, "ingest to write every alarm the api committed", func() bool {
		points, err = alarmPoints(influx)
		return err == nil && points >= count.atStop
	}, func() string {
		return fmt.Sprintf("%d alarms in InfluxDB, %d published before the stop (%v)", points, count.atStop, err)
	})
	rep := replay(t, bins, st, influx, backupAt.Add(-time.Minute))
	count.replay = rep
	// 7. Start the api; the console reconnects and gets a reset.
	count.atStart = gw.published()
	if err := api.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the api to answer after the restore", func() bool { return ready(apiURL + "/readyz") }, nil)
	time.Sleep(20 * drillPace) // alarms after the restart
	stopPublishing()
	pubWG.Wait()
	count.published = gw.published()
	// 8. Check: every alarm published is exactly one alert, and the console has them all.
	// settled, not waitUntil: what is missing stays missing, and the counts below say what.
	var byDevice map[vagt.DeviceID]int
	settled(t, "every alarm to be an alert", func() (bool, string) {
		byDevice, err = listAll(apiURL, token)
		return err == nil && len(byDevice) >= count.published, fmt.Sprintf("%d alerts of %d alarms (%v)", len(byDevice), count.published, err)
	})
	settled(t, "the console to hold every alarm", func() (bool, string) { return con.count() >= count.published, con.state() })

	var missing, duplicated, unknown []string
	for i := 1; i <= count.published; i++ {
		dev := drillDevice(i)
		switch n := byDevice[dev]; {
		case n == 0:
			missing = append(missing, string(dev))
		case n > 1:
			duplicated = append(duplicated, fmt.Sprintf("%s×%d", dev, n))
		}
		if !con.has(dev) {
			t.Errorf("the console does not show %s", dev)
		}
	}
	for dev := range byDevice {
		if n, err := strconv.Atoi(strings.TrimPrefix(string(dev), "pendant-")); err != nil || n < 1 || n > count.published {
			unknown = append(unknown, string(dev))
		}
	}
	resets, connects := con.stats()
	t.Logf("restore drill (%s): %d alarms published (%d before the backup, %d more before the api stopped, %d while it was down, %d after); "+
		"replay: %d in the history window, %d filed, %d already there, %d ignored; %d alerts; console: %d connections, %d resets, %d alarms shown; "+
		"missing %d, duplicated %d, unknown %d",
		kind, count.published, count.atBackup, count.atStop-count.atBackup, count.atStart-count.atStop, count.published-count.atStart,
		rep.History, rep.Filed, rep.AlreadyThere, rep.Ignored, len(byDevice), connects, resets, con.count(),
		len(missing), len(duplicated), len(unknown))
	if len(missing) > 0 || len(duplicated) > 0 || len(unknown) > 0 {
		t.Errorf("alerts: missing %v, duplicated %v, unknown %v", missing, duplicated, unknown)
	}
	if resets == 0 {
		t.Error("the console never got a reset after the restore")
	}
	if rep.Filed == 0 {
		t.Error("the replay filed nothing: the drill did not exercise the gap it is for")
	}
}
