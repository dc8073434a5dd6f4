package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
)

// addStaff gives the fixture a staff user of 766 scoped to districts.
func (f *fixture) addStaff(t *testing.T, name string, districts ...int64) {
	f.addStaffB(t, name, districts...)
}

func (f *fixture) addStaffB(t testing.TB, name string, districts ...int64) {
	t.Helper()
	tok, hash, _ := auth.NewToken()
	p := api.Principal{Name: name, Role: api.RoleStaff, Municipality: 766, Districts: districts}
	if _, err := f.store.IssueToken(t.Context(), p, hash, nil, t0); err != nil {
		t.Fatal(err)
	}
	f.tokens[name] = tok
}

func (f *fixture) districts(t *testing.T) (north, south int64) {
	t.Helper()
	ds, err := f.store.Districts(t.Context(), api.Scope{All: true}, 766)
	if err != nil || len(ds) != 2 {
		t.Fatalf("districts: %+v %v", ds, err)
	}
	return ds[0].ID, ds[1].ID
}

// A roster with overlapping and empty shifts is refused with every field named and nothing
// saved; a shift with nobody is saved and warned of; only managers and admins write.
func TestRosterOverHTTP(t *testing.T) {
	f := newFixture(t)
	north, _ := f.districts(t)
	f.addStaff(t, "nina", north)
	path := fmt.Sprintf("/api/v1/districts/%d/roster", north)
	bad := `{"shifts":[
		{"kind":"day","weekdays":["mon","tue"],"start":"07:00","end":"15:00","staff":["nina"],"backup":{}},
		{"kind":"evening","weekdays":["tue"],"start":"14:30","end":"22:00","staff":[],"backup":{}},
		{"kind":"night","weekdays":["tue"],"start":"22:00","end":"22:00","staff":[],"backup":{}}]}`
	code, body := f.do(t, "mads", "PUT", path, bad)
	e, _ := body["error"].(map[string]any)
	fields, _ := e["fields"].([]any)
	if code != 400 || e["code"] != "invalid" || len(fields) != 2 || e["field"] != "shifts[2].end" {
		t.Fatalf("bad roster: %d %v", code, body)
	}
	if code, body := f.do(t, "mads", "GET", path, ""); code != 200 || len(body["shifts"].([]any)) != 0 {
		t.Fatalf("after a refused roster: %d %v", code, body)
	}
	good := `{"shifts":[
		{"kind":"day","weekdays":["mon","tue","wed","thu","fri","sat","sun"],"start":"07:00","end":"22:00","staff":["nina"],"backup":{"user":"anna"}},
		{"kind":"night","weekdays":["mon","tue","wed","thu","fri","sat","sun"],"start":"22:00","end":"07:00","staff":[],"backup":{"user":"anna"}}]}`
	if code, _ := f.do(t, "anna", "PUT", path, good); code != 403 {
		t.Fatalf("staff wrote a roster: %d", code)
	}
	code, body = f.do(t, "mads", "PUT", path, good)
	warnings, _ := body["warnings"].([]any)
	if code != 200 || len(warnings) != 1 || warnings[0].(map[string]any)["code"] != "no_staff" || body["updated_by"] != "mads" {
		t.Fatalf("roster with an empty night: %d %v", code, body)
	}
	if code, body := f.do(t, "anna", "GET", path, ""); code != 200 || len(body["shifts"].([]any)) != 2 || len(body["warnings"].([]any)) != 1 {
		t.Fatalf("staff read the roster: %d %v", code, body)
	}
	if code, _ := f.do(t, "citizen", "GET", path, ""); code != 403 {
		t.Fatalf("a citizen read a roster: %d", code)
	}
	if code, body := f.do(t, "mads", "PUT", "/api/v1/municipalities/766/central-on-call", `{"users":["sara","nobody"]}`); code != 400 ||
		body["error"].(map[string]any)["field"] != "users[0]" { // sorted: "nobody" first
		t.Fatalf("central with an unknown user: %d %v", code, body)
	}
	if code, body := f.do(t, "mads", "PUT", "/api/v1/municipalities/766/central-on-call", `{"users":["sara"]}`); code != 200 {
		t.Fatalf("central: %d %v", code, body)
	}
	// t0 is 04:12 in Copenhagen: the night shift, with nobody on it.
	code, body = f.do(t, "anna", "GET", "/api/v1/duty?at="+t0.Format(time.RFC3339), "")
	if code != 200 {
		t.Fatalf("duty: %d %v", code, body)
	}
	d0 := body["districts"].([]any)[0].(map[string]any)
	if d0["shift"].(map[string]any)["kind"] != "night" || len(d0["staff"].([]any)) != 0 || body["central"].([]any)[0] != "sara" {
		t.Fatalf("duty at 04:12: %v", body)
	}
	if code, _ := f.do(t, "anna", "GET", "/api/v1/duty?at=yesterday", ""); code != 400 {
		t.Fatalf("duty at a bad time: %d", code)
	}
}

// The stream and the lists widen by tier: the night shift (nina, whose token is for the
// other district) gets the new alert; the backup (bent) gets nothing until it escalates,
// then the escalated event, and may open and acknowledge it; sara, on neither, sees
// nothing of it.
func TestAudienceOverHTTP(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	north, south := f.districts(t)
	f.addStaff(t, "nina", south)
	f.addStaff(t, "bent", south)
	roster := `{"shifts":[{"kind":"night","weekdays":["mon","tue","wed","thu","fri","sat","sun"],"start":"22:00","end":"07:00","staff":["nina"],"backup":{"user":"bent"}}]}`
	if code, body := f.do(t, "mads", "PUT", fmt.Sprintf("/api/v1/districts/%d/roster", north), roster); code != 200 {
		t.Fatalf("roster: %d %v", code, body)
	}
	_, ninaC := openStream(t, f, "", "nina", "")
	_, bentC := openStream(t, f, "", "bent", "")
	_, saraC := openStream(t, f, "", "sara", "")
	f.waitClients(t, 3, "three streams")
	if got := f.feed.Listeners(); got["nina"] != 1 || got["bent"] != 1 || got["sara"] != 1 {
		t.Fatalf("listeners: %v", got)
	}
	r, err := f.store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-0001", Seq: 2, Municipality: 766, Time: t0, Device: "btn", Type: vagt.AlarmFall}, t0)
	if err != nil {
		t.Fatal(err)
	}
	id := r.Alert.ID
	alertOf := func(ev sse) int64 {
		var d struct {
			Alert struct {
				ID int64 `json:"id"`
			} `json:"alert"`
		}
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
			t.Fatalf("event %v: %v", ev, err)
		}
		return d.Alert.ID
	}
	if ev := nextEvent(t, ninaC, "the shift's new alert"); ev.name != "new" || alertOf(ev) != id {
		t.Fatalf("nina got %+v", ev)
	}
	listed := func(user string) bool {
		t.Helper()
		code, body := f.do(t, user, "GET", "/api/v1/alerts", "")
		if code != 200 {
			t.Fatalf("list as %s: %d", user, code)
		}
		for _, a := range body["alerts"].([]any) {
			if int64(a.(map[string]any)["id"].(float64)) == id {
				return true
			}
		}
		return false
	}
	if !listed("nina") || listed("bent") || listed("sara") {
		t.Fatalf("level 0 lists: nina %v bent %v sara %v", listed("nina"), listed("bent"), listed("sara"))
	}
	if code, _ := f.do(t, "bent", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), ""); code != 404 {
		t.Fatalf("the backup read the alert before it escalated: %d", code)
	}
	// Two: the fixture's own alert escalates too (no roster had it then).
	if n, err := f.store.EscalateDue(ctx, t0.Add(61*time.Second)); err != nil || n != 2 {
		t.Fatalf("escalate: %d %v", n, err)
	}
	// The backup's first events: both alerts escalated to him (the fixture's is of north
	// too, and bent is north's backup on duty now), nothing before.
	got := map[int64]bool{}
	for range 2 {
		ev := nextEvent(t, bentC, "the backup's escalated alerts")
		if ev.name != "escalated" || !strings.Contains(ev.data, `"tier":"backup"`) {
			t.Fatalf("bent got %+v", ev)
		}
		got[alertOf(ev)] = true
	}
	if !got[id] || !got[f.alert] {
		t.Fatalf("bent got escalations of %v, want %d and %d", got, id, f.alert)
	}
	if !listed("bent") || listed("sara") {
		t.Fatal("level 1 lists")
	}
	if code, _ := f.do(t, "bent", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), ""); code != 200 {
		t.Fatalf("the backup reads the escalated alert: %d", code)
	}
	if code, body := f.do(t, "bent", "POST", fmt.Sprintf("/api/v1/alerts/%d/ack", id), ""); code != 200 || body["acknowledged_by"] != "bent" {
		t.Fatalf("the backup acknowledges: %d %v", code, body)
	}
	if code, _ := f.do(t, "sara", "GET", fmt.Sprintf("/api/v1/alerts/%d", id), ""); code != 404 {
		t.Fatalf("sara read it: %d", code)
	}
	// An alarm of an unknown gateway reaches the whole municipality: sara's first event.
	r2, err := f.store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-unknown", Seq: 1, Municipality: 766, Time: t0, Device: "x", Type: vagt.AlarmPanic}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, saraC, "the unregistered alert"); alertOf(ev) != r2.Alert.ID {
		t.Fatalf("sara's first event is of alert %d (%s), want %d: the roster's alert leaked", alertOf(ev), ev.name, r2.Alert.ID)
	}
}
