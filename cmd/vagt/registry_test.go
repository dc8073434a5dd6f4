package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestRegistryImport loads testdata/registry/example.json and finds what it describes.
func TestRegistryImport(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vagt.db")
	var out, errb bytes.Buffer
	getenv := func(string) string { return "" }
	if err := runRegistry(context.Background(), []string{"import", "--db", db, "../../testdata/registry/example.json"}, getenv, &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "imported 2 districts, 2 citizens, 2 homes, 2 gateways, 3 devices") ||
		strings.Count(out.String(), "acl: pattern write vagt/v1/gw/%u/#") != 2 || !strings.Contains(out.String(), "gw-0001:$7$101$") {
		t.Errorf("output: %s", out.String())
	}
	store, err := sqlstore.Open(t.Context(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ds, err := store.Devices(t.Context(), api.Scope{All: true}, 766, "installed")
	if err != nil || len(ds) != 3 || ds[2].ID != "md-0001" || ds[2].Technology.String() != "medicine_dispenser" || ds[2].InstalledAt.Format("2006-01-02") != "2026-02-03" {
		t.Fatalf("devices: %+v %v", ds, err)
	}
	out.Reset()
	if err := runRegistry(context.Background(), []string{"pending", "--db", db}, getenv, &out, &errb); err != nil || out.Len() != 0 {
		t.Errorf("pending: %q %v", out.String(), err)
	}
	if err := runRegistry(context.Background(), []string{"import", "--db", db, "../../testdata/registry/example.json"}, getenv, &out, &errb); err == nil {
		t.Error("importing twice should fail (the districts exist)")
	}
}

// TestRegistryDecommission takes an imported gateway and then its home out of use from the
// command line: the devices get the date as removed_at, the broker command is printed, the
// home refuses while its gateway is in use.
func TestRegistryDecommission(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vagt.db")
	var out, errb bytes.Buffer
	getenv := func(string) string { return "" }
	if err := runRegistry(context.Background(), []string{"import", "--db", db, "../../testdata/registry/example.json"}, getenv, &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	run := func(args ...string) (string, error) {
		out.Reset()
		err := runRegistry(context.Background(), append([]string{"decommission", "--db", db}, args...), getenv, &out, &errb)
		return out.String(), err
	}
	if _, err := run("home", "home-0001"); err == nil || !strings.Contains(err.Error(), "gateways in use: gw-0001") {
		t.Errorf("home with its gateway in use: %v", err)
	}
	if _, err := run("gateway", "gw-0001", "home-0001"); err == nil {
		t.Error("two ids: no error")
	}
	if _, err := run("device", "md-0001"); err == nil {
		t.Error("decommission a device: no error")
	}
	if _, err := run("--decommissioned-at", "2026-02-01", "gateway", "gw-0001"); err == nil || !strings.Contains(err.Error(), "before device md-0001 was installed") {
		t.Errorf("before its devices were installed: %v", err)
	}
	got, err := run("--decommissioned-at", "2026-03-15", "gateway", "gw-0001")
	want := "gateway gw-0001 decommissioned at 2026-03-15T00:00:00Z; devices removed: 2 [bu-0001 md-0001]; pending devices dropped: 0\n" +
		"on the broker host: mosquitto_passwd -D /etc/mosquitto/vagt/passwd gw-0001 && systemctl reload mosquitto\n"
	if err != nil || got != want {
		t.Errorf("decommission gateway: %q %v, want %q", got, err, want)
	}
	if got, err := run("--decommissioned-at", "2026-03-16", "home", "home-0001"); err != nil || got != "home home-0001 decommissioned at 2026-03-16T00:00:00Z\n" {
		t.Errorf("decommission home: %q %v", got, err)
	}
	store, err := sqlstore.Open(t.Context(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ds, err := store.Devices(t.Context(), api.Scope{All: true}, 766, "removed")
	if err != nil || len(ds) != 2 || ds[0].ID != "bu-0001" || ds[0].RemovedAt.Format(time.RFC3339) != "2026-03-15T00:00:00Z" {
		t.Errorf("removed devices: %+v %v", ds, err)
	}
}
