package brokerauth

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// watchedFile is a file of lines read again when it changes (checked at most once a
// second), so a gateway added to it gets in without a restart. A file that cannot be read
// again, or reads badly (half written), keeps what it had.
type watchedFile[T any] struct {
	path  string
	parse func(lines []string) (T, error)

	mu      sync.Mutex
	value   T
	loaded  bool
	modTime time.Time
	size    int64
	checked time.Time
}

func openWatched[T any](path string, parse func([]string) (T, error)) (*watchedFile[T], error) {
	f := &watchedFile[T]{path: path, parse: parse}
	if err := f.reload(time.Now()); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *watchedFile[T]) get() T {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); now.Sub(f.checked) >= time.Second {
		_ = f.reload(now)
	}
	return f.value
}

func (f *watchedFile[T]) reload(now time.Time) error {
	f.checked = now
	st, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("brokerauth: %w", err)
	}
	if f.loaded && st.ModTime().Equal(f.modTime) && st.Size() == f.size {
		return nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("brokerauth: %w", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("brokerauth: %s: %w", f.path, err)
	}
	v, err := f.parse(lines)
	if err != nil {
		return fmt.Errorf("brokerauth: %s: %w", f.path, err)
	}
	f.value, f.loaded, f.modTime, f.size = v, true, st.ModTime(), st.Size()
	return nil
}

// Registered is the list of gateway and tracker ids that may connect (one a line, "#"
// comments), as the registry lists them: with it, a certificate the CA signed for a
// gateway that was since decommissioned no longer gets in. The services need no entry.
type Registered struct{ f *watchedFile[map[string]bool] }

// OpenRegistered reads path.
func OpenRegistered(path string) (*Registered, error) {
	f, err := openWatched(path, func(lines []string) (map[string]bool, error) {
		ids := make(map[string]bool, len(lines))
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				ids[l] = true
			}
		}
		return ids, nil
	})
	if err != nil {
		return nil, err
	}
	return &Registered{f}, nil
}

// Has reports whether id is registered.
func (r *Registered) Has(id string) bool { return r.f.get()[id] }
