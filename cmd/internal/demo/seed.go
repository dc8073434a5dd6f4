package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/registry"
	"github.com/vagt-dk/vagt/api/roster"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// The demo's village: homes in two municipalities and five care districts, with
// invented citizens. Everything here is fiction; none of it is personal data.
// staffMunicipality is where the printed staff token works (Hedensted Nord and Syd) and
// where the demo's alarms happen, so that the staff console sees every one.
const staffMunicipality vagt.MunicipalityCode = 766

var districts = []struct {
	municipality vagt.MunicipalityCode
	name         string
}{
	{766, "Hedensted Nord"}, {766, "Hedensted Syd"},
	{751, "Aarhus Midt"}, {751, "Aarhus Vest"}, {751, "Aarhus Syd"},
}

var (
	firstNames = []string{"Inger", "Poul", "Kirsten", "Jens", "Hanne", "Niels", "Grethe", "Erik", "Bodil", "Aage", "Ruth", "Svend"}
	lastNames  = []string{"Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen", "Holm"}
	streets    = map[vagt.MunicipalityCode][]string{
		766: {"Stationsvej %d, 8722 Hedensted", "Vestergade %d, 8781 Stenderup", "Kirkevej %d, 8763 Rask Mølle"},
		751: {"Jægergårdsgade %d, 8000 Aarhus C", "Viborgvej %d, 8210 Aarhus V", "Skanderborgvej %d, 8260 Viby J"},
	}
)

// demoHome is one simulated home as the registry and the simulation know it.
type demoHome struct {
	gateway      vagt.GatewayID
	municipality vagt.MunicipalityCode
	district     int    // index into districts
	citizen      string // the invented citizen's name, printed with the home's alarms
	unit         string
	devices      []demoDevice
}

// demoDevice is a device of a home; zigbee is its friendly name, "" on the serial line.
type demoDevice struct {
	id     vagt.DeviceID
	tech   vagt.Technology
	zigbee string
	label  string
	panic  bool // a pendant's button: every press is a panic
}

// Tokens are the ready-made API tokens the demo prints.
type Tokens struct {
	Staff, Manager, National, Admin string
	// Backup is the backup ("bagvagt") on duty for both Hedensted districts: an alert
	// nobody acknowledges in time reaches this token's console.
	Backup string `json:",omitempty"`
	// Citizen is the demo citizen's own token for the citizen page /mig: a demo login in
	// place of MitID (docs/citizen.md), obtained as an activation letter's code gives one.
	Citizen     string `json:",omitempty"`
	CitizenName string `json:",omitempty"`
}

type village struct {
	homes                                 []demoHome
	tokens                                Tokens
	dir, tokensFile                       string
	staffScope, backupScope, managerScope string
	alarmsWhere                           string // where the demo's alarms happen
}

func (v *village) where() string { return "Hedensted and Aarhus" }

// planHomes lays out n homes; it is deterministic, so every run finds the same village.
func planHomes(n int) []demoHome {
	homes := make([]demoHome, n)
	for i := range homes {
		d := i % len(districts)
		unit := fmt.Sprintf("bu-%d", i+1)
		h := demoHome{gateway: vagt.GatewayID(fmt.Sprintf("demo-gw-%03d", i+1)), municipality: districts[d].municipality, district: d, unit: unit,
			citizen: firstNames[i%len(firstNames)] + " " + lastNames[(i/len(firstNames)+i)%len(lastNames)]}
		zb := func(n int) vagt.DeviceID { return vagt.DeviceID(fmt.Sprintf("0x00158d%04x%06x", i+1, n)) }
		h.devices = []demoDevice{
			{id: vagt.DeviceID(unit), tech: vagt.TechPersonalAlarm, label: "base unit"},
			{id: vagt.DeviceID(unit + ":btn"), tech: vagt.TechPersonalAlarm, label: "pendant", panic: true},
			{id: zb(1), tech: vagt.TechEnvironmentSensor, zigbee: "living_room", label: "living room climate"},
			{id: zb(2), tech: vagt.TechNightSupervision, zigbee: "hall_motion", label: "hall motion"},
			{id: zb(3), tech: vagt.TechDoorSensor, zigbee: "front_door", label: "front door"},
		}
		// Not every home has every technology, so the statistics have something to compare.
		if i%2 == 0 {
			h.devices = append(h.devices, demoDevice{id: vagt.DeviceID(unit + ":fall-1"), tech: vagt.TechFallDetector, label: "fall detector"})
		}
		if i%3 == 0 {
			h.devices = append(h.devices, demoDevice{id: zb(4), tech: vagt.TechWaterAlarm, zigbee: "bathroom_leak", label: "bathroom water alarm"})
		}
		if i%4 == 1 {
			h.devices = append(h.devices, demoDevice{id: vagt.DeviceID(unit + ":bed-1"), tech: vagt.TechBedSensor, label: "bed sensor"})
		}
		homes[i] = h
	}
	return homes
}

// seedState is what the demo remembers between runs beside the database.
type seedState struct {
	Homes     int     `json:"homes"`
	Districts []int64 `json:"districts"`
	Tokens    Tokens  `json:"tokens"`
	Rosters   bool    `json:"rosters"` // the Hedensted rosters were seeded (a demo from before them gets them)
	// BackupTeam is the backup's own district, without homes (0 in a demo from before
	// it, whose backup saw Hedensted Syd's alarms at once: it gets re-seeded).
	BackupTeam int64 `json:"backup_team,omitempty"`
}

// seed fills the registry and issues the tokens at the first run; later runs read what
// the first one wrote (and add homes when asked for more).
func seed(ctx context.Context, store *sqlstore.Store, n int, stateFile string) (*village, error) {
	v := &village{homes: planHomes(n), tokensFile: stateFile}
	var st seedState
	data, err := os.ReadFile(stateFile)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("%s: %w (make clean-data starts afresh)", stateFile, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		for _, d := range districts {
			id, err := store.CreateDistrict(ctx, d.municipality, d.name)
			if err != nil {
				return nil, err
			}
			st.Districts = append(st.Districts, id)
		}
		if st.Tokens, err = issueTokens(ctx, store, st.Districts); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if !st.Rosters || st.BackupTeam == 0 {
		if st.Tokens.Backup, st.BackupTeam, err = seedRosters(ctx, store, st.Districts); err != nil {
			return nil, fmt.Errorf("rosters: %w", err)
		}
		st.Rosters = true
	}
	for i := st.Homes; i < len(v.homes); i++ {
		if err := registerHome(ctx, store, v.homes[i], st.Districts[v.homes[i].district], i); err != nil {
			return nil, err
		}
	}
	st.Homes = max(st.Homes, len(v.homes))
	if st.Tokens.Citizen == "" {
		if st.Tokens.Citizen, st.Tokens.CitizenName, err = citizenToken(ctx, store); err != nil {
			return nil, fmt.Errorf("citizen token: %w", err)
		}
	}
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(stateFile, out, 0o600); err != nil {
		return nil, err
	}
	v.tokens = st.Tokens
	v.dir = filepath.Dir(stateFile)
	v.staffScope, v.backupScope, v.managerScope = "Hedensted Nord og Syd", backupTeamName, "Hedensted"
	v.alarmsWhere = "Hedensted"
	return v, nil
}

func registerHome(ctx context.Context, store *sqlstore.Store, h demoHome, district int64, i int) error {
	first, last, _ := strings.Cut(h.citizen, " ")
	street := streets[h.municipality][i%len(streets[h.municipality])]
	citizen, err := store.CreateCitizen(ctx, h.municipality, api.Citizen{
		Name:       h.citizen,
		Address:    fmt.Sprintf(street, 3+i*7%90),
		KeyBoxNote: fmt.Sprintf("Key box by the back door, code %04d (demo)", 1000+i*37%9000),
		Contacts:   []api.Contact{{Name: "Daughter " + strings.ToUpper(first[:1]) + ". " + last, Phone: fmt.Sprintf("+45 20 %02d %02d %02d", i%100, (i*7)%100, (i*13)%100), Relation: "daughter"}},
	})
	if err != nil {
		return err
	}
	home := vagt.HomeID("home-" + strings.TrimPrefix(string(h.gateway), "demo-gw-"))
	if err := store.CreateHome(ctx, home, district, citizen); err != nil {
		return err
	}
	if err := store.RegisterGateway(ctx, h.gateway, home); err != nil {
		return err
	}
	// The village was equipped over the past year, a home at a time, so the dashboard has
	// a rollout to show; a few fall detectors were given up within weeks (churn).
	now := time.Now()
	installed := now.AddDate(0, 0, -(20 + (i*37)%330))
	for j, d := range h.devices {
		at := installed.AddDate(0, 0, j*3)
		dev, err := store.InstallDevice(ctx, api.Scope{All: true}, registry.Device{ID: d.id, Gateway: h.gateway, Technology: d.tech, Label: d.label, InstalledAt: &at}, "demo", now)
		if err != nil {
			return err
		}
		if d.tech == vagt.TechFallDetector && i%5 == 0 && at.AddDate(0, 0, 45).Before(now) {
			if _, err := store.RemoveDevice(ctx, api.Scope{All: true}, dev.ID, at.AddDate(0, 0, 45), "demo", now); err != nil {
				return err
			}
		}
	}
	return nil
}

func issueTokens(ctx context.Context, store *sqlstore.Store, districtIDs []int64) (Tokens, error) {
	var t Tokens
	now := time.Now()
	for _, p := range []struct {
		into *string
		p    api.Principal
	}{
		{&t.Staff, api.Principal{Name: "demo-staff", Role: api.RoleStaff, Municipality: staffMunicipality, Districts: districtIDs[:2]}},
		{&t.Manager, api.Principal{Name: "demo-manager", Role: api.RoleManager, Municipality: 766}},
		{&t.National, api.Principal{Name: "demo-national", Role: api.RoleNational}},
		{&t.Admin, api.Principal{Name: "demo-admin", Role: api.RoleAdmin}},
	} {
		token, hash, err := auth.NewToken()
		if err != nil {
			return t, err
		}
		if _, err := store.IssueToken(ctx, p.p, hash, nil, now); err != nil {
			return t, fmt.Errorf("token for %s: %w", p.p.Name, err)
		}
		*p.into = token
	}
	return t, nil
}

// backupTeamName is the backup's district: the municipality's nurses, who have no homes of
// their own, so the backup sees an alarm only when it escalates to them.
const backupTeamName = "Hedensted Sygepleje"

// seedRosters gives both Hedensted districts (where the demo's alarms happen) a day and a
// night shift with the printed staff token's user on them, and a backup on duty, who gets
// a token of its own: an alarm nobody acknowledges goes to the backup's console
// (docs/alerts.md, "Rosters and escalation"). The backup's token is scoped to a district
// of its own without homes; scoped to a district with homes, it would see that district's
// alarms from the start and the demo could not show an escalation reaching someone new.
// A re-seed (a demo from before the backup team) revokes the backup's older token.
func seedRosters(ctx context.Context, store *sqlstore.Store, districtIDs []int64) (token string, team int64, err error) {
	now := time.Now()
	// A run that stopped after creating the team's district finds it again.
	ds, err := store.Districts(ctx, api.Scope{All: true}, staffMunicipality)
	if err != nil {
		return "", 0, err
	}
	for _, d := range ds {
		if d.Name == backupTeamName {
			team = d.ID
		}
	}
	if team == 0 {
		if team, err = store.CreateDistrict(ctx, staffMunicipality, backupTeamName); err != nil {
			return "", 0, err
		}
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return "", 0, err
	}
	backup := api.Principal{Name: "demo-backup", Role: api.RoleStaff, Municipality: staffMunicipality, Districts: []int64{team}}
	if _, err := store.IssueTokenWith(ctx, backup, hash, nil, now, auth.IssueOptions{IssuedBy: "demo", RevokeOlder: true}); err != nil {
		return "", 0, fmt.Errorf("token for %s: %w", backup.Name, err)
	}
	for _, d := range districtIDs[:2] {
		shifts := roster.DayAndNight([]string{"demo-staff"}, []string{"demo-staff"}, roster.Backup{User: backup.Name})
		if _, err := store.SaveRoster(ctx, api.Scope{All: true}, roster.Roster{District: d, Shifts: shifts}, "demo", now); err != nil {
			return "", 0, err
		}
	}
	return token, team, nil
}

// citizenToken activates the citizen of the first Hedensted home as a citizen does with
// the code in the municipality's letter, and returns the token and the citizen's name.
func citizenToken(ctx context.Context, store *sqlstore.Store) (string, string, error) {
	homes, err := store.Homes(ctx, api.Scope{All: true}, staffMunicipality)
	if err != nil {
		return "", "", err
	}
	var citizen int64
	for _, h := range homes {
		if h.Citizen != 0 {
			citizen = h.Citizen
			break
		}
	}
	if citizen == 0 {
		return "", "", nil // no home yet: a later run makes it
	}
	now := time.Now()
	_, codeHash, err := auth.NewActivationCode()
	if err != nil {
		return "", "", err
	}
	if err := store.IssueActivationCode(ctx, api.Scope{All: true}, citizen, codeHash, "demo", now.Add(time.Hour), now); err != nil {
		return "", "", err
	}
	token, hash, err := auth.NewToken()
	if err != nil {
		return "", "", err
	}
	exp, err := auth.Lifetime(api.RoleCitizen, 0, now)
	if err != nil {
		return "", "", err
	}
	if _, _, err := store.Activate(ctx, codeHash, hash, exp, now); err != nil {
		return "", "", err
	}
	cs, err := store.Citizens(ctx, api.Scope{All: true}, staffMunicipality, "demo", now)
	if err != nil {
		return "", "", err
	}
	for _, c := range cs {
		if c.ID == citizen {
			return token, c.Name, nil
		}
	}
	return token, "", nil
}
