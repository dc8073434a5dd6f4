package chaos

import (
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/api/alerts"
)

// TestReadEvents: the stream reader the chaos watcher and the restore drill's console
// share hands over every event whole — an event without id (a reset) too — and carries
// nothing of one event into the next.
func TestReadEvents(t *testing.T) {
	stream := ": keep-alive\n\n" +
		"id: 7\nevent: new\ndata: {\"change\":\"raised\",\"alert\":{\"id\":3,\"device\":\"pendant-1\"}}\n\n" +
		"event: reset\ndata: {}\n\n" +
		"id: 9\nevent: update\ndata: {\"change\":\"acknowledged\"}\n\n" +
		"id: 10\nevent: new\ndata: {\"alert\":{\"id\":4,\"device\":\"pendant-2\"}}\n" // cut before its end
	type ev struct {
		id     int64
		name   string
		change string
		device string
	}
	var got []ev
	readEvents(strings.NewReader(stream), func(id int64, name string, d alerts.EventData) {
		got = append(got, ev{id, name, d.Change, string(d.Alert.Device)})
	})
	want := []ev{{7, "new", "raised", "pendant-1"}, {0, "reset", "", ""}, {9, "update", "acknowledged", ""}}
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
