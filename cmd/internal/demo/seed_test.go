package demo

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vagt-dk/vagt/api/auth"
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
		b, err := store.DutyAt(ctx, staffMunicipality, at)
		if err != nil {
			t.Fatal(err)
		}
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
	staff, err := store.Principal(ctx, auth.HashToken(v.tokens.Staff), time.Now())
	if err != nil || len(staff.Districts) != 2 || staff.Municipality != staffMunicipality {
		t.Fatalf("the staff token: %+v %v", staff, err)
	}
	again, err := seed(ctx, store, 5, state)
	if err != nil || again.tokens != v.tokens {
		t.Fatalf("a second run: %+v %v", again.tokens, err)
	}
}
