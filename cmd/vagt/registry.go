package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/sqlstore"
	"github.com/vagt-dk/vagt/cmd/internal/subcmd"
)

func init() {
	sub := func(name string) func(context.Context, []string, func(string) string, io.Writer, io.Writer) error {
		return func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
			return runRegistry(ctx, append([]string{name}, args...), getenv, stdout, stderr)
		}
	}
	commands["registry"] = subcmd.Group("vagt registry",
		"load a registry from JSON (registry import FILE), list devices waiting for acceptance (registry pending) or take a gateway or home out of use (registry decommission)",
		subcmd.Set{
			"import":       {Summary: "load districts, citizens, homes, gateways and devices from JSON: import FILE.json", Run: sub("import")},
			"pending":      {Summary: "list the devices waiting for acceptance", Run: sub("pending")},
			"decommission": {Summary: "take a gateway or a home out of use, keeping it for history: decommission gateway|home ID", Run: sub("decommission")},
		})
}

// registryFile is the JSON form `vagt registry import` reads (testdata/registry/example.json):
// districts and homes refer to each other by name, citizens by a ref local to the file.
type registryFile struct {
	Districts []registry.District `json:"districts"`
	Citizens  []struct {
		Ref string `json:"ref"`
		registry.Citizen
	} `json:"citizens"`
	Homes []struct {
		ID           vagt.HomeID           `json:"id"`
		Municipality vagt.MunicipalityCode `json:"municipality"`
		District     string                `json:"district"`
		Citizen      string                `json:"citizen"`
	} `json:"homes"`
	Gateways []struct {
		ID   vagt.GatewayID `json:"id"`
		Home vagt.HomeID    `json:"home"`
	} `json:"gateways"`
	Devices []registry.Device `json:"devices"`
}

// runRegistry runs `vagt registry args[0]` (import, pending or decommission).
func runRegistry(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	usage := "usage: vagt registry import --db FILE|URL FILE.json | vagt registry pending --db FILE|URL [--municipality CODE]" +
		" | vagt registry decommission --db FILE|URL [--decommissioned-at DATE] gateway|home ID"
	fs := flag.NewFlagSet("vagt registry "+args[0], flag.ContinueOnError)
	db := fs.String("db", "var/vagt.db", "SQLite file, or postgres:// URL (as for vagt api)")
	mun := fs.Uint("municipality", 0, "pending: only this municipality")
	// The object decommissioned is an argument, not a flag: a flag would also be read from
	// VAGT_GATEWAY, which a gateway's own environment sets.
	at := fs.String("decommissioned-at", "", "decommission: when it went out of use (RFC 3339 or YYYY-MM-DD, UTC); empty: now")
	if err := subcmd.ParseWithArgs(fs, args[1:], getenv, stdout); err != nil {
		return err
	}
	// The arguments are checked before the store is opened (which would create a file).
	switch want := map[string]int{"import": 1, "pending": 0, "decommission": 2}[args[0]]; {
	case fs.NArg() != want:
		return subcmd.Usagef("registry %s: want %d argument(s), got %d (%s)", args[0], want, fs.NArg(), usage)
	case args[0] == "decommission" && fs.Arg(0) != "gateway" && fs.Arg(0) != "home":
		return subcmd.Usagef("registry decommission: want gateway ID or home ID (%s)", usage)
	}
	store, err := sqlstore.Open(ctx, *db, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	if args[0] == "decommission" {
		gw, home := vagt.GatewayID(fs.Arg(1)), vagt.HomeID("")
		if fs.Arg(0) == "home" {
			gw, home = "", vagt.HomeID(fs.Arg(1))
		}
		return decommission(ctx, store, gw, home, *at, stdout, time.Now())
	}
	if args[0] == "pending" {
		ds, err := store.Devices(ctx, api.Scope{All: true}, vagt.MunicipalityCode(*mun), registry.DevicePending)
		if err != nil {
			return err
		}
		for _, d := range ds {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", d.ID, d.Gateway, d.Technology)
		}
		return nil
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	return importRegistry(ctx, store, b, stdout, time.Now())
}

// importRegistry loads a registry file. Gateways' MQTT passwords are printed once, one line
// each, in Mosquitto's password file format after the plain password.
func importRegistry(ctx context.Context, store *sqlstore.Store, b []byte, stdout io.Writer, now time.Time) error {
	var f registryFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("registry import: %w", err)
	}
	const actor = "cli"
	districts := map[string]int64{}
	for _, d := range f.Districts {
		id, err := store.CreateDistrict(ctx, d.Municipality, d.Name)
		if err != nil {
			return fmt.Errorf("registry import: district %s: %w", d.Name, err)
		}
		districts[fmt.Sprint(d.Municipality, "/", d.Name)] = id
	}
	citizens := map[string]int64{}
	for _, c := range f.Citizens {
		if c.Contacts == nil {
			c.Contacts = []api.Contact{}
		}
		// The operator's import: every municipality is in scope.
		saved, err := store.RegisterCitizen(ctx, api.Scope{All: true}, c.Citizen, actor, now)
		if err != nil {
			return fmt.Errorf("registry import: citizen %s: %w", c.Ref, err)
		}
		citizens[c.Ref] = saved.ID
	}
	for _, h := range f.Homes {
		d, ok := districts[fmt.Sprint(h.Municipality, "/", h.District)]
		if !ok {
			return fmt.Errorf("registry import: home %s: no district %q in %d in the file", h.ID, h.District, h.Municipality)
		}
		if _, err := store.AddHome(ctx, api.Scope{All: true}, registry.Home{ID: h.ID, District: d, Citizen: citizens[h.Citizen]}); err != nil {
			return fmt.Errorf("registry import: home %s: %w", h.ID, err)
		}
	}
	for _, g := range f.Gateways {
		cred, err := registry.NewCredentials(g.ID)
		if err != nil {
			return err
		}
		if _, err := store.ProvisionGateway(ctx, api.Scope{All: true}, g.ID, g.Home, cred.PasswordHash, actor, now); err != nil {
			return fmt.Errorf("registry import: gateway %s: %w", g.ID, err)
		}
		fmt.Fprintf(stdout, "gateway %s password %s  # password_file: %s:%s  acl: %s\n", g.ID, cred.Password, g.ID, cred.PasswordHash, cred.ACL)
	}
	for _, d := range f.Devices {
		if _, err := store.InstallDevice(ctx, api.Scope{All: true}, d, actor, now); err != nil {
			return fmt.Errorf("registry import: device %s: %w", d.ID, err)
		}
	}
	_, err := fmt.Fprintf(stdout, "imported %d districts, %d citizens, %d homes, %d gateways, %d devices\n",
		len(f.Districts), len(f.Citizens), len(f.Homes), len(f.Gateways), len(f.Devices))
	return err
}

// decommission takes a gateway or a home out of use as the API's DELETE does, audited as
// the actor "cli", and prints what the operator must still do at the broker.
func decommission(ctx context.Context, store *sqlstore.Store, gw vagt.GatewayID, home vagt.HomeID, at string, stdout io.Writer, now time.Time) error {
	when := now
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			t, err = time.Parse(time.DateOnly, at)
		}
		if err != nil {
			return fmt.Errorf("registry decommission: --decommissioned-at %q: want RFC 3339 or YYYY-MM-DD", at)
		}
		when = t.UTC()
	}
	const actor = "cli"
	if home != "" {
		h, err := store.DecommissionHome(ctx, api.Scope{All: true}, home, when, actor, now)
		if err != nil {
			return fmt.Errorf("registry decommission: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "home %s decommissioned at %s\n", h.ID, h.DecommissionedAt.Format(time.RFC3339))
		return err
	}
	d, err := store.DecommissionGateway(ctx, api.Scope{All: true}, gw, when, actor, now)
	if err != nil {
		return fmt.Errorf("registry decommission: %w", err)
	}
	fmt.Fprintf(stdout, "gateway %s decommissioned at %s; devices removed: %d %v; pending devices dropped: %d\n",
		gw, d.Gateway.DecommissionedAt.Format(time.RFC3339), len(d.DevicesRemoved), d.DevicesRemoved, d.PendingDropped)
	_, err = fmt.Fprintf(stdout, "on the broker host: %s\n", d.Broker)
	return err
}
