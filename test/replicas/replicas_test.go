package replicas

import (
	"bufio"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/test/internal/chain"
	"github.com/vagt-dk/vagt/test/localstack"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

const patience = 90 * time.Second

// apiProc is one replica (`vagt api` or `vagt ingest`) as a process: Kill ends it with
// SIGKILL, start runs it again with the same client id (so the broker hands it its session
// back) and waits until it is ready.
type apiProc struct {
	*chain.Process
	metrics string // its /metrics address
	ready   func() bool
}

func (p *apiProc) start(t *testing.T) {
	t.Helper()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p.Name+" ready", p.ready)
}

// subscribed reads the replica's vagt_api_alarm_lane_subscribed gauge.
func (p *apiProc) subscribed() bool { return p.metric("vagt_api_alarm_lane_subscribed") >= 1 }

// metric sums a metric's samples on the replica's /metrics (-1 when it cannot be read).
func (p *apiProc) metric(name string) float64 {
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

func buildVagt(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "vagt")
	if msg, err := exec.Command("go", "build", "-o", bin, "../../cmd/vagt").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	return bin
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAPIReplicasOnClusterKill9 runs two `vagt api` replicas on one PostgreSQL, each with
// its own persistent session on a different node of the NATS cluster, subscribed directly
// (--group -, the default: NATS has no $share). Alarms are published on the third node;
// one replica is killed -9 while they arrive, and started again later under the same
// client id, so the cluster redelivers what it had in flight to it. Every alarm must be
// exactly one alert (the store drops the copies by gateway and seq), and the replica that
// stayed up must have received every alarm.
func TestAPIReplicasOnClusterKill9(t *testing.T) {
	cluster := stacktest.NATSCluster(t)
	pg := stacktest.Postgres(t, localstack.PostgresOptions{SynchronousCommit: true})

	dir := t.TempDir()
	bin := buildVagt(t, dir)
	replicas := make([]*apiProc, 2)
	for i := range replicas {
		ports := make([]int, 2)
		for j := range ports {
			var err error
			if ports[j], err = localstack.FreePort(); err != nil {
				t.Fatal(err)
			}
		}
		p := &apiProc{Process: &chain.Process{Name: fmt.Sprintf("vagt-api-%d", i), Bin: bin, Log: filepath.Join(dir, fmt.Sprintf("api-%d.log", i))},
			metrics: "127.0.0.1:" + strconv.Itoa(ports[1])}
		p.Args = []string{"api", "--listen", "127.0.0.1:" + strconv.Itoa(ports[0]), "--metrics-listen", p.metrics,
			"--db", pg.DSN(), "--broker", cluster.Node(i).URL(), "--client-id", p.Name, "--tick", "100ms", "--log-level", "warn"}
		p.ready = func() bool {
			resp, err := http.Get("http://" + p.metrics + "/metrics")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK && p.subscribed()
		}
		replicas[i] = p
		// One at a time: the first migrates the schema.
		p.start(t)
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

	db, err := sql.Open("pgx", pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	receipts := func() int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM alarm_receipts WHERE gateway_id LIKE 'gw-r-%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(cluster.Node(2).URL()).SetClientID("gw-replicas-test").
		SetAutoReconnect(true).SetConnectRetry(true))
	if tok := pub.Connect(); !tok.WaitTimeout(patience) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { pub.Disconnect(100) })
	n := 0
	send := func() {
		t.Helper()
		n++
		gw := vagt.GatewayID(fmt.Sprintf("gw-r-%03d", n))
		b, err := vagt.EncodeAlarm(&vagt.Alarm{Gateway: gw, Seq: 1, Municipality: 766, Time: time.Now().UTC().Truncate(time.Millisecond),
			Device: "bu-1:btn", Type: vagt.AlarmPanic, Priority: vagt.AlarmPanic.Priority()})
		if err != nil {
			t.Fatal(err)
		}
		tok := pub.Publish(vagt.Topic(gw, vagt.LaneAlarm), 1, false, b)
		if !tok.WaitTimeout(patience) || tok.Error() != nil {
			t.Fatalf("alarm of %s not acknowledged: %v", gw, tok.Error())
		}
	}

	const phase = 20
	for range phase {
		send()
	}
	waitFor(t, "the first alarms stored", func() bool { return receipts() == phase })

	// Killed -9 in the middle of a burst: what it had taken but not acknowledged is the
	// cluster's to send again; the other replica takes every alarm anyway.
	for i := range phase {
		if i == phase/4 {
			if err := replicas[0].Kill(); err != nil {
				t.Fatal(err)
			}
		}
		send()
	}
	waitFor(t, "every alarm stored with one replica down", func() bool { return receipts() == 2*phase })

	replicas[0].start(t) // its session back, with whatever the cluster redelivers
	for range phase {
		send()
	}
	waitFor(t, "every alarm stored", func() bool { return receipts() == 3*phase })
	// Both replicas take every alarm after the restart: wait until the restarted one has
	// seen the last phase too, so a copy it stores late would be counted below.
	waitFor(t, "the restarted replica to take the last alarms", func() bool {
		return replicas[0].metric("vagt_api_lane_received_total") >= phase
	})
	if got := replicas[1].metric("vagt_api_lane_received_total"); got < 3*phase {
		t.Errorf("the replica that stayed up received %v alarms, want every one of %d", got, 3*phase)
	}
	time.Sleep(2 * time.Second) // a late copy would be a second alert

	rows, err := db.Query(`SELECT gateway_id, count(*) FROM alerts WHERE gateway_id LIKE 'gw-r-%' GROUP BY gateway_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	gateways := 0
	for rows.Next() {
		var gw string
		var c int
		if err := rows.Scan(&gw, &c); err != nil {
			t.Fatal(err)
		}
		gateways++
		if c != 1 {
			t.Errorf("%s: %d alerts, want exactly 1", gw, c)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if gateways != 3*phase {
		t.Errorf("%d gateways with an alert, want %d", gateways, 3*phase)
	}
	t.Logf("received: replica 0 (killed, restarted) %v since its restart, replica 1 %v",
		replicas[0].metric("vagt_api_lane_received_total"), replicas[1].metric("vagt_api_lane_received_total"))
}
