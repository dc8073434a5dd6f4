package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vagt-dk/vagt/api/influx"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

func init() {
	commands["alarms"] = subcmd.Group("vagt alarms",
		"after restoring the SQL store, with the api stopped: alarms replay --db FILE|URL --influx-url URL --since 2026-03-01T02:00:00Z",
		subcmd.Set{"replay": {Summary: "file the alarms of InfluxDB's history that the restored store lost", Run: runAlarmsReplay}})
}

// replayReport is what a replay did, printed as JSON.
type replayReport struct {
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	History      int       `json:"history"`       // alarms in the history window
	Filed        int       `json:"filed"`         // the store had lost them: filed now
	AlreadyThere int       `json:"already_there"` // the store has a receipt for the seq
	Ignored      int       `json:"ignored"`       // clears of alerts already resolved, raises into absence or test mode
	NextEventID  int64     `json:"next_event_id"` // the first event id after the gap
}

// runAlarmsReplay is `vagt alarms replay`: a separate command rather than a flag of vagt api,
// because it belongs to the restore and runs once, between restoring the store and
// starting the api (so the history, which is older, goes in before what the broker kept
// for the api, and no console is connected to a store still being repaired); it prints
// what it did and exits non-zero when InfluxDB does not answer, so the operator knows
// before the api starts; and a flag left in a unit file would replay at every start.
func runAlarmsReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vagt alarms replay", flag.ContinueOnError)
	db := fs.String("db", "var/vagt.db", "the restored SQLite file, or postgres:// URL (as for vagt api); the api must be stopped")
	var influxCfg influx.Config
	fs.StringVar(&influxCfg.URL, "influx-url", "", "InfluxDB that ingest writes the alarm history to (required)")
	fs.StringVar(&influxCfg.Org, "influx-org", "vagt", "InfluxDB 2.x organisation (ignored by 1.8)")
	fs.StringVar(&influxCfg.Bucket, "influx-bucket", "vagt/autogen", "InfluxDB bucket; on 1.8 database/retention-policy")
	fs.StringVar(&influxCfg.Token, "influx-token", "", "InfluxDB token; on 1.8 user:password")
	fs.DurationVar(&influxCfg.Timeout, "influx-timeout", 5*time.Minute, "how long the history query may take")
	since := fs.String("since", "", "replay alarms stamped at or after this RFC 3339 time, or this long before now (e.g. 26h): the backup's time less the longest a gateway may hold an alarm (required)")
	until := fs.String("until", "", "replay alarms stamped before this RFC 3339 time (empty: now plus a minute, for gateway clocks a little ahead)")
	gap := fs.Int64("event-id-gap", 10_000_000, "move the event log's ids this far past the newest first, so open consoles reload (more than the events written between the backup and the restore; 0: leave the ids)")
	logLevel := fs.String("log-level", "info", "debug (every alarm filed), info, warn or error")
	if err := subcmd.Parse(fs, args, getenv, stdout); err != nil {
		return err
	}
	log, err := subcmd.Logger(*logLevel, stderr)
	if err != nil {
		return err
	}
	log = log.With("component", "replay")
	now := time.Now().UTC()
	rep := replayReport{To: now.Add(time.Minute)}
	if rep.From, err = parseSince(*since, now); err != nil {
		return err
	}
	if *until != "" {
		if rep.To, err = time.Parse(time.RFC3339Nano, *until); err != nil {
			return fmt.Errorf("alarms replay: --until: %w", err)
		}
	}
	if influxCfg.URL == "" {
		return fmt.Errorf("alarms replay: --influx-url is required (the alarm history is in InfluxDB)")
	}
	tel, err := influx.NewTelemetry(influxCfg)
	if err != nil {
		return err
	}
	defer tel.Close()
	// The history first: if InfluxDB does not answer, the store is left as restored.
	history, err := tel.AlarmHistory(ctx, rep.From, rep.To)
	if err != nil {
		return fmt.Errorf("alarms replay: %w", err)
	}
	rep.History = len(history)
	store, err := sqlstore.Open(ctx, *db, sqlstore.Options{Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	if *gap > 0 {
		// Before the replay: its events must lie above every id a console saw.
		if rep.NextEventID, err = store.SkipEventIDs(ctx, *gap); err != nil {
			return fmt.Errorf("alarms replay: %w", err)
		}
	}
	for i := range history {
		a := &history[i]
		r, err := store.ReplayAlarm(ctx, a, time.Now())
		if err != nil {
			return fmt.Errorf("alarms replay: %s seq %d (after %d filed): %w", a.Gateway, a.Seq, rep.Filed, err)
		}
		switch r.Change {
		case sqlstore.ChangeDuplicate:
			rep.AlreadyThere++
		case sqlstore.ChangeIgnored, sqlstore.ChangeSuppressed, "":
			rep.Ignored++
		default:
			rep.Filed++
			log.Debug("filed", "gateway", a.Gateway, "seq", a.Seq, "device", a.Device, "type", a.Type, "change", r.Change, "alert", r.Alert.ID)
		}
	}
	log.Info("alarm history replayed", "from", rep.From, "to", rep.To, "history", rep.History, "filed", rep.Filed, "already_there", rep.AlreadyThere, "ignored", rep.Ignored)
	return json.NewEncoder(stdout).Encode(rep)
}

// parseSince takes an RFC 3339 time or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("alarms replay: --since is required: the backup's time, less the longest a gateway may hold an alarm")
	}
	if d, err := time.ParseDuration(s); err == nil && !strings.HasPrefix(s, "-") {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("alarms replay: --since %q: neither an RFC 3339 time nor a duration", s)
	}
	return t, nil
}
