package fhir_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/fhir"
	"github.com/vagt-dk/vagt/api/fhir/fhirtest"
)

var t0 = time.Date(2026, 11, 23, 3, 12, 0, 0, time.UTC)

// memStore is an in-process Store: the SQL stores are tested against it in
// api/sqlstore (TestVisits*), this one lets the page logic be tested alone.
type memStore struct {
	visits  []fhir.Visit
	last    int64
	audited []string // actor action citizen
	failAt  error
}

func (m *memStore) Visits(_ context.Context, mun vagt.MunicipalityCode, after int64, since time.Time, limit int) ([]fhir.Visit, error) {
	var out []fhir.Visit
	for _, v := range m.visits {
		if v.Municipality == mun && v.Event > after && !v.ResolvedAt.Before(since) && len(out) < limit {
			out = append(out, v)
		}
	}
	return out, nil
}

func (m *memStore) LastEventID(context.Context) (int64, error) { return m.last, nil }

func (m *memStore) AuditVisitsRead(_ context.Context, actor, action string, vs []fhir.Visit, _ time.Time) error {
	if m.failAt != nil {
		return m.failAt
	}
	for _, v := range vs {
		m.audited = append(m.audited, actor+" "+action+" "+string(rune('0'+v.Citizen)))
	}
	return nil
}

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

// world: Hedensted (766) with visits at events 3, 5, 9 and one of Horsens (615) at 7.
func world() *memStore {
	return &memStore{last: 12, visits: []fhir.Visit{
		{Event: 3, Alert: 1, Municipality: 766, Citizen: 1, Type: vagt.AlarmFall, RaisedAt: t0, AckedAt: at(time.Minute), AckedBy: "anna",
			ResolvedAt: t0.Add(20 * time.Minute), ResolvedBy: "anna", Outcome: alerts.OutcomeVisitedHelpGiven},
		{Event: 5, Alert: 2, Municipality: 766, Citizen: 2, Type: vagt.AlarmPanic, RaisedAt: t0.Add(time.Hour), AckedAt: at(61 * time.Minute), AckedBy: "oidc:bo@kommune.dk",
			ResolvedAt: t0.Add(90 * time.Minute), ResolvedBy: "anna", Outcome: alerts.OutcomeFalseAlarm},
		{Event: 7, Alert: 3, Municipality: 615, Citizen: 3, Type: vagt.AlarmPanic, RaisedAt: t0, AckedAt: at(time.Minute), AckedBy: "ole",
			ResolvedAt: t0.Add(10 * time.Minute), ResolvedBy: "ole", Outcome: alerts.OutcomeVisitedAllWell},
		{Event: 9, Alert: 4, Municipality: 766, Citizen: 1, Type: vagt.AlarmInactivity, RaisedAt: t0.Add(2 * time.Hour), AckedAt: at(121 * time.Minute), AckedBy: "anna",
			ResolvedAt: t0.Add(150 * time.Minute), ResolvedBy: "anna", Outcome: alerts.OutcomeAmbulanceOrDoctor},
	}}
}

func service(m *memStore) *fhir.Service {
	return fhir.NewService(fhir.Config{Store: m, Now: func() time.Time { return t0.Add(24 * time.Hour) }})
}

var staff766 = fhir.Caller{Actor: "care-record-766", Municipality: 766}

const base = "https://vagt.example/api/v1/fhir/Encounter"

func pull(t *testing.T, s *fhir.Service, c fhir.Caller, q fhir.Query) ([]byte, *fhir.Bundle) {
	t.Helper()
	q.Base = base
	b, err := s.Pull(t.Context(), c, q)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if p := fhirtest.Problems(doc); len(p) > 0 {
		t.Fatalf("page breaks FHIR rules:\n%s\n%s", strings.Join(p, "\n"), doc)
	}
	return doc, b
}

// generic decodes a document for assertions by path.
func generic(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func resourcesOf(t *testing.T, doc []byte, rt string) []map[string]any {
	t.Helper()
	var out []map[string]any
	es, _ := generic(t, doc)["entry"].([]any)
	for _, e := range es {
		r := e.(map[string]any)["resource"].(map[string]any)
		if r["resourceType"] == rt {
			out = append(out, r)
		}
	}
	return out
}

func TestPageIsTheVisits(t *testing.T) {
	m := world()
	doc, b := pull(t, service(m), staff766, fhir.Query{})
	encs := resourcesOf(t, doc, "Encounter")
	if len(encs) != 3 {
		t.Fatalf("want the 3 visits of 766, got %d: %s", len(encs), doc)
	}
	e := encs[1] // alert 2: acknowledged by bo, resolved by anna
	if e["id"] != "vagt-alert-2" || e["status"] != "finished" || e["class"].(map[string]any)["code"] != "HH" {
		t.Fatalf("encounter: %v", e)
	}
	per := e["period"].(map[string]any)
	if per["start"] != "2026-11-23T04:13:00Z" || per["end"] != "2026-11-23T04:42:00Z" {
		t.Fatalf("period is acknowledged → resolved, got %v", per)
	}
	if n := len(e["participant"].([]any)); n != 2 {
		t.Fatalf("resolver and acknowledger take part, got %d", n)
	}
	procs := resourcesOf(t, doc, "Procedure")
	codes := procs[1]["code"].(map[string]any)["coding"].([]any)
	if codes[0].(map[string]any)["code"] != fhir.CodeTilsynOmsorg || codes[1].(map[string]any)["code"] != "vagt-alarm-visit-false_alarm" ||
		codes[1].(map[string]any)["system"] != fhir.SystemLocallyDefinedInterventions {
		t.Fatalf("outcome as a locally defined intervention: %v", codes)
	}
	// Citizen 1 has two visits on the page, but is one Patient; anna is one Practitioner.
	if n := len(resourcesOf(t, doc, "Patient")); n != 2 {
		t.Fatalf("patients: %d", n)
	}
	if n := len(resourcesOf(t, doc, "Practitioner")); n != 2 {
		t.Fatalf("practitioners (anna, bo): %d", n)
	}
	if pat := resourcesOf(t, doc, "Patient")[0]; pat["managingOrganization"].(map[string]any)["identifier"].(map[string]any)["value"] != "0766" {
		t.Fatalf("managing organisation: %v", pat)
	}
	if len(m.audited) != 3 || m.audited[0] != "care-record-766 fhir.pull 1" {
		t.Fatalf("audit: %v", m.audited)
	}
	if b.Link[1].Relation != "next" || !strings.Contains(b.Link[1].URL, "cursor=") {
		t.Fatalf("links: %+v", b.Link)
	}
}

// A care record that pulls the same page twice gets the same bytes, and following next
// links never repeats a visit.
func TestSamePageTwiceNoDuplicates(t *testing.T) {
	s := service(world())
	first, b := pull(t, s, staff766, fhir.Query{Count: "2"})
	again, _ := pull(t, s, staff766, fhir.Query{Count: "2"})
	if !bytes.Equal(first, again) {
		t.Fatalf("same page, different result:\n%s\n%s", first, again)
	}
	seen := map[any]int{}
	q := fhir.Query{Count: "2"}
	for page := 0; ; page++ {
		doc, b := pull(t, s, staff766, q)
		encs := resourcesOf(t, doc, "Encounter")
		for _, e := range encs {
			seen[e["id"]]++
		}
		next := b.Link[len(b.Link)-1].URL
		cur := next[strings.Index(next, "cursor=")+len("cursor="):]
		cur, _, _ = strings.Cut(cur, "&")
		if len(encs) == 0 {
			// Up to date: the next link stays put.
			if q.Cursor != cur {
				t.Fatalf("an empty page moved the cursor: %q → %q", q.Cursor, cur)
			}
			break
		}
		q.Cursor = cur
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 3 {
		t.Fatalf("visits seen: %v", seen)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%v seen %d times", id, n)
		}
	}
	_ = b
}

func TestPullRefusals(t *testing.T) {
	s := service(world())
	other := fhir.Cursor{Municipality: 615, Event: 7}.String()
	future := fhir.Cursor{Municipality: 766, Event: 13}.String()
	for _, c := range []struct {
		name   string
		caller fhir.Caller
		q      fhir.Query
		want   error
	}{
		{"another municipality's cursor", staff766, fhir.Query{Cursor: other}, api.ErrForbidden},
		{"another municipality", staff766, fhir.Query{Municipality: "615"}, api.ErrForbidden},
		{"cursor from the future", staff766, fhir.Query{Cursor: future}, api.ErrInvalid},
		{"_since in the future", staff766, fhir.Query{Since: "2026-11-25T00:00:00Z"}, api.ErrInvalid},
		{"_since without a zone", staff766, fhir.Query{Since: "2026-11-20T00:00:00"}, api.ErrInvalid},
		{"forged cursor", staff766, fhir.Query{Cursor: "dmFndC1maGlyLTEvNzY2L3g"}, api.ErrInvalid},
		{"not base64", staff766, fhir.Query{Cursor: "!!"}, api.ErrInvalid},
		{"cursor and _since", staff766, fhir.Query{Cursor: fhir.Cursor{Municipality: 766, Event: 1}.String(), Since: "2026-11-20T00:00:00Z"}, api.ErrInvalid},
		{"_count 0", staff766, fhir.Query{Count: "0"}, api.ErrInvalid},
		{"_count 201", staff766, fhir.Query{Count: "201"}, api.ErrInvalid},
		{"admin without municipality", fhir.Caller{Actor: "root", All: true}, fhir.Query{}, api.ErrInvalid},
		{"unknown municipality", fhir.Caller{Actor: "root", All: true}, fhir.Query{Municipality: "999"}, api.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := world()
			_, err := fhir.NewService(fhir.Config{Store: m, Now: func() time.Time { return t0.Add(24 * time.Hour) }}).Pull(t.Context(), c.caller, c.q)
			if !errors.Is(err, c.want) {
				t.Fatalf("want %v, got %v", c.want, err)
			}
			if len(m.audited) != 0 {
				t.Fatalf("a refused pull audited reads: %v", m.audited)
			}
		})
	}
	_ = s
}

func TestAdminNamesTheMunicipality(t *testing.T) {
	doc, _ := pull(t, service(world()), fhir.Caller{Actor: "root", All: true}, fhir.Query{Municipality: "615"})
	if encs := resourcesOf(t, doc, "Encounter"); len(encs) != 1 || encs[0]["id"] != "vagt-alert-3" {
		t.Fatalf("615's visits: %s", doc)
	}
}

// Nothing is answered when the audit cannot be written.
func TestNoPageWithoutAudit(t *testing.T) {
	m := world()
	m.failAt = api.ErrUnavailable
	if _, err := service(m).Pull(t.Context(), staff766, fhir.Query{Base: base}); !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("want unavailable, got %v", err)
	}
}

// Presence (docs/alerts.md): a visit whose assignee said "arrived" starts then, and the
// assignee is its primary performer; who resolved it took part.
func TestArrivalStartsTheVisit(t *testing.T) {
	m := world()
	m.visits = m.visits[:1]
	m.visits[0].Assignee, m.visits[0].ArrivedAt = "bo", at(9*time.Minute)
	doc, _ := pull(t, service(m), staff766, fhir.Query{})
	e := resourcesOf(t, doc, "Encounter")[0]
	if e["period"].(map[string]any)["start"] != "2026-11-23T03:21:00Z" {
		t.Fatalf("period: %v", e["period"])
	}
	p := resourcesOf(t, doc, "Procedure")[0]
	if p["performedDateTime"] != "2026-11-23T03:21:00Z" {
		t.Fatalf("performed: %v", p["performedDateTime"])
	}
	var bo string
	for _, en := range generic(t, doc)["entry"].([]any) {
		r := en.(map[string]any)["resource"].(map[string]any)
		if r["resourceType"] == "Practitioner" && r["identifier"].([]any)[0].(map[string]any)["value"] == "bo" {
			bo = en.(map[string]any)["fullUrl"].(string)
		}
	}
	parts := e["participant"].([]any)
	first := parts[0].(map[string]any)
	if len(parts) != 2 || first["individual"].(map[string]any)["reference"] != bo ||
		first["type"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"] != "PPRF" {
		t.Fatalf("bo, who arrived, is the primary performer; anna took part: %v", parts)
	}
	if p["performer"].([]any)[0].(map[string]any)["actor"].(map[string]any)["reference"] != bo {
		t.Fatalf("procedure performer: %v", p["performer"])
	}
	// Taken but no arrival said: the resolver performed it, from the acknowledgement.
	m.visits[0].ArrivedAt = nil
	doc, _ = pull(t, service(m), staff766, fhir.Query{})
	if e := resourcesOf(t, doc, "Encounter")[0]; e["period"].(map[string]any)["start"] != "2026-11-23T03:13:00Z" {
		t.Fatalf("period without arrival: %v", e["period"])
	}
}

func TestExportFiles(t *testing.T) {
	m := world()
	e, err := service(m).Export(t.Context(), staff766, fhir.Query{Since: "2026-11-23T04:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Visits) != 2 || e.More || e.Next.Event != 9 {
		t.Fatalf("export since 04:00: %d visits, more %v, next %+v", len(e.Visits), e.More, e.Next)
	}
	var nd bytes.Buffer
	if err := e.WriteNDJSON(&nd); err != nil {
		t.Fatal(err)
	}
	if p := fhirtest.NDJSONProblems(nd.Bytes()); len(p) > 0 {
		t.Fatalf("NDJSON:\n%s\n%s", strings.Join(p, "\n"), nd.String())
	}
	if n := strings.Count(nd.String(), "\n"); n != 2+2+2+2 {
		t.Fatalf("lines: 2 encounters, 2 procedures, 2 patients, 2 practitioners; got %d:\n%s", n, nd.String())
	}
	doc, _ := json.Marshal(e.Bundle())
	if p := fhirtest.Problems(doc); len(p) > 0 {
		t.Fatalf("bundle:\n%s\n%s", strings.Join(p, "\n"), doc)
	}
	if g := generic(t, doc); g["type"] != "collection" || g["timestamp"] != "2026-11-24T03:12:00Z" {
		t.Fatalf("collection: %v %v", g["type"], g["timestamp"])
	}
	if len(m.audited) != 2 || !strings.Contains(m.audited[0], "fhir.export") {
		t.Fatalf("audit: %v", m.audited)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := fhir.Cursor{Municipality: 766, Event: 1 << 40}
	got, err := fhir.ParseCursor(c.String())
	if err != nil || got != c {
		t.Fatalf("%+v, %v", got, err)
	}
}

func pullQuery() fhir.Query { return fhir.Query{} }
