package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/fhir"
)

var _ fhir.Store = (*Store)(nil)

// resolvedEvent matches the data of an alert's "resolved" event: EventData marshals its
// change first (TestVisitsOnePerResolve holds this).
const resolvedEvent = `{"change":"resolved",%`

// Visits returns the municipality's visits whose resolve event comes after the event id
// after (and, unless since is zero, at or after since), in event order: alerts that staff
// resolved (not the platform), not test alarms, of a home with a citizen who was not
// erased, not anonymised. The event log is the order because its ids become visible in id
// order on both databases (appendEvent), so a page read twice is the same page.
func (s *Store) Visits(ctx context.Context, m vagt.MunicipalityCode, after int64, since time.Time, limit int) ([]fhir.Visit, error) {
	var sinceMs int64
	if !since.IsZero() {
		sinceMs = ms(since)
	}
	var out []fhir.Visit
	err := s.each(ctx, `SELECT e.id, a.id, a.municipality, h.citizen_id, a.type, a.raised_at, a.acked_at, COALESCE(a.acked_by, ''),
			COALESCE(a.assignee, ''), a.arrived_at, a.resolved_at, a.resolved_by, a.outcome
		FROM events e
		JOIN alerts a ON a.id = e.alert_id
		JOIN homes h ON h.id = a.home_id
		JOIN citizens c ON c.id = h.citizen_id
		WHERE e.id > ? AND e.municipality = ? AND e.kind = 'updated' AND e.data LIKE '`+resolvedEvent+`' AND e.at >= ?
			AND a.state = 'resolved' AND a.test = 0 AND a.anonymised_at IS NULL
			AND a.resolved_by IS NOT NULL AND a.resolved_by <> '' AND a.resolved_by <> ?
			AND a.outcome IS NOT NULL AND c.erased_at IS NULL
		ORDER BY e.id LIMIT ?`, []any{after, int(m), sinceMs, api.System, limit}, func(r *sql.Rows) error {
		var (
			v        fhir.Visit
			mun, typ int
			raised   int64
			acked    sql.NullInt64
			arrived  sql.NullInt64
			resolved int64
			outcome  string
		)
		if err := r.Scan(&v.Event, &v.Alert, &mun, &v.Citizen, &typ, &raised, &acked, &v.AckedBy, &v.Assignee, &arrived, &resolved, &v.ResolvedBy, &outcome); err != nil {
			return err
		}
		v.Municipality, v.Type, v.Outcome = vagt.MunicipalityCode(mun), vagt.AlarmType(typ), alerts.Outcome(outcome)
		v.RaisedAt, v.AckedAt, v.ArrivedAt, v.ResolvedAt = fromMs(raised), nullMs(acked), nullMs(arrived), fromMs(resolved)
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, storeErr("visits", err)
	}
	return out, nil
}

// AuditVisitsRead records that actor read the visits, in one transaction: one entry per
// citizen (object citizen/<id>, so the citizen's own audit view finds it), naming the
// alerts.
func (s *Store) AuditVisitsRead(ctx context.Context, actor, action string, vs []fhir.Visit, now time.Time) error {
	var order []int64
	byCitizen := map[int64][]string{}
	for _, v := range vs {
		if _, ok := byCitizen[v.Citizen]; !ok {
			order = append(order, v.Citizen)
		}
		byCitizen[v.Citizen] = append(byCitizen[v.Citizen], "alert/"+strconv.FormatInt(v.Alert, 10))
	}
	err := s.inTx(ctx, func(t *tx) error {
		for _, c := range order {
			if err := t.audit(ctx, now, actor, action, citizenObject(c), fmt.Sprintf("visits %s", strings.Join(byCitizen[c], ","))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return storeErr("audit visits", err)
	}
	return nil
}
