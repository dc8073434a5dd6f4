package alerts_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// memEvents is an in-memory event log.
type memEvents struct {
	mu      sync.Mutex
	evs     []alerts.Event
	started chan struct{} // closed when the feed has read where the log ends
	once    sync.Once
}

func (m *memEvents) add(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range n {
		m.evs = append(m.evs, alerts.Event{ID: int64(len(m.evs) + 1), Kind: alerts.EventNew, Municipality: 766, District: 1})
	}
}

func (m *memEvents) EventsAfter(_ context.Context, after int64, limit int) ([]alerts.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []alerts.Event
	for _, e := range m.evs {
		if e.ID > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memEvents) LastEventID(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.once.Do(func() { close(m.started) })
	return int64(len(m.evs)), nil
}

// TestFeedDropsSlowSubscriber: a subscriber that does not read is dropped when its buffer
// is full; one that reads gets every event, in order; one out of scope gets none.
func TestFeedDropsSlowSubscriber(t *testing.T) {
	src := &memEvents{started: make(chan struct{})}
	f := alerts.NewFeed(src, alerts.FeedOptions{Buffer: 4})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	<-src.started

	stuck := f.Subscribe(api.Scope{Municipality: 766})
	other := f.Subscribe(api.Scope{Municipality: 101})
	reader := f.Subscribe(api.Scope{Municipality: 766, Districts: []int64{1}})
	got := make(chan int64, 100)
	wg.Go(func() {
		for ev := range reader.C {
			got <- ev.ID
		}
		close(got)
	})
	// One event at a time, so the reader is never behind by more than one.
	for want := int64(1); want <= 50; want++ {
		src.add(1)
		f.Wake()
		if id := <-got; id != want {
			t.Fatalf("reader got event %d, want %d", id, want)
		}
	}
	// The stuck subscriber's channel holds its buffer and is then closed.
	count := 0
	for range stuck.C {
		count++
	}
	if count != 4 {
		t.Fatalf("stuck subscriber got %d events before being dropped, want its buffer of 4", count)
	}
	select {
	case ev := <-other.C:
		t.Fatalf("out-of-scope subscriber got %+v", ev)
	default:
	}
	reader.Close()
}

// TestStreamsByDistrict: a stream counts under every district its scope covers, "all" for a
// municipality-wide or national scope, and is no longer counted once closed.
func TestStreamsByDistrict(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := alerts.NewFeed(&memEvents{started: make(chan struct{})}, alerts.FeedOptions{Registerer: reg})
	staff := f.Subscribe(api.Scope{Municipality: 766, Districts: []int64{3, 4}})
	central := f.Subscribe(api.Scope{Municipality: 766})
	admin := f.Subscribe(api.Scope{All: true})
	want := `
# HELP vagt_api_streams_by_district Live streams by the districts their scope covers (district "all": the whole municipality; municipality "all": every one).
# TYPE vagt_api_streams_by_district gauge
vagt_api_streams_by_district{district="3",municipality="766"} 1
vagt_api_streams_by_district{district="4",municipality="766"} 1
vagt_api_streams_by_district{district="all",municipality="766"} 1
vagt_api_streams_by_district{district="all",municipality="all"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vagt_api_streams_by_district"); err != nil {
		t.Fatal(err)
	}
	staff.Close()
	central.Close()
	admin.Close()
	staff.Close() // twice: counted down once
	if err := testutil.GatherAndCompare(reg, strings.NewReader(strings.NewReplacer("} 1", "} 0").Replace(want)), "vagt_api_streams_by_district"); err != nil {
		t.Fatal(err)
	}
}
