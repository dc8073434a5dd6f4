package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
)

// watcher is a care console: it follows the alert stream, reconnecting with Last-Event-ID
// whenever the api goes away, and notes when each alert first appeared.
type watcher struct {
	url   string
	token func() string

	mu       sync.Mutex
	last     int64
	seen     map[int64]time.Time         // alert id → first event for it
	byDevice map[vagt.DeviceID]time.Time // device → first "new" event
	newIDs   map[int64]vagt.DeviceID
	connects int
}

func newWatcher(url string, token func() string) *watcher {
	return &watcher{url: url, token: token, seen: map[int64]time.Time{}, byDevice: map[vagt.DeviceID]time.Time{}, newIDs: map[int64]vagt.DeviceID{}}
}

func (w *watcher) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.follow(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (w *watcher) follow(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+w.token())
	w.mu.Lock()
	if w.last > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(w.last, 10))
	}
	w.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	w.mu.Lock()
	w.connects++
	w.mu.Unlock()
	readEvents(resp.Body, func(id int64, name string, data alerts.EventData) {
		if id != 0 {
			w.note(id, name, data, time.Now())
		}
	})
}

// readEvents reads the alert stream's server-sent events from r until it ends, and calls
// fn with each one's id (0 when it has none, as a reset), name and data.
func readEvents(r io.Reader, fn func(id int64, name string, data alerts.EventData)) {
	sc := bufio.NewScanner(r)
	var (
		id   int64
		name string
		data alerts.EventData
	)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id, _ = strconv.ParseInt(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			name = line[7:]
		case strings.HasPrefix(line, "data: "):
			_ = json.Unmarshal([]byte(line[6:]), &data)
		case line == "":
			if id != 0 || name != "" {
				fn(id, name, data)
			}
			id, name, data = 0, "", alerts.EventData{}
		}
	}
}

func (w *watcher) note(id int64, name string, d alerts.EventData, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = max(w.last, id)
	if _, ok := w.seen[d.Alert.ID]; !ok && d.Alert.ID != 0 {
		w.seen[d.Alert.ID] = at
	}
	if name == string(alerts.EventNew) {
		w.newIDs[d.Alert.ID] = d.Alert.Device
		if _, ok := w.byDevice[d.Alert.Device]; !ok {
			w.byDevice[d.Alert.Device] = at
		}
	}
}

// arrived returns when the alert of dev first appeared on the stream.
func (w *watcher) arrived(dev vagt.DeviceID) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.byDevice[dev]
	return t, ok
}

func (w *watcher) sawAlert(id int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.seen[id]
	return ok
}

// reconnects is how often the watcher connected to the stream.
func (w *watcher) reconnects() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.connects
}
