package main

import (
	"bytes"
	"context"
	"os"
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
