package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
)

// refusal asserts a request is answered with code, the JSON error code and (when given)
// the field the error names and a phrase of its message.
func (f *statsFixture) refusal(t *testing.T, code int, errCode, field, phrase, user, method, path, body string) {
	t.Helper()
	got, out := f.do(t, user, method, path, body)
	e, _ := out["error"].(map[string]any)
	if got != code || e["code"] != errCode || (field != "" && e["field"] != field) || !strings.Contains(fmt.Sprint(e["message"]), phrase) {
		t.Errorf("%s %s as %s: %d %v, want %d %s field %q with %q", method, path, user, got, out, code, errCode, field, phrase)
	}
}

// auditOf returns the audit entries of object as "actor action detail", newest first.
func (f *statsFixture) auditOf(t *testing.T, object string) []string {
	t.Helper()
	var out []string
	for _, e := range f.must(t, 200, "admin", "GET", "/api/v1/audit?object="+object, "")["entries"].([]any) {
		m := e.(map[string]any)
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %v", m["actor"], m["action"], orEmpty(m["detail"]))))
	}
	return out
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// find returns the element of list (a JSON array of objects) whose "id" is id.
func find(t *testing.T, list any, id any) map[string]any {
	t.Helper()
	for _, e := range list.([]any) {
		if m := e.(map[string]any); fmt.Sprint(m["id"]) == fmt.Sprint(id) {
			return m
		}
	}
	t.Fatalf("no %v in %v", id, list)
	return nil
}

// TestDistrictChanges: rename and delete, read back through the API; the refusals;
// the audit names the changed field.
func TestDistrictChanges(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		f := newStatsFixture(t, dsn)
		syd := int64(f.must(t, 201, "mads", "POST", "/api/v1/districts", `{"name":"Syd"}`)["id"].(float64))
		nordID := int64(f.must(t, 200, "mads", "GET", "/api/v1/districts", "")["districts"].([]any)[0].(map[string]any)["id"].(float64))
		path := fmt.Sprintf("/api/v1/districts/%d", syd)

		d := f.must(t, 200, "mads", "PATCH", path, `{"name":"Sydvest"}`)
		if d["name"] != "Sydvest" || d["municipality"].(float64) != 766 || int64(d["id"].(float64)) != syd {
			t.Errorf("renamed: %v", d)
		}
		if got := find(t, f.must(t, 200, "mads", "GET", "/api/v1/districts", "")["districts"], syd)["name"]; got != "Sydvest" {
			t.Errorf("read back: %v", got)
		}
		f.must(t, 200, "admin", "PATCH", path, `{}`) // nothing to change: no audit entry

		for _, c := range []struct {
			name, user, path, body  string
			code                    int
			errCode, field, message string
		}{
			{"name taken", "mads", path, `{"name":"Nord"}`, 409, "conflict", "", "has a district of that name"},
			{"empty name", "mads", path, `{"name":" "}`, 400, "invalid", "name", "1-100"},
			{"name not a string", "mads", path, `{"name":5}`, 400, "bad_json", "name", ""},
			{"unknown field", "mads", path, `{"municipality":615}`, 400, "bad_json", "municipality", "unknown field"},
			{"two values", "mads", path, `{"name":"a"}{}`, 400, "bad_json", "", ""},
			{"oversize", "mads", path, `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large", "", ""},
			{"unknown district", "mads", "/api/v1/districts/999999", `{"name":"x"}`, 404, "not_found", "", ""},
			{"not an id", "mads", "/api/v1/districts/abc", `{"name":"x"}`, 404, "not_found", "", ""},
			{"other municipality's manager", "hanne", path, `{"name":"x"}`, 404, "not_found", "", ""},
			{"staff", "anna", path, `{"name":"x"}`, 403, "forbidden", "", ""},
			{"national", "kl", path, `{"name":"x"}`, 403, "forbidden", "", ""},
			{"citizen", "citizen", path, `{"name":"x"}`, 403, "forbidden", "", ""},
			{"staff deletes", "anna", path, "", 403, "forbidden", "", ""},
			{"other municipality deletes", "hanne", path, "", 404, "not_found", "", ""},
			{"delete with homes", "mads", fmt.Sprintf("/api/v1/districts/%d", nordID), "", 409, "conflict", "", "7 homes are in it"},
		} {
			method := "PATCH"
			if c.body == "" {
				method = "DELETE"
			}
			t.Run(c.name, func(t *testing.T) {
				f.refusal(t, c.code, c.errCode, c.field, c.message, c.user, method, c.path, c.body)
			})
		}
		if got := find(t, f.must(t, 200, "mads", "GET", "/api/v1/districts", "")["districts"], syd)["name"]; got != "Sydvest" {
			t.Errorf("after the refusals: %v", got)
		}

		if code, out := f.do(t, "mads", "DELETE", path, ""); code != 204 || out != nil {
			t.Errorf("delete: %d %v", code, out)
		}
		if n := len(f.must(t, 200, "mads", "GET", "/api/v1/districts", "")["districts"].([]any)); n != 1 {
			t.Errorf("%d districts after the delete, want 1", n)
		}
		f.refusal(t, 404, "not_found", "", "", "mads", "DELETE", path, "")
		sameLines(t, "district audit", f.auditOf(t, fmt.Sprintf("district/%d", syd)), []string{
			"mads district.delete",
			"mads district.update fields=name",
		})
	})
}

// alertCounts returns the manager's monthly alert statistics as
// "MM citizens= alarms= resolved= escalations= by_type=".
func (f *statsFixture) alertCounts(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range f.must(t, 200, "mads", "GET", "/api/v1/stats/alerts?"+period, "")["rows"].([]any) {
		m := r.(map[string]any)
		byType := map[string]any{}
		if bt, ok := m["by_type"].(map[string]any); ok {
			for k, v := range bt {
				byType[k] = v.(map[string]any)["alarms"]
			}
		}
		out = append(out, fmt.Sprintf("%s citizens=%v alarms=%v resolved=%v escalations=%v by_type=%v",
			m["interval_start"].(string)[5:7], m["citizens"], m["alarms"], m["resolved"], m["escalations"], byType))
	}
	return out
}

// TestHomeAndGatewayChanges: homes move district and change citizen; gateways move home,
// get new credentials and are decommissioned (devices removed, status ignored, alarms
// unregistered, the offline alert resolved); homes are decommissioned once their gateways
// are. History stays: past alerts and statistics answer as before.
func TestHomeAndGatewayChanges(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		f := newStatsFixture(t, dsn)
		ctx := t.Context()
		districts := f.must(t, 200, "mads", "GET", "/api/v1/districts", "")["districts"].([]any)
		nord := int64(districts[0].(map[string]any)["id"].(float64))
		midt := int64(f.must(t, 200, "hanne", "GET", "/api/v1/districts", "")["districts"].([]any)[0].(map[string]any)["id"].(float64))
		syd := int64(f.must(t, 201, "mads", "POST", "/api/v1/districts", `{"name":"Syd"}`)["id"].(float64))

		// Homes.
		h := f.must(t, 200, "mads", "PATCH", "/api/v1/homes/home-c2", fmt.Sprintf(`{"district":%d}`, syd))
		if int64(h["district"].(float64)) != syd || int64(h["citizen"].(float64)) != f.cit["C2"] || h["decommissioned_at"] != nil {
			t.Errorf("moved home: %v", h)
		}
		h = f.must(t, 200, "admin", "PATCH", "/api/v1/homes/home-c7", `{"citizen":0}`)
		if h["citizen"] != nil {
			t.Errorf("home without a citizen: %v", h)
		}
		f.must(t, 200, "mads", "PATCH", "/api/v1/homes/home-c7", fmt.Sprintf(`{"citizen":%d}`, f.cit["C7"]))
		homes := f.must(t, 200, "mads", "GET", "/api/v1/homes", "")["homes"]
		if c2, c7 := find(t, homes, "home-c2"), find(t, homes, "home-c7"); int64(c2["district"].(float64)) != syd ||
			int64(c7["citizen"].(float64)) != f.cit["C7"] || int64(c7["district"].(float64)) != nord {
			t.Errorf("homes read back: %v %v", c2, c7)
		}
		for _, c := range []struct {
			name, user, method, path, body string
			code                           int
			errCode, field, message        string
		}{
			{"district of another municipality", "mads", "PATCH", "/api/v1/homes/home-c2", fmt.Sprintf(`{"district":%d}`, midt), 400, "invalid", "district", "within its municipality"},
			{"admin, district of another municipality", "admin", "PATCH", "/api/v1/homes/home-c2", fmt.Sprintf(`{"district":%d}`, midt), 400, "invalid", "district", "within its municipality"},
			{"no such district", "mads", "PATCH", "/api/v1/homes/home-c2", `{"district":999999}`, 400, "invalid", "district", "no district"},
			{"citizen of another municipality", "mads", "PATCH", "/api/v1/homes/home-c2", fmt.Sprintf(`{"citizen":%d}`, f.cit["H1"]), 400, "invalid", "citizen", ""},
			{"homes keep no address", "mads", "PATCH", "/api/v1/homes/home-c2", `{"address":"Vej 1"}`, 400, "bad_json", "address", "unknown field"},
			{"district not a number", "mads", "PATCH", "/api/v1/homes/home-c2", `{"district":"syd"}`, 400, "bad_json", "district", ""},
			{"unknown home", "mads", "PATCH", "/api/v1/homes/home-x", `{}`, 404, "not_found", "", ""},
			{"other municipality's manager", "hanne", "PATCH", "/api/v1/homes/home-c2", `{}`, 404, "not_found", "", ""},
			{"staff", "anna", "PATCH", "/api/v1/homes/home-c2", `{}`, 403, "forbidden", "", ""},
			{"national", "kl", "DELETE", "/api/v1/homes/home-c2", "", 403, "forbidden", "", ""},
			{"home with a gateway in use", "mads", "DELETE", "/api/v1/homes/home-c2", "", 409, "conflict", "", "gateways in use: gw-2"},
			// Gateways.
			{"gateway to another municipality", "mads", "PATCH", "/api/v1/gateways/gw-8", `{"home":"home-h1"}`, 400, "invalid", "home", "within its municipality"},
			{"gateway to no home", "mads", "PATCH", "/api/v1/gateways/gw-8", `{"home":"home-x"}`, 400, "invalid", "home", "no home"},
			{"gateway, unknown field", "mads", "PATCH", "/api/v1/gateways/gw-8", `{"municipality":615}`, 400, "bad_json", "municipality", ""},
			{"unknown gateway", "mads", "PATCH", "/api/v1/gateways/gw-x", `{}`, 404, "not_found", "", ""},
			{"unknown gateway, delete", "mads", "DELETE", "/api/v1/gateways/gw-x", "", 404, "not_found", "", ""},
			{"gateway of another municipality", "hanne", "DELETE", "/api/v1/gateways/gw-2", "", 404, "not_found", "", ""},
			{"gateway, staff", "anna", "DELETE", "/api/v1/gateways/gw-2", "", 403, "forbidden", "", ""},
			{"gateway, citizen", "citizen", "POST", "/api/v1/gateways/gw-2/credentials", "", 403, "forbidden", "", ""},
			{"decommissioned before its devices were installed", "mads", "DELETE", "/api/v1/gateways/gw-2?decommissioned_at=2026-01-01", "", 400, "invalid", "decommissioned_at", "before device md-2"},
			{"decommissioned in the future", "mads", "DELETE", "/api/v1/gateways/gw-2?decommissioned_at=2026-05-01", "", 400, "invalid", "decommissioned_at", "future"},
			{"decommission date unreadable", "mads", "DELETE", "/api/v1/gateways/gw-2?decommissioned_at=soon", "", 400, "invalid", "decommissioned_at", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				f.refusal(t, c.code, c.errCode, c.field, c.message, c.user, c.method, c.path, c.body)
			})
		}

		// A gateway moves to a new home of the same citizen; new credentials.
		f.must(t, 201, "mads", "POST", "/api/v1/homes", fmt.Sprintf(`{"id":"home-c7b","district":%d,"citizen":%d}`, syd, f.cit["C7"]))
		g := f.must(t, 200, "mads", "PATCH", "/api/v1/gateways/gw-8", `{"home":"home-c7b"}`)
		if g["home"] != "home-c7b" || g["municipality"].(float64) != 766 {
			t.Errorf("moved gateway: %v", g)
		}
		if got := find(t, f.must(t, 200, "mads", "GET", "/api/v1/gateways", "")["gateways"], "gw-8")["home"]; got != "home-c7b" {
			t.Errorf("gateway read back: %v", got)
		}
		cred := f.must(t, 200, "mads", "POST", "/api/v1/gateways/gw-8/credentials", "")
		if m := cred["mqtt"].(map[string]any); m["username"] != "gw-8" || len(m["password"].(string)) < 30 ||
			m["password_hash"] != nil || m["acl"] != "pattern write vagt/v1/gw/%u/#" || cred["gateway"].(map[string]any)["id"] != "gw-8" {
			t.Errorf("new credentials: %v", cred)
		}
		sameLines(t, "gw-8 audit", f.auditOf(t, "gateway/gw-8"), []string{
			"mads gateway.credentials",
			"mads gateway.update fields=home",
			"admin gateway.password_hash.read",
			"mads gateway.provision home-c7",
		})

		// Past statistics and an alert of gw-2, before it is decommissioned.
		alertStatsBefore := f.alertCounts(t)
		alertBefore := f.must(t, 200, "anna", "GET", fmt.Sprintf("/api/v1/alerts/%d", f.alerts["A2"]), "")

		// gw-6 went offline and has an offline alert when it is decommissioned (gw-1, silent
		// since its status of 2026-03-15, gets one too; the six gateways provisioned above and
		// never heard from get a never-connected alert each, a day after provisioning).
		now := f.clock.Now()
		if err := f.store.RecordStatus(ctx, &vagt.Status{Gateway: "gw-6", Online: false, Municipality: 766, Time: now}, now); err != nil {
			t.Fatal(err)
		}
		if n, err := f.store.DetectOffline(ctx, now.Add(24*time.Hour)); err != nil || n != 2+6 {
			t.Fatalf("detect offline: %d %v", n, err)
		}
		f.clock.Advance(25 * time.Hour)
		d6 := f.must(t, 200, "mads", "DELETE", "/api/v1/gateways/gw-6", "")
		if d6["offline_alert_resolved"] == nil || fmt.Sprint(d6["devices_removed"]) != "[md-6]" {
			t.Errorf("gw-6 decommissioned: %v", d6)
		}
		offline := f.must(t, 200, "anna", "GET", fmt.Sprintf("/api/v1/alerts/%v", d6["offline_alert_resolved"]), "")
		if offline["state"] != "resolved" || offline["outcome"] != "technical_fault" || offline["gateway"] != "gw-6" {
			t.Errorf("gw-6's offline alert: %v", offline)
		}
		if n, err := f.store.DetectOffline(ctx, f.clock.Now().Add(30*24*time.Hour)); err != nil || n != 0 {
			t.Errorf("a decommissioned gateway's silence raised %d alerts (%v)", n, err)
		}

		// gw-2 decommissioned on 2026-02-15: md-2 removed that day; the pending device goes.
		if err := f.store.RecordStatus(ctx, &vagt.Status{Gateway: "gw-2", Online: true, Municipality: 766, Time: now,
			Inventory: []vagt.DeviceStatus{{Device: "zz-2", Technology: vagt.TechEnvironmentSensor, LastSeen: now, Battery: 50}}}, now); err != nil {
			t.Fatal(err)
		}
		d := f.must(t, 200, "mads", "DELETE", "/api/v1/gateways/gw-2?decommissioned_at=2026-02-15", "")
		gw := d["gateway"].(map[string]any)
		if fmt.Sprint(d["devices_removed"]) != "[md-2]" || d["pending_dropped"].(float64) != 1 || gw["decommissioned_at"] != "2026-02-15T00:00:00Z" ||
			gw["home"] != "home-c2" || gw["online"] != false || !strings.Contains(d["broker"].(string), "mosquitto_passwd -D /etc/mosquitto/vagt/passwd gw-2") {
			t.Errorf("gw-2 decommissioned: %v", d)
		}
		md2 := find(t, f.must(t, 200, "mads", "GET", "/api/v1/devices?state=removed", "")["devices"], "md-2")
		if md2["removed_at"] != "2026-02-15T00:00:00Z" || md2["installed_at"] != "2026-01-15T00:00:00Z" {
			t.Errorf("md-2: %v", md2)
		}
		if got := find(t, f.must(t, 200, "mads", "GET", "/api/v1/gateways", "")["gateways"], "gw-2")["decommissioned_at"]; got != "2026-02-15T00:00:00Z" {
			t.Errorf("gw-2 in the list: %v", got)
		}
		for _, c := range []struct {
			name, method, path, body string
			code                     int
			errCode, message         string
		}{
			{"decommissioned twice", "DELETE", "/api/v1/gateways/gw-2", "", 409, "conflict", "decommissioned on 2026-02-15"},
			{"a decommissioned gateway moves", "PATCH", "/api/v1/gateways/gw-2", `{"home":"home-c7b"}`, 409, "conflict", "decommissioned"},
			{"a decommissioned gateway gets credentials", "POST", "/api/v1/gateways/gw-2/credentials", "", 409, "conflict", "decommissioned"},
			{"a device on a decommissioned gateway", "POST", "/api/v1/devices", `{"id":"md-9","gateway":"gw-2","technology":"medicine_dispenser"}`, 400, "invalid", "decommissioned"},
		} {
			t.Run(c.name, func(t *testing.T) { f.refusal(t, c.code, c.errCode, "", c.message, "mads", c.method, c.path, c.body) })
		}
		// Its status is ignored; an alarm from it is still an alert, but of no home.
		if err := f.store.RecordStatus(ctx, &vagt.Status{Gateway: "gw-2", Online: true, Municipality: 766, Time: now,
			Inventory: []vagt.DeviceStatus{{Device: "zz-3", Technology: vagt.TechEnvironmentSensor, LastSeen: now, Battery: 50}}}, now); err != nil {
			t.Fatal(err)
		}
		if got := find(t, f.must(t, 200, "mads", "GET", "/api/v1/gateways", "")["gateways"], "gw-2")["online"]; got != false {
			t.Errorf("a decommissioned gateway came online: %v", got)
		}
		if n := len(f.must(t, 200, "mads", "GET", "/api/v1/devices?state=pending", "")["devices"].([]any)); n != 1 { // env-1 of the fixture
			t.Errorf("%d pending devices, want 1", n)
		}
		r, err := f.store.IngestAlarm(ctx, &vagt.Alarm{Gateway: "gw-2", Seq: 900, Municipality: 766, Time: now, Device: "pa-2", Type: vagt.AlarmPanic, Priority: vagt.AlarmPanic.Priority()}, now)
		if err != nil || r.Alert.ID == 0 || r.Alert.Registered || r.Alert.Home != "" || r.Alert.Municipality != 766 {
			t.Errorf("alarm of a decommissioned gateway: %+v %v", r.Alert, err)
		}

		// The home is decommissioned once its gateway is; it keeps district and citizen.
		h = f.must(t, 200, "mads", "DELETE", "/api/v1/homes/home-c2?decommissioned_at=2026-02-16", "")
		if h["decommissioned_at"] != "2026-02-16T00:00:00Z" || int64(h["citizen"].(float64)) != f.cit["C2"] || int64(h["district"].(float64)) != syd {
			t.Errorf("home decommissioned: %v", h)
		}
		if got := find(t, f.must(t, 200, "mads", "GET", "/api/v1/homes", "")["homes"], "home-c2")["decommissioned_at"]; got != "2026-02-16T00:00:00Z" {
			t.Errorf("home in the list: %v", got)
		}
		f.refusal(t, 409, "conflict", "", "decommissioned on 2026-02-16", "mads", "DELETE", "/api/v1/homes/home-c2", "")
		f.refusal(t, 409, "conflict", "", "decommissioned", "mads", "PATCH", "/api/v1/homes/home-c2", fmt.Sprintf(`{"citizen":%d}`, f.cit["C1"]))
		f.refusal(t, 409, "conflict", "", "decommissioned", "mads", "POST", "/api/v1/gateways", `{"id":"gw-20","home":"home-c2"}`)
		f.refusal(t, 409, "conflict", "", "decommissioned", "mads", "PATCH", "/api/v1/gateways/gw-8", `{"home":"home-c2"}`)
		f.refusal(t, 409, "conflict", "", "1 of them decommissioned", "mads", "DELETE", fmt.Sprintf("/api/v1/districts/%d", syd), "")
		if facts, err := f.store.HomeFacts(ctx, "home-c2"); err != nil || len(facts.Gateways) != 0 || int64(facts.District) != syd {
			t.Errorf("care plan facts of the decommissioned home: %+v %v", facts, err)
		}

		// History: the alert of gw-2 still names its home; past alert statistics are unchanged.
		alertAfter := f.must(t, 200, "anna", "GET", fmt.Sprintf("/api/v1/alerts/%d", f.alerts["A2"]), "")
		if alertAfter["home"] != "home-c2" || alertAfter["gateway"] != "gw-2" || alertAfter["registered"] != true || fmt.Sprint(alertAfter) != fmt.Sprint(alertBefore) {
			t.Errorf("past alert:\nbefore %v\nafter  %v", alertBefore, alertAfter)
		}
		// The alerts are counted as before; only the citizens they are per changed, since md-2
		// was removed in February.
		sameLines(t, "alert statistics before", alertStatsBefore, []string{
			"01 citizens=5 alarms=0 resolved=0 escalations=0 by_type=map[]",
			"02 citizens=5 alarms=4 resolved=3 escalations=1 by_type=map[fall:1 low_battery:1 panic:2]",
			"03 citizens=5 alarms=1 resolved=0 escalations=0 by_type=map[panic:1]",
		})
		sameLines(t, "alert statistics after", f.alertCounts(t), []string{
			"01 citizens=5 alarms=0 resolved=0 escalations=0 by_type=map[]",
			"02 citizens=4 alarms=4 resolved=3 escalations=1 by_type=map[fall:1 low_battery:1 panic:2]",
			"03 citizens=4 alarms=1 resolved=0 escalations=0 by_type=map[panic:1]",
		})
		// Adoption: md-2 counts as removed in February (31 days after installation: churn) and
		// as active there (a reading on 2026-02-10), no longer in March; md-6, removed
		// 2026-04-16, still counts through March. Compare TestStatistics.
		sameLines(t, "adoption after decommissioning", adoptionLines(f.adoption(t, "mads", period+"&technology=medicine_dispenser")), []string{
			"766 medicine_dispenser 01 cit=5 act=4 inst=5 devact=4 new=1 rem=0 churn=0 per1000=0.472 supp=false",
			"766 medicine_dispenser 02 cit=4 act=4 inst=4 devact=4 new=1 rem=2 churn=1 per1000=0.377 supp=false",
			"766 medicine_dispenser 03 cit=4 act=4 inst=4 devact=4 new=1 rem=1 churn=1 per1000=0.377 supp=false",
			"funnel 766 medicine_dispenser reg=7 inst=7 act=6 still=2 supp=false",
		})

		sameLines(t, "home audit", f.auditOf(t, "home/home-c2"), []string{
			"mads home.decommission",
			"mads home.update fields=district",
		})
		sameLines(t, "home-c7 audit", f.auditOf(t, "home/home-c7"), []string{
			"mads home.update fields=citizen",
			"admin home.update fields=citizen",
		})
		sameLines(t, "gw-2 audit", f.auditOf(t, "gateway/gw-2")[:1], []string{"mads gateway.decommission devices_removed=1 pending_dropped=1"})
	})
}

// TestCitizenChanges: personal data corrected field by field; the audit names the fields,
// never the values; an erased citizen cannot be changed.
func TestCitizenChanges(t *testing.T) {
	both(t, func(t *testing.T, dsn string) {
		f := newStatsFixture(t, dsn)
		path := fmt.Sprintf("/api/v1/citizens/%d", f.cit["C1"])
		c := f.must(t, 200, "mads", "PATCH", path, `{"address":"Ny Vej 1, 8722 Hedensted","contacts":[{"name":"Søn","phone":"+45 11111111","relation":"søn"},{"name":"Nabo","phone":"","relation":"nabo"}]}`)
		if c["name"] != "C1 Testesen" || c["address"] != "Ny Vej 1, 8722 Hedensted" || c["key_box_note"] != "kode 120" || len(c["contacts"].([]any)) != 2 {
			t.Errorf("changed: %v", c)
		}
		f.must(t, 200, "admin", "PATCH", path, `{"name":"C1 Testesen","key_box_note":"kode 999"}`) // the name is unchanged
		got := f.must(t, 200, "mads", "GET", path, "")
		if got["address"] != "Ny Vej 1, 8722 Hedensted" || got["key_box_note"] != "kode 999" || got["name"] != "C1 Testesen" ||
			fmt.Sprint(got["contacts"]) != "[map[name:Søn phone:+45 11111111 relation:søn] map[name:Nabo phone: relation:nabo]]" {
			t.Errorf("read back: %v", got)
		}
		for _, c := range []struct {
			name, user, path, body  string
			code                    int
			errCode, field, message string
		}{
			{"empty name", "mads", path, `{"name":""}`, 400, "invalid", "name", ""},
			{"long address", "mads", path, `{"address":"` + strings.Repeat("v", 501) + `"}`, 400, "invalid", "address", ""},
			{"contact without a name", "mads", path, `{"contacts":[{"name":"a"},{"phone":"1"}]}`, 400, "invalid", "contacts[1]", ""},
			{"unknown field", "mads", path, `{"phone":"1"}`, 400, "bad_json", "phone", "unknown field"},
			{"unknown field of a contact", "mads", path, `{"contacts":[{"name":"a","email":"x"}]}`, 400, "bad_json", "email", "unknown field"},
			{"not JSON", "mads", path, `name=x`, 400, "bad_json", "", ""},
			{"oversize", "mads", path, `{"address":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large", "", ""},
			{"unknown citizen", "mads", "/api/v1/citizens/999999", `{}`, 404, "not_found", "", ""},
			{"other municipality's manager", "hanne", path, `{"address":"x"}`, 404, "not_found", "", ""},
			{"staff", "anna", path, `{"address":"x"}`, 403, "forbidden", "", ""},
			{"national", "kl", path, `{"address":"x"}`, 403, "forbidden", "", ""},
			{"citizen", "citizen", path, `{"address":"x"}`, 403, "forbidden", "", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				f.refusal(t, c.code, c.errCode, c.field, c.message, c.user, "PATCH", c.path, c.body)
			})
		}
		if got := f.must(t, 200, "admin", "GET", path, ""); got["address"] != "Ny Vej 1, 8722 Hedensted" || got["key_box_note"] != "kode 999" || len(got["contacts"].([]any)) != 2 {
			t.Errorf("after the refusals: %v", got)
		}
		audit := f.auditOf(t, fmt.Sprintf("citizen/%d", f.cit["C1"]))
		var updates []string
		for _, a := range audit {
			if strings.Contains(a, "citizen.update") {
				updates = append(updates, a)
			}
			if strings.Contains(a, "Ny Vej") || strings.Contains(a, "kode") || strings.Contains(a, "Søn") {
				t.Errorf("a value in the audit log: %s", a)
			}
		}
		sameLines(t, "citizen audit", updates, []string{"admin citizen.update fields=key_box_note", "mads citizen.update fields=address,contacts"})

		// Erased: no more changes.
		h1 := fmt.Sprintf("/api/v1/citizens/%d", f.cit["H1"])
		f.must(t, 200, "admin", "DELETE", h1, "")
		f.refusal(t, 409, "conflict", "", "erased", "hanne", "PATCH", h1, `{"name":"H1 igen"}`)
	})
}
