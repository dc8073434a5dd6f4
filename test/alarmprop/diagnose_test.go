package alarmprop

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// raisesLogged reads the gateway's log for the raises its rules logged ("alarm raised",
// gateway/rules), by device: the seqs the spool gave them.
func raisesLogged(path string) map[string][]uint64 {
	out := map[string][]uint64{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"alarm raised"`) {
			continue
		}
		var e struct {
			Device string `json:"device"`
			Seq    uint64 `json:"seq"`
		}
		if json.Unmarshal(line, &e) == nil && e.Device != "" {
			out[e.Device] = append(out[e.Device], e.Seq)
		}
	}
	return out
}

// diagnose says, for an alarm with no alert, where the gateway's log and the api's
// receipts lost it. It is a hint for the person reading a failure, not part of the check.
func diagnose(ctx context.Context, a *api, raises map[string][]uint64, dev string) string {
	seqs := raises[dev]
	if len(seqs) == 0 {
		return "the gateway never raised it (refused or lost before the spool)"
	}
	dsn := a.dsn
	if a.driver == "sqlite" {
		dsn = "file:" + dsn + "?mode=ro&_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(a.driver, dsn)
	if err != nil {
		return err.Error()
	}
	defer db.Close()
	q := `SELECT COALESCE(a.device_id, '') FROM alarm_receipts r LEFT JOIN alerts a ON a.id = r.alert_id WHERE r.gateway_id = '` +
		string(gatewayID) + `' AND r.seq = %d`
	var parts []string
	for _, seq := range seqs {
		var other string
		switch err := db.QueryRowContext(ctx, fmt.Sprintf(q, seq)).Scan(&other); {
		case err == sql.ErrNoRows:
			parts = append(parts, fmt.Sprintf("spooled as seq %d, which the api never received", seq))
		case err != nil:
			parts = append(parts, err.Error())
		case other != dev:
			parts = append(parts, fmt.Sprintf("spooled as seq %d, which the api had already taken for %q: a reused seq", seq, other))
		default:
			parts = append(parts, fmt.Sprintf("seq %d received", seq))
		}
	}
	return strings.Join(parts, "; ")
}

// cause sums a diagnosis up in a few words.
func cause(diagnosis string) string {
	switch {
	case strings.HasPrefix(diagnosis, "the gateway never raised it"):
		return "never raised by the gateway"
	case strings.Contains(diagnosis, "a reused seq"):
		return "taken by the api under a reused seq"
	case strings.Contains(diagnosis, "never received"):
		return "spooled, never received by the api"
	}
	return "other"
}
