package alarmprop

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	bolt "go.etcd.io/bbolt"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/vagt-dk/vagt"
)

// deliveries is what the home broker's log says about the Zigbee messages: per topic,
// how many the emulated Zigbee2MQTT published, and how many the broker sent to the
// gateway and got the gateway's PUBACK for; unacked counts the messages sent to the
// gateway and not (yet) acknowledged.
type deliveries struct {
	published, acked map[string]int
	unacked          int
}

var (
	sentRe = regexp.MustCompile(`Sending PUBLISH to (\S+) \(d\d, q\d, r\d, m(\d+), '([^']*)'`)
	ackRe  = regexp.MustCompile(`Received PUBACK from (\S+) \(Mid: ?(\d+)`)
	pubRe  = regexp.MustCompile(`Received PUBLISH from (\S+) \(d\d, q\d, r\d, m\d+, '([^']*)'`)
)

// homeDeliveries reads the home broker's log (log_type debug). QoS 1 to one session is
// delivered in order and a message not acknowledged is sent again (d1) with its message
// id after a reconnect, so matching PUBACKs to PUBLISHes by id per topic counts each
// message the gateway acknowledged once.
func homeDeliveries(path string) (deliveries, error) {
	d := deliveries{published: map[string]int{}, acked: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		return d, err
	}
	defer f.Close()
	inflight := map[string]string{} // message id → topic
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := sentRe.FindStringSubmatch(line); m != nil && m[1] == zigbeeClient {
			inflight[m[2]] = m[3]
		} else if m := ackRe.FindStringSubmatch(line); m != nil && m[1] == zigbeeClient {
			if topic, ok := inflight[m[2]]; ok {
				d.acked[topic]++
				delete(inflight, m[2])
			}
		} else if m := pubRe.FindStringSubmatch(line); m != nil && strings.HasPrefix(m[1], "z2m-sim-") {
			d.published[m[2]]++
		}
	}
	d.unacked = len(inflight)
	return d, sc.Err()
}

// pending is how many messages published since base the gateway has not acknowledged
// yet (base: when the gateway had subscribed; what was published before went to nobody).
func (d deliveries) pending(base deliveries) int {
	n := d.unacked
	for topic, p := range d.published {
		n += max(0, (p-base.published[topic])-(d.acked[topic]-base.acked[topic]))
	}
	return n
}

// spoolAlarms returns the alarm events a stopped gateway's spool still holds (bucket
// "alarms", gateway/spool): when the test deletes the file, they are lost with it, as with
// an SD card that died before the uplink took them. The test excuses exactly those.
func spoolAlarms(path string) ([]vagt.Alarm, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var out []vagt.Alarm
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("alarms"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			a, err := vagt.DecodeAlarm(v)
			if err != nil {
				return fmt.Errorf("spool alarm: %w", err)
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}

// alertRow is an alert as the api stored it.
type alertRow struct {
	gateway, device string
	typ             vagt.AlarmType
	count           int
}

// apiState is what one api's database holds.
type apiState struct {
	alerts   []alertRow
	receipts int             // alarm events taken (raises and clears), redeliveries not counted
	seqs     map[uint64]bool // the event seqs of the gateway it has receipts for
}

func (a *api) read(ctx context.Context) (apiState, error) {
	var st apiState
	dsn := a.dsn
	if a.driver == "sqlite" {
		dsn = "file:" + dsn + "?mode=ro&_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(a.driver, dsn)
	if err != nil {
		return st, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT gateway_id, device_id, type, count FROM alerts`)
	if err != nil {
		return st, fmt.Errorf("%s: %w", a.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r alertRow
		var typ int
		if err := rows.Scan(&r.gateway, &r.device, &typ, &r.count); err != nil {
			return st, err
		}
		r.typ = vagt.AlarmType(typ)
		st.alerts = append(st.alerts, r)
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM alarm_receipts`).Scan(&st.receipts); err != nil {
		return st, err
	}
	st.seqs = map[uint64]bool{}
	seqs, err := db.QueryContext(ctx, `SELECT seq FROM alarm_receipts WHERE gateway_id = '`+string(gatewayID)+`'`)
	if err != nil {
		return st, err
	}
	defer seqs.Close()
	for seqs.Next() {
		var seq int64
		if err := seqs.Scan(&seq); err != nil {
			return st, err
		}
		st.seqs[uint64(seq)] = true
	}
	return st, seqs.Err()
}

// verdict is the check of one api's alerts against the model.
type verdict struct {
	api                       string
	alerts, offline, receipts int
	folded                    int // repeats folded into the alarms' alerts (count - 1)
	one                       int // alarms with exactly one alert
	lost                      int // alarms with no alert whose raise was in a deleted spool
	missing, doubled, extra   []string
	wrongType                 []string
}

func (v *verdict) failed() bool {
	return len(v.missing)+len(v.doubled)+len(v.extra)+len(v.wrongType) > 0
}

// judge holds st against the property: every delivered alarm is exactly one alert of its
// type; nothing else is an alert, but the platform's own gateway-offline alerts about
// the gateway.
func judge(name string, st apiState, alarms []*alarm, spoolLost map[vagt.DeviceID]int) verdict {
	v := verdict{api: name, receipts: st.receipts}
	byDev := map[string][]alertRow{}
	for _, r := range st.alerts {
		if r.typ == vagt.AlarmGatewayOffline && r.device == r.gateway {
			v.offline++
			if r.gateway != string(gatewayID) {
				v.extra = append(v.extra, fmt.Sprintf("gateway offline of %s", r.gateway))
			}
			continue
		}
		v.alerts++
		byDev[r.device] = append(byDev[r.device], r)
	}
	for _, a := range alarms {
		rs := byDev[string(a.dev)]
		delete(byDev, string(a.dev))
		switch {
		case !a.delivered && len(rs) == 0:
		case !a.delivered:
			v.extra = append(v.extra, fmt.Sprintf("%s (%s, never acknowledged)", a.dev, a.typ))
		case len(rs) == 0 && spoolLost[a.dev] > 0:
			v.lost++
		case len(rs) == 0:
			v.missing = append(v.missing, fmt.Sprintf("%s (%s)", a.dev, a.typ))
		case len(rs) > 1:
			v.doubled = append(v.doubled, fmt.Sprintf("%s ×%d", a.dev, len(rs)))
		case rs[0].typ != a.typ:
			v.wrongType = append(v.wrongType, fmt.Sprintf("%s: %s, want %s", a.dev, rs[0].typ, a.typ))
		default:
			v.one++
			v.folded += rs[0].count - 1
		}
	}
	for dev, rs := range byDev {
		for _, r := range rs {
			v.extra = append(v.extra, fmt.Sprintf("%s (%s, raised by nothing)", dev, r.typ))
		}
	}
	return v
}

// table prints the counts.
func table(alarms []*alarm, ghosts int, vs []verdict) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	var n, del [2]int
	for _, a := range alarms {
		n[a.src]++
		if a.delivered {
			del[a.src]++
		}
	}
	fmt.Fprintf(tw, "alarms (devices)\tserial\tzigbee\tall\t\n")
	fmt.Fprintf(tw, "raised\t%d\t%d\t%d\t\n", n[0], n[1], n[0]+n[1])
	fmt.Fprintf(tw, "acknowledged (K / gateway's PUBACK)\t%d\t%d\t%d\t\n", del[0], del[1], del[0]+del[1])
	fmt.Fprintf(tw, "ghosts (torn, corrupted, garbage)\t\t\t%d\t\n", ghosts)
	tw.Flush()
	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "api\talerts\texactly one\tmissing\tmore than one\twrong type\tnot raised\tlost with a spool\treceipts\trepeats folded\tgateway offline\t\n")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", v.api, v.alerts, v.one, len(v.missing), len(v.doubled),
			len(v.wrongType), len(v.extra), v.lost, v.receipts, v.folded, v.offline)
	}
	tw.Flush()
	return b.String()
}
