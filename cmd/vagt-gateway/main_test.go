package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/gateway"
	"github.com/vagt-dk/vagt/test/localstack/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// TestExampleConfig: the documented example parses and validates.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../../deploy/gateway/gateway.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := gateway.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, _ := cfg.HomeConfig()
	if len(h.Devices) != 8 || len(h.Rules.Medication) != 2 || h.Rules.Night.From != 22*60 {
		t.Fatalf("home %+v", h)
	}
}

// TestOverrides: flags beat the environment, which beats the file.
func TestOverrides(t *testing.T) {
	env := map[string]string{"VAGT_CONFIG": "../../deploy/gateway/gateway.json", "VAGT_GATEWAY": "gw-from-env", "VAGT_SPOOL": "/tmp/env.db"}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-print-config", "-spool", "/tmp/flag.db"}, func(k string) string { return env[k] }, &out)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"Gateway:gw-from-env", "Path:/tmp/flag.db", "Municipality:Aarhus"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in %s", want, s)
		}
	}
	if err := run(context.Background(), []string{"-municipality", "abc"}, func(string) string { return "" }, &out); err == nil {
		t.Error("a bad municipality flag was accepted")
	}
}

// TestLaneQoSSetting: uplink.lane_qos is 1 unless the file, VAGT_LANE_QOS or --lane-qos
// say 0; anything else is refused with a message that names the key.
func TestLaneQoSSetting(t *testing.T) {
	env := map[string]string{"VAGT_CONFIG": "../../deploy/gateway/gateway.json"}
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{{nil, "", "LaneQoS:1"}, {nil, "0", "LaneQoS:0"}, {[]string{"-lane-qos", "1"}, "0", "LaneQoS:1"}, {[]string{"-lane-qos", "0"}, "", "LaneQoS:0"}} {
		env["VAGT_LANE_QOS"] = c.env
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"-print-config"}, c.args...), func(k string) string { return env[k] }, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), c.want) {
			t.Errorf("args %q, VAGT_LANE_QOS=%q: want %s in %s", c.args, c.env, c.want, out.String())
		}
	}
	env["VAGT_LANE_QOS"] = ""
	var out bytes.Buffer
	err := run(context.Background(), []string{"-lane-qos", "2", "-spool", filepath.Join(t.TempDir(), "spool.db")}, func(k string) string { return env[k] }, &out)
	if err == nil || !strings.Contains(err.Error(), "uplink.lane_qos 2: 0 or 1") {
		t.Fatalf("--lane-qos 2: %v", err)
	}
}
