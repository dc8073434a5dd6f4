package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
)

// What an alarm event does to the alerts (docs/alerts.md, "Where the rules live"): a
// redelivery nothing, a raise a new alert or a repeat folded into the unresolved alert of
// its device and type, and a press on an acknowledged alert nobody has arrived at opens it
// again. The store (api/sqlstore) holds the idempotency key and writes the result with
// conditional updates; these functions decide.

// Digest is what tells a redelivery from different content under the same seq: the SHA-256
// of every field of the decoded alarm, written unambiguously (quoted strings, details in
// key order), so it depends neither on the encoder nor on the wire version; a redelivery is
// byte-identical anyway (docs/wire.md). It takes any alarm, valid or not.
func Digest(a *vagt.Alarm) (string, error) {
	h := sha256.New()
	_, err := fmt.Fprintf(h, "%q %d %d %d %q %d %d %d", string(a.Gateway), a.Seq, uint64(a.Municipality), a.Time.UnixMilli(),
		string(a.Device), uint64(a.Type), uint64(a.Priority), a.Clears)
	if err != nil {
		return "", err
	}
	for _, k := range slices.Sorted(maps.Keys(a.Details)) {
		if _, err := fmt.Fprintf(h, " %q=%q", k, a.Details[k]); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// replayMark starts the digest of a replayed event (ReplayDigest).
const replayMark = "replay:"

// ReplayDigest is the digest of an event rebuilt from the alarm history after a restore:
// of the fields the history surely holds as the gateway sent them (device, type, clears;
// not the details, which it lacks), so a later event under the seq with another device,
// type or clear is still told from the original's redelivery.
func ReplayDigest(a *vagt.Alarm) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %d %q %d %d", string(a.Gateway), a.Seq, string(a.Device), uint64(a.Type), a.Clears)
	return replayMark + hex.EncodeToString(h.Sum(nil))
}

// Redelivery reports whether event a, with digest (Digest or ReplayDigest), under a
// (gateway, seq) whose receipt holds seen, is that event again (nothing to do) rather than
// different content under a reused seq (an event of its own). A receipt from before
// digests were kept ("") cannot tell: a redelivery. A replayed event under a seq with a
// receipt is a redelivery. A replayed receipt is compared on what the replay knew.
func Redelivery(seen string, a *vagt.Alarm, digest string) bool {
	switch {
	case strings.HasPrefix(digest, replayMark), seen == "":
		return true
	case strings.HasPrefix(seen, replayMark):
		return seen == ReplayDigest(a)
	}
	return seen == digest
}

// ClockUnsynced is the details value of key "clock" a gateway sets when it cannot trust its
// own clock (docs/wire.md).
const ClockUnsynced = "unsynced"

// ReceivedTime returns the time an alert is dated and ordered by, and the details to keep:
// the gateway's time, unless the gateway said its clock cannot be trusted; then the time
// the platform received it, with the gateway's time kept in details as gateway_time.
func ReceivedTime(a *vagt.Alarm, now time.Time) (time.Time, map[string]string) {
	if a.Details["clock"] != ClockUnsynced {
		return a.Time, a.Details
	}
	d := make(map[string]string, len(a.Details)+1)
	for k, v := range a.Details {
		d[k] = v
	}
	d["gateway_time"] = a.Time.UTC().Format(time.RFC3339Nano)
	return now.Truncate(time.Millisecond), d
}

// PriorityOf is the priority of a new alert of type typ that the gateway asked for at
// asked (0: the type's own): the more urgent of the two, so a gateway may raise an alarm
// above its type's default, never below.
func PriorityOf(typ vagt.AlarmType, asked vagt.Priority) vagt.Priority {
	prio := typ.Priority()
	if asked != 0 && asked < prio {
		return asked
	}
	return prio
}

// Rearm decides whether a press (a person's alarm from the home) folded into the
// unresolved alert a opens it again, and the deadline its escalation clock restarts with
// (nil: none). It does while a is acknowledged and nobody has arrived: the press says help
// is still wanted. Once someone has arrived it folds (the staff are in the home), as do the
// platform's technical alerts (a gateway offline again). The clock restarts at a's tier;
// at the last tier, where the open clock has no step, an assignee who has not arrived gets
// one step (TakeDeadline), or a silent one would hold the alert for good.
func (p Policy) Rearm(a Alert, press bool, now time.Time) (*time.Time, bool) {
	if !press || a.State != StateAcknowledged || a.ArrivedAt != nil || a.Priority == vagt.PriorityTechnical {
		return nil, false
	}
	at, ok := p.NextEscalation(a.Priority, a.EscalationLevel, now)
	if !ok && a.Assignee != nil {
		at, ok = p.TakeDeadline(a.Priority, now)
	}
	if !ok {
		return nil, true
	}
	return &at, true
}
