package influx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// MaxAlarmHistory caps one read of the alarm history: a replay window wider than this
// many alarms is refused (ErrHistoryTooLarge) rather than read in part, so a replay never
// silently stops halfway; the operator narrows the window or replays it in pieces.
const MaxAlarmHistory = 500_000

// ErrHistoryTooLarge: the window holds more alarms than MaxAlarmHistory.
var ErrHistoryTooLarge = fmt.Errorf("%w: alarm history window holds more than %d alarms", api.ErrInvalid, MaxAlarmHistory)

// AlarmHistory returns the alarms ingest recorded with alarm times in [from, to), oldest
// first (ties by gateway and seq), rebuilt from measurement alarm (tags dev gw mun
// priority type, fields seq and clears). The history keeps no details, so the alarms
// have none. After a restore of the SQL store they are what sqlstore.Store.ReplayAlarm
// files again (docs/operations.md, "Backup and restore"). A point that does not parse
// (an unknown type or priority name, a missing seq) is an error: the history is ingest's
// own output, so it means the reader and ingest disagree, and a replay must not skip an
// alarm quietly.
func (t *Telemetry) AlarmHistory(ctx context.Context, from, to time.Time) ([]vagt.Alarm, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("%w: unbounded alarm history query", api.ErrInvalid)
	}
	q := fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == "alarm" and (r._field == "seq" or r._field == "clears"))
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> sort(columns: ["_time", "gw", "seq"])
  |> limit(n: %d)`, t.c.Bucket, fluxTime(from), fluxStop(to), MaxAlarmHistory+1)
	res, err := t.queryAPI().Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrNoTelemetry, err)
	}
	defer res.Close()
	out := []vagt.Alarm{}
	for res.Next() {
		if len(out) == MaxAlarmHistory {
			return nil, ErrHistoryTooLarge
		}
		at := res.Record().Time().UTC()
		a, err := historyAlarm(res.Record().Values(), at)
		if err != nil {
			return nil, fmt.Errorf("alarm history at %s: %w", at.Format(time.RFC3339Nano), err)
		}
		out = append(out, a)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrNoTelemetry, err)
	}
	return out, nil
}

// historyAlarm rebuilds one alarm from a pivoted row.
func historyAlarm(v map[string]any, at time.Time) (vagt.Alarm, error) {
	str := func(k string) string { s, _ := v[k].(string); return s }
	a := vagt.Alarm{Time: at}
	a.Gateway, a.Device = vagt.GatewayID(str("gw")), vagt.DeviceID(str("dev"))
	mun, err := strconv.ParseUint(str("mun"), 10, 16)
	if err != nil {
		return a, fmt.Errorf("mun %q: %w", str("mun"), err)
	}
	a.Municipality = vagt.MunicipalityCode(mun)
	if a.Type, err = vagt.ParseAlarmType(str("type")); err != nil {
		return a, err
	}
	if a.Priority, err = vagt.ParsePriority(str("priority")); err != nil {
		return a, err
	}
	seq, ok := v["seq"].(int64)
	if !ok || seq <= 0 {
		return a, fmt.Errorf("seq %v", v["seq"])
	}
	a.Seq = uint64(seq)
	if c, ok := v["clears"].(int64); ok && c > 0 {
		a.Clears = uint64(c)
	}
	if err := a.Validate(); err != nil {
		return a, errors.Join(errors.New("not a valid alarm"), err)
	}
	return a, nil
}
