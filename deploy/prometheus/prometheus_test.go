package prometheus_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

// promtool runs promtool with args in this folder; it is Debian's prometheus package
// (make tools). Missing, it skips, unless the environment requires the services.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv(stacktest.RequireEnv) == "1" {
			t.Fatalf("promtool is not installed (make tools installs Debian's prometheus): %v", err)
		}
		t.Skipf("promtool is not installed (make tools); set %s=1 to fail instead", stacktest.RequireEnv)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestRulesCheck(t *testing.T) { promtool(t, "check", "rules", "vagt.rules.yml") }

// TestRulesFire runs the unit tests: each page-level alert fires on its series and stays
// quiet otherwise.
func TestRulesFire(t *testing.T) { promtool(t, "test", "rules", "vagt.rules.test.yml") }

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var (
	metricRef    = regexp.MustCompile(`\bvagt_[a-z0-9_]+\b`)
	recordingRef = regexp.MustCompile(`\bvagt:[a-z0-9_:]+\b`)
	// exported finds metric names in the services' code: every name is a full literal
	// (prometheus.*Opts{Name: "vagt_..."} and the gateway's hand-written exposition).
	exported = regexp.MustCompile(`"(vagt_[a-z0-9_]+)"`)
)

// exportedMetrics reads the names the services export from their non-test source.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, dir := range []string{"api", "ingest", "gateway"} {
		err := filepath.WalkDir(filepath.Join("..", "..", dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			for _, m := range exported.FindAllSubmatch(src, -1) {
				names[string(m[1])] = true
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// A test that finds nothing would pass anything: these must be there.
	for _, n := range []string{"vagt_api_lane_committed_total", "vagt_ingest_points_written_total", "vagt_gateway_uplink_connected",
		"vagt_api_alerts_unresolved", "vagt_api_alert_ack_delay_seconds"} {
		if !names[n] {
			t.Fatalf("the scan of the services' source did not find %s: the scan is broken", n)
		}
	}
	return names
}

// known says whether a name used in a query is exported, a histogram's series included.
func known(names map[string]bool, n string) bool {
	for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(n, suffix); ok && names[base] {
			return true
		}
	}
	return false
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	data, err := os.ReadFile("vagt.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRulesNameExportedMetrics: every metric a rule reads is one the services export, every
// recording rule an alert reads is defined, and every alert has a severity and a runbook
// section that exists in docs/operations.md.
func TestRulesNameExportedMetrics(t *testing.T) {
	names := exportedMetrics(t)
	f := readRules(t)
	records := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records[r.Record] = true
			}
		}
	}
	anchors := docAnchors(t)
	alerts := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			for _, m := range metricRef.FindAllString(r.Expr, -1) {
				if !known(names, m) {
					t.Errorf("rule %s%s reads %s, which no service exports", r.Record, r.Alert, m)
				}
			}
			for _, m := range recordingRef.FindAllString(r.Expr, -1) {
				if !records[m] {
					t.Errorf("rule %s%s reads %s, which no recording rule defines", r.Record, r.Alert, m)
				}
			}
			if r.Alert == "" {
				continue
			}
			alerts++
			if s := r.Labels["severity"]; s != "page" && s != "ticket" {
				t.Errorf("alert %s: severity %q, want page or ticket", r.Alert, s)
			}
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], "docs/operations.md#")
			if !ok || !anchors[anchor] {
				t.Errorf("alert %s: runbook_url %q is not a section of docs/operations.md", r.Alert, r.Annotations["runbook_url"])
			}
		}
	}
	if alerts < 6 {
		t.Fatalf("%d alerts in vagt.rules.yml, want the page-level set", alerts)
	}
}

// TestDashboardNamesExportedMetrics: every query of the Grafana dashboard reads metrics the
// services export or recording rules the rules define.
func TestDashboardNamesExportedMetrics(t *testing.T) {
	names := exportedMetrics(t)
	f := readRules(t)
	records := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			records[r.Record] = true
		}
	}
	data, err := os.ReadFile(filepath.Join("..", "grafana", "vagt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	queries := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			queries++
			refs := append(metricRef.FindAllString(q.Expr, -1), recordingRef.FindAllString(q.Expr, -1)...)
			if len(refs) == 0 && !strings.Contains(q.Expr, "up{") {
				t.Errorf("panel %q: query %q names no vagt metric", p.Title, q.Expr)
			}
			for _, m := range refs {
				if !known(names, m) && !records[m] {
					t.Errorf("panel %q reads %s, which no service exports and no rule records", p.Title, m)
				}
			}
		}
	}
	if queries < 15 {
		t.Fatalf("%d queries in the dashboard", queries)
	}
}

// docAnchors returns the anchors of docs/operations.md's headings, as GitHub makes them.
func docAnchors(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ' || r == '-':
				b.WriteRune('-')
			case r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9'):
				b.WriteRune(r)
			}
		}
		anchors[b.String()] = true
	}
	return anchors
}

// TestRuleTestsOrderEveryGroup: the unit tests name an evaluation order holding every group,
// recording rules first. Without it promtool evaluates groups in map order and an alert
// reads a recorded value one interval old in some runs (a flake CI run 10 caught).
func TestRuleTestsOrderEveryGroup(t *testing.T) {
	data, err := os.ReadFile("vagt.rules.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Order []string `yaml:"group_eval_order"`
	}
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatal(err)
	}
	f := readRules(t)
	if len(tests.Order) != len(f.Groups) {
		t.Fatalf("group_eval_order %v, rule groups %d: every group needs a place", tests.Order, len(f.Groups))
	}
	pos := map[string]int{}
	for i, g := range tests.Order {
		pos[g] = i
	}
	lastRecording, firstAlerting := -1, len(tests.Order)
	for _, g := range f.Groups {
		i, ok := pos[g.Name]
		if !ok {
			t.Fatalf("group %q is missing from group_eval_order", g.Name)
		}
		for _, r := range g.Rules {
			if r.Record != "" {
				lastRecording = max(lastRecording, i)
			} else {
				firstAlerting = min(firstAlerting, i)
			}
		}
	}
	if lastRecording > firstAlerting {
		t.Fatalf("group_eval_order %v evaluates an alerting group before a recording one", tests.Order)
	}
}
