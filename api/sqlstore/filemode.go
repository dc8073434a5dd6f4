package sqlstore

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// privateFiles makes the SQLite database at dsn readable by its owner only (0600) before
// SQLite opens it: it holds names, addresses and key-box codes. SQLite gives the -wal and
// -shm files it creates the database file's mode, so they follow; files left with a wider
// mode by an older version are narrowed. In-memory databases have no file.
func privateFiles(dsn string) error {
	path := strings.TrimPrefix(dsn, "file:")
	path, query, _ := strings.Cut(path, "?")
	if path == "" || path == ":memory:" || strings.Contains(query, "mode=memory") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, st.Mode().Perm()&0o700); err != nil {
				return err
			}
		}
	}
	return nil
}
