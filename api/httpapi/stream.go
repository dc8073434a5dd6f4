package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// Stream events that are not alert changes (docs/alerts.md, api/openapi.yaml).
const (
	// eventReset tells a client that resumed from an id this store never reached (a
	// restored database, a move from SQLite to PostgreSQL) to reload its list: the stream
	// goes on from the newest event, whose id it carries.
	eventReset = "reset"
)

// Default caps on live streams (issue 22): a staff member has a few tabs and devices; the
// total keeps one replica's memory bounded whoever connects.
const (
	DefaultMaxStreams             = 2000
	DefaultMaxStreamsPerPrincipal = 16
	streamRetryAfter              = "30" // seconds
)

// streamLimits counts open streams per principal and in total.
type streamLimits struct {
	total, perPrincipal int
	refused             *prometheus.CounterVec

	mu    sync.Mutex
	open  int
	by    map[string]int
	notes map[string]time.Time // last log line per reason: once per burst
}

func newStreamLimits(total, perPrincipal int) *streamLimits {
	return &streamLimits{total: total, perPrincipal: perPrincipal, by: map[string]int{}, notes: map[string]time.Time{},
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vagt_api_stream_refused_total",
			Help: "Live streams refused with 429, by reason (per_principal, total)."}, []string{"reason"})}
}

// acquire takes a place for key; "" and false with the reason when there is none.
func (l *streamLimits) acquire(key string) (reason string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.open >= l.total:
		reason = "total"
	case l.by[key] >= l.perPrincipal:
		reason = "per_principal"
	default:
		l.open++
		l.by[key]++
		return "", true
	}
	l.refused.WithLabelValues(reason).Inc()
	return reason, false
}

func (l *streamLimits) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.by[key]--; l.by[key] <= 0 {
		delete(l.by, key)
	}
}

// logOnce reports whether a refusal for reason should be logged: once a minute per reason.
func (l *streamLimits) logOnce(reason string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.notes[reason]) < time.Minute {
		return false
	}
	l.notes[reason] = now
	return true
}

func principalKey(p *api.Principal) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("%d/%s/%s", p.UserID, p.Role, p.Name)
}

// stream serves the caller's alert events as server-sent events. A client that reconnects
// with Last-Event-ID (or ?last_event_id=) first gets what it missed, read from the store's
// event log, then the live events; ids only increase, so none is sent twice. An id above
// the newest event, or one the log does not hold (the store was restored or replaced), gets
// a reset event and the stream goes on from the newest. Every stream starts with a lane event (is the alarm lane
// subscribed?) and gets another whenever that changes. A client that falls behind is
// dropped by the feed, and one whose socket does not take a write within
// StreamWriteTimeout is cut off, so neither holds up the others. Streams are capped per
// principal and in total (429 with Retry-After).
func (s *server) stream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, scope, err := alertScope(r)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		resume := r.Header.Get("Last-Event-ID")
		if resume == "" {
			resume = r.URL.Query().Get("last_event_id")
		}
		var last int64
		if resume != "" {
			if last, err = strconv.ParseInt(resume, 10, 64); err != nil || last < 0 {
				writeError(w, r, s.Logger, fmt.Errorf("%w: Last-Event-ID %q", api.ErrInvalid, resume))
				return
			}
		}
		key := principalKey(p)
		if reason, ok := s.streams.acquire(key); !ok {
			if s.streams.logOnce(reason, time.Now()) {
				s.Logger.Warn("stream refused: too many open streams (logged once a minute per reason)", "reason", reason,
					"actor", p.Name, "remote", r.RemoteAddr)
			}
			w.Header().Set("Retry-After", streamRetryAfter)
			writeJSON(w, http.StatusTooManyRequests, errorBody{Error: errorDetail{Code: "too_many_streams",
				Message: "too many open alert streams (" + reason + "); close another tab or device, or retry later"}})
			return
		}
		defer s.streams.release(key)
		select {
		case <-s.Feed.Started():
		case <-r.Context().Done():
			return
		}
		// Subscribe before reading the backlog: an event committed in between arrives
		// live, and the id check below drops it if the backlog had it.
		// Only staff count as somebody listening on a tier: a manager may watch, but
		// cannot acknowledge or take, so a tier they alone hear escalates at once.
		subscribe := s.Feed.Subscribe
		if !p.CanActOnAlerts() {
			subscribe = s.Feed.SubscribeWatching
		}
		sub := subscribe(scope)
		defer sub.Close()
		reset, why := false, "ahead_of_store"
		if resume != "" {
			newest, err := s.Alerts.LastEventID(r.Context())
			if err != nil {
				writeError(w, r, s.Logger, err)
				return
			}
			if last > newest {
				s.Logger.Warn("stream: Last-Event-ID above the newest event; the client reloads", "last_event_id", last, "newest", newest, "actor", p.Name)
				last, reset = newest, true
			} else if last > 0 {
				// An id this log never wrote: the client followed another store (a restore
				// moves the ids past a gap, `vagt alarms replay --event-id-gap`); resuming
				// would skip what this log wrote below the id.
				held, err := s.Alerts.HasEvent(r.Context(), last)
				if err != nil {
					writeError(w, r, s.Logger, err)
					return
				}
				if !held {
					s.Logger.Warn("stream: Last-Event-ID not in the event log (a restored store); the client reloads", "last_event_id", last, "newest", newest, "actor", p.Name)
					last, reset, why = newest, true, "not_in_store"
				}
			}
		}

		rc := http.NewResponseController(w)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		send := func(write func() error) bool {
			if err := rc.SetWriteDeadline(time.Now().Add(s.StreamWriteTimeout)); err != nil {
				return false
			}
			if err := write(); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		if !send(func() error { _, err := fmt.Fprint(w, "retry: 2000\n\n"); return err }) {
			return
		}
		lane := func(ev alerts.Event) bool { // no id: it is not in the event log
			return send(func() error { _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Kind, ev.Data); return err })
		}
		if st, ok := s.Feed.Lane(); ok && !lane(st.Event()) {
			return
		}
		if reset {
			data, _ := json.Marshal(map[string]any{"last_event_id": last, "reason": why})
			if !send(func() error {
				_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", last, eventReset, data)
				return err
			}) {
				return
			}
		}
		event := func(ev alerts.Event) bool {
			if ev.Kind == alerts.EventLane {
				return lane(ev)
			}
			if ev.ID <= last || !scope.Reaches(ev.Municipality, ev.District, ev.Audience) {
				return true
			}
			last = ev.ID
			return send(func() error {
				_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Kind, ev.Data)
				return err
			})
		}
		if resume != "" {
			for {
				evs, err := s.Alerts.EventsAfter(r.Context(), last, 500)
				if err != nil {
					s.Logger.Warn("stream: backlog", "after", last, "err", err)
					return // the client reconnects with the same Last-Event-ID
				}
				for _, ev := range evs {
					if !event(ev) {
						return
					}
					last = max(last, ev.ID) // skipped out-of-scope events count as seen
				}
				if len(evs) < 500 {
					break
				}
			}
		}
		keepAlive := time.NewTicker(s.StreamKeepAlive)
		defer keepAlive.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case ev, ok := <-sub.C:
				if !ok {
					return // dropped for falling behind, or shutting down
				}
				if !event(ev) {
					return
				}
			case <-keepAlive.C:
				if !send(func() error { _, err := fmt.Fprint(w, ": keep-alive\n\n"); return err }) {
					return
				}
			}
		}
	})
}
