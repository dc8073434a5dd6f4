package demo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/auth"
	"github.com/vagt-dk/vagt/api/roster"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// TestSeedRosters: the demo's first run gives both Hedensted districts (where its alarms
// happen, and the printed staff token's) a day and a night shift with that token's user
// on duty and a backup with a printed token; a second run keeps them.
func TestSeedRosters(t *testing.T) {
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	state := filepath.Join(t.TempDir(), "tokens.json")
	v, err := seed(ctx, store, 5, state)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{time.Now(), time.Now().Add(12 * time.Hour)} { // a day and a night
		b, err := store.DutyAt(ctx, api.Scope{All: true}, staffMunicipality, at)
		if err != nil {
			t.Fatal(err)
		}
		homes := staffDistricts(t, store, v)
		b.Districts = slices.DeleteFunc(b.Districts, func(d roster.DistrictDuty) bool { return !slices.Contains(homes, d.District) })
		if len(b.Districts) != 2 {
			t.Fatalf("duty: %+v", b)
		}
		for _, d := range b.Districts {
			if d.Shift == nil || !slices.Equal(d.Staff, []string{"demo-staff"}) || d.Backup.User != "demo-backup" {
				t.Errorf("%s at %s: %+v", d.Name, at, d)
			}
		}
	}
	if v.tokens.Backup == "" {
		t.Fatal("no backup token")
	}
	p, err := store.Principal(ctx, auth.HashToken(v.tokens.Backup), time.Now())
	if err != nil || p.Name != "demo-backup" {
		t.Fatalf("the backup token: %+v %v", p, err)
	}
	// The backup's district is its own, without homes: it sees an alarm only once it
	// escalates to the backup, not from the start as Hedensted Syd's staff would.
	if len(p.Districts) != 1 || slices.Contains(staffDistricts(t, store, v), p.Districts[0]) {
		t.Fatalf("the backup token's districts %v overlap the homes' %v", p.Districts, staffDistricts(t, store, v))
	}
	staff, err := store.Principal(ctx, auth.HashToken(v.tokens.Staff), time.Now())
	if err != nil || len(staff.Districts) != 2 || staff.Municipality != staffMunicipality {
		t.Fatalf("the staff token: %+v %v", staff, err)
	}
	again, err := seed(ctx, store, 5, state)
	if err != nil || again.tokens != v.tokens {
		t.Fatalf("a second run: %+v %v", again.tokens, err)
	}
}

// staffDistricts are the districts of the village's homes in the staff's municipality.
func staffDistricts(t *testing.T, store *sqlstore.Store, v *village) []int64 {
	t.Helper()
	ds, err := store.Districts(t.Context(), api.Scope{All: true}, staffMunicipality)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, h := range v.homes {
		for _, d := range ds {
			if h.municipality == staffMunicipality && d.Name == districts[h.district].name && !slices.Contains(ids, d.ID) {
				ids = append(ids, d.ID)
			}
		}
	}
	return ids
}

// TestSeedBackupTeamOnOldData: a demo whose data is from before the backup's own district
// (its backup scoped to Hedensted Syd, where homes are, so it saw their alarms at once)
// gets the district and a new backup token at its next start; the old token is revoked.
func TestSeedBackupTeamOnOldData(t *testing.T) {
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "vagt.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	state := filepath.Join(t.TempDir(), "tokens.json")
	if _, err := seed(ctx, store, 5, state); err != nil {
		t.Fatal(err)
	}
	// Make it the old data: the backup in Hedensted Syd and no team in the state.
	var st seedState
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	oldToken, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.IssueToken(ctx, api.Principal{Name: "demo-backup", Role: api.RoleStaff, Municipality: staffMunicipality, Districts: st.Districts[1:2]}, hash, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Tokens.Backup, st.BackupTeam = oldToken, 0
	if data, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, data, 0o600); err != nil {
		t.Fatal(err)
	}

	v, err := seed(ctx, store, 5, state)
	if err != nil {
		t.Fatal(err)
	}
	if v.tokens.Backup == oldToken {
		t.Fatal("the old backup token is still the printed one")
	}
	if _, err := store.Principal(ctx, auth.HashToken(oldToken), time.Now()); err == nil {
		t.Error("the old backup token still signs in")
	}
	p, err := store.Principal(ctx, auth.HashToken(v.tokens.Backup), time.Now())
	if err != nil || len(p.Districts) != 1 || slices.Contains(staffDistricts(t, store, v), p.Districts[0]) {
		t.Fatalf("the new backup token: %+v %v", p, err)
	}
	if again, err := seed(ctx, store, 5, state); err != nil || again.tokens != v.tokens {
		t.Fatalf("a third run: %+v %v", again.tokens, err)
	}
}
