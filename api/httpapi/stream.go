package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt/api/alerts"
)

// stream serves the caller's alert events as server-sent events. A client that reconnects
// with Last-Event-ID (or ?last_event_id=) first gets what it missed, read from the store's
// event log, then the live events; ids only increase, so none is sent twice. A client
// that falls behind is dropped by the feed, and one whose socket does not take a write
// within StreamWriteTimeout is cut off, so neither holds up the others.
func (s *server) stream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, scope, err := alertScope(r)
		if err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		resume := r.Header.Get("Last-Event-ID")
		if resume == "" {
			resume = r.URL.Query().Get("last_event_id")
		}
		var last int64
		if resume != "" {
			if last, err = strconv.ParseInt(resume, 10, 64); err != nil || last < 0 {
				writeError(w, r, s.Log, fmt.Errorf("%w: Last-Event-ID %q", alerts.ErrInvalid, resume))
				return
			}
		}
		select {
		case <-s.Feed.Started():
		case <-r.Context().Done():
			return
		}
		// Subscribe before reading the backlog: an event committed in between arrives
		// live, and the id check below drops it if the backlog had it.
		sub := s.Feed.Subscribe(scope)
		defer sub.Close()

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
		event := func(ev alerts.Event) bool {
			if ev.ID <= last || !scope.Allows(ev.Municipality, ev.District) {
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
					s.Log.Warn("stream: backlog", "after", last, "err", err)
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
