package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

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
	ds, err := store.Devices(t.Context(), 766, "installed")
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
