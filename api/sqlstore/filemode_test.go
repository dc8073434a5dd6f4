package sqlstore_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// The SQLite database and its WAL and SHM files are the owner's only (issue 22, item 7),
// whatever the umask, and a database left readable by an older version is narrowed.
func TestSQLiteFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	db := filepath.Join(dir, "vagt.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{db, db + "-wal", db + "-shm"} {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", when, filepath.Base(p), st.Mode().Perm())
			}
		}
	}
	s, err := sqlstore.Open(t.Context(), db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCitizen(t.Context(), 766, api.Citizen{Name: "Karen Jensen", KeyBoxNote: "1234"}); err != nil {
		t.Fatal(err)
	}
	check("new database")
	s.Close()
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = sqlstore.Open(t.Context(), "file:"+db, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateCitizen(t.Context(), 766, api.Citizen{Name: "Ole"}); err != nil {
		t.Fatal(err)
	}
	check("database left 0644")
}
