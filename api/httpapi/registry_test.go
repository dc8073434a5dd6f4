package httpapi_test

import (
	"fmt"
	"testing"
)

// TestRegistry: the 98 municipalities with regions; lists in the caller's scope; a device a
// gateway reported but nobody registered is pending until a manager accepts it; reading
// citizens is audited.
func TestRegistry(t *testing.T) {
	f := newStatsFixture(t, t.TempDir()+"/vagt.db")
	answer := f.must(t, 200, "anna", "GET", "/api/v1/municipalities", "")
	ms := answer["municipalities"].([]any)
	// The shipped 65+ figures are illustrative, and the answer says so.
	if src, _ := answer["population_65plus"].(map[string]any); src["illustrative"] != true || src["source"] == "" {
		t.Errorf("population source %v", answer["population_65plus"])
	}
	if len(ms) != 98 {
		t.Fatalf("%d municipalities", len(ms))
	}
	hed := ms[0].(map[string]any)
	for _, m := range ms {
		if m.(map[string]any)["code"].(float64) == 766 {
			hed = m.(map[string]any)
		}
	}
	if hed["name"] != "Hedensted" || hed["region"].(float64) != 1082 || hed["region_name"] != "Region Midtjylland" || hed["population_65plus"].(float64) != 10600 {
		t.Errorf("Hedensted: %v", hed)
	}
	count := func(user, path, key string) int {
		t.Helper()
		return len(f.must(t, 200, user, "GET", path, "")[key].([]any))
	}
	for _, c := range []struct {
		user, path, key string
		want            int
	}{
		{"mads", "/api/v1/citizens", "citizens", 7},
		{"hanne", "/api/v1/citizens", "citizens", 1},
		{"admin", "/api/v1/citizens", "citizens", 8},
		{"admin", "/api/v1/citizens?municipality=615", "citizens", 1},
		{"mads", "/api/v1/homes", "homes", 7},
		{"mads", "/api/v1/gateways", "gateways", 7},
		{"mads", "/api/v1/districts", "districts", 1},
		{"mads", "/api/v1/devices", "devices", 9},
		{"mads", "/api/v1/devices?state=installed", "devices", 6},
		{"mads", "/api/v1/devices?state=removed", "devices", 2},
		{"mads", "/api/v1/devices?state=pending", "devices", 1},
		{"hanne", "/api/v1/devices?state=pending", "devices", 0},
	} {
		if got := count(c.user, c.path, c.key); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.user, c.path, got, c.want)
		}
	}
	d := f.must(t, 200, "mads", "POST", "/api/v1/devices/env-1/accept", `{"label":"stue","installed_at":"2026-03-20T00:00:00Z"}`)
	if d["state"] != "installed" || d["technology"] != "environment_sensor" || d["label"] != "stue" || d["installed_at"] != "2026-03-20T00:00:00Z" {
		t.Errorf("accepted: %v", d)
	}
	if code, _ := f.do(t, "mads", "POST", "/api/v1/devices/env-1/accept", ""); code != 409 {
		t.Errorf("accepting twice: %d", code)
	}
	a := f.must(t, 200, "admin", "GET", "/api/v1/audit?object=municipality/766", "")["entries"].([]any)
	if len(a) != 1 || a[0].(map[string]any)["actor"] != "mads" || a[0].(map[string]any)["action"] != "citizen.list" {
		t.Errorf("citizen.list audit: %v", a)
	}
	c := f.must(t, 200, "mads", "GET", fmt.Sprintf("/api/v1/citizens/%d", f.cit["C2"]), "")
	if c["name"] != "C2 Testesen" || len(c["contacts"].([]any)) != 1 {
		t.Errorf("citizen: %v", c)
	}
}
