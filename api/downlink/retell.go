package downlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// maxRetell bounds the alerts waiting to be told again: past it a request is dropped (the
// gateway sends its alarm again later, and that asks again), so a flood of redeliveries
// cannot grow the api's memory.
const maxRetell = 4096

// Retell asks Run to publish again the current state of an alert: the lane calls it when a
// gateway redelivers an alarm the store already holds (sqlstore ChangeDuplicate). Such a
// redelivery writes no event, so without it a gateway that lost its "received" (or whose
// api restarted before telling it) would resend until it gives up. The alert exists and is
// committed when the caller learns of the duplicate; Run reads its state from the store,
// after the event log's news. Retell never blocks and never publishes on the caller's
// goroutine (the alarm lane does not wait on the downlink).
func (n *Notifier) Retell(alert int64) {
	if alert <= 0 {
		return
	}
	n.mu.Lock()
	if n.retell == nil {
		n.retell = map[int64]struct{}{}
	}
	if len(n.retell) < maxRetell {
		n.retell[alert] = struct{}{}
	}
	n.mu.Unlock()
	n.Wake()
}

// retellAll publishes the alerts Retell asked for; one whose publish fails stays asked for
// and is tried on the next round. False when ctx ended.
func (n *Notifier) retellAll(ctx context.Context) bool {
	n.mu.Lock()
	ids := make([]int64, 0, len(n.retell))
	for id := range n.retell {
		ids = append(ids, id)
	}
	n.mu.Unlock()
	for _, id := range ids {
		if ctx.Err() != nil {
			return false
		}
		_, err := n.retellOne(ctx, id)
		if err != nil && !errors.Is(err, errPermanent) {
			n.failed.Inc()
			n.o.Logger.Warn("downlink: retell failed; retrying", "alert", id, "err", err)
			return true // kept; the next round tries again
		}
		if err != nil {
			n.o.Logger.Error("downlink: alert not told again", "alert", id, "err", err)
		}
		n.mu.Lock()
		delete(n.retell, id)
		n.mu.Unlock()
	}
	return true
}

// retellOne publishes an alert's current state; false when there was nothing to tell (the
// alert is gone, or holds no press of the gateway's).
func (n *Notifier) retellOne(ctx context.Context, id int64) (bool, error) {
	a, err := n.store.Alert(ctx, id)
	if errors.Is(err, api.ErrNotFound) {
		return false, nil // deleted since (retention): nothing to tell
	}
	if err != nil {
		return false, err
	}
	state, at := helpNow(a) // presence.go
	seqs, err := n.store.AlertRaiseSeqs(ctx, id, vagt.MaxDownlinkEvents)
	if err != nil || len(seqs) == 0 {
		return false, err
	}
	msg := vagt.Downlink{Gateway: a.Gateway, Events: seqs, State: state, Time: at, Alert: uint64(id)}
	data, err := vagt.EncodeDownlink(&msg)
	if err != nil {
		return false, errors.Join(errPermanent, err)
	}
	if err := n.pub.Publish(ctx, vagt.Topic(msg.Gateway, vagt.LaneDownlink), data); err != nil {
		return false, err
	}
	n.published.Inc()
	n.retold.Inc()
	n.o.Logger.Debug("downlink told again", "gateway", msg.Gateway, "alert", id, "state", state, "events", len(seqs))
	return true, nil
}

// RetellMargin is how long before a gateway's previous online status RetellGateway starts:
// the gateway was connected until about its last status, but a connection can die
// silently before the status says so (keep-alive and the broker's 1.5× of it).
const RetellMargin = time.Minute

const (
	// maxRetellGateways bounds the gateways waiting for a retell: a reconnect storm of a
	// whole region fits (about 100 bytes each); past it a request is dropped and counted
	// (the gateway's unconfirmed alarm is resent, and that asks again: Retell).
	maxRetellGateways = 1 << 16
	// retellGatewaysPerRound: the event log's news is not held behind a storm of retells.
	retellGatewaysPerRound = 256
	// retellGatewayAlerts is how many of a gateway's alerts one retell tells at most.
	retellGatewayAlerts = 64
	// maxNews bounds the note of when each gateway's alerts last changed: past it the note
	// starts again empty (and covers only what follows).
	maxNews = 1 << 18
	// noteBackfill and noteBackfillEvents: how far back before Run's start the note reaches
	// (a gateway online throughout was heard within its heartbeat, 60 s by default), and how
	// many events it reads for it at most (one read at start).
	noteBackfill       = 10 * time.Minute
	noteBackfillEvents = 100_000
)

// gatewayNews is the fast path of RetellGateway: the time of the latest event of each
// gateway's alerts that Run has read, valid for every time from on (the events before it
// were not read). A gateway whose alerts did not change since it was last heard online
// needs no store read: the online status of a heartbeat, and nearly every return.
type gatewayNews struct {
	from   time.Time // zero: the note covers nothing yet
	latest map[vagt.GatewayID]time.Time
}

// noteFrom starts the note at from, when Run's cursor was read: Run reads every event
// committed after it. The note reaches back noteBackfill before from when the store says
// which gateways' alerts changed then (at most noteBackfillEvents events), so that the
// statuses of gateways that were online while the api was down take the fast path too.
func (n *Notifier) noteFrom(ctx context.Context, from time.Time) {
	latest, covered, err := n.store.GatewayChangesSince(ctx, from.Add(-noteBackfill), noteBackfillEvents)
	if err != nil {
		n.o.Logger.Warn("downlink: the note of gateways' news starts empty (gateways back online read the store until it covers their absence)", "err", err)
		latest, covered = map[vagt.GatewayID]time.Time{}, from
	}
	n.mu.Lock()
	n.news = gatewayNews{from: covered, latest: latest}
	n.mu.Unlock()
}

// note records that an alert of gw changed at at.
func (n *Notifier) note(gw vagt.GatewayID, at time.Time) {
	if gw == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.news.latest == nil {
		return
	}
	if len(n.news.latest) >= maxNews {
		// Start again: the note now covers only what follows (a store read for the rest).
		n.news = gatewayNews{from: at, latest: map[vagt.GatewayID]time.Time{}}
	}
	if at.After(n.news.latest[gw]) {
		n.news.latest[gw] = at
	}
}

// RetellGateway asks Run to tell a gateway back online (an online status) the current
// state of its alerts that changed since it was last heard online (previous, from
// sqlstore's RecordStatusSeen; zero if never) less RetellMargin: with QoS 0 lanes
// (docs/gateway.md, "Lane QoS") a downlink published while the gateway was away reached
// nobody. previous zero: since now less RetellMargin (what the gateway's first connection
// may have raced). The gateway applies a downlink it already had as a no-op.
//
// As Retell, it never blocks and never publishes on the caller's goroutine (the status
// lane's): it notes the gateway and wakes Run, which reads the gateway's alerts that
// changed (one indexed read) and tells them. A gateway none of whose alerts changed since
// costs neither: an in-memory note of each gateway's latest change, kept from the event
// log Run reads, says so (gatewayNews).
func (n *Notifier) RetellGateway(gw vagt.GatewayID, previous, now time.Time) {
	since := now.Add(-RetellMargin)
	if !previous.IsZero() {
		since = previous.Add(-RetellMargin)
	}
	n.mu.Lock()
	if !n.news.from.IsZero() && !since.Before(n.news.from) && !n.news.latest[gw].After(since) {
		// Nothing of the gateway's changed since (Run has read every event up to its cursor;
		// one it has not read yet it publishes to the gateway, online now, anyway).
		n.mu.Unlock()
		n.gatewayRetells.WithLabelValues("nothing").Inc()
		return
	}
	if n.gateways == nil {
		n.gateways = map[vagt.GatewayID]time.Time{}
	}
	cur, queued := n.gateways[gw]
	switch {
	case queued && since.Before(cur):
		n.gateways[gw] = since
	case !queued && len(n.gateways) < maxRetellGateways:
		n.gateways[gw] = since
	case !queued:
		n.mu.Unlock()
		n.gatewayRetells.WithLabelValues("dropped").Inc()
		return
	}
	n.mu.Unlock()
	n.Wake()
}

// retellGateways tells the gateways RetellGateway asked for, up to a round's worth (more
// wait for the next round, which it asks for). A gateway whose read or publish fails stays
// asked for. False when ctx ended.
func (n *Notifier) retellGateways(ctx context.Context) bool {
	type ask struct {
		gw    vagt.GatewayID
		since time.Time
	}
	n.mu.Lock()
	asks := make([]ask, 0, min(len(n.gateways), retellGatewaysPerRound))
	for gw, since := range n.gateways {
		if len(asks) == retellGatewaysPerRound {
			n.Wake() // the rest in the next round, after the event log's news
			break
		}
		asks = append(asks, ask{gw, since})
	}
	n.mu.Unlock()
	for _, a := range asks {
		if ctx.Err() != nil {
			return false
		}
		told, err := n.retellGateway(ctx, a.gw, a.since)
		if err != nil {
			n.failed.Inc()
			if n.gatewayFailures++; n.gatewayFailures == 1 { // once per outage, not per round
				n.o.Logger.Warn("downlink: telling a gateway back online what it missed failed; retrying", "gateway", a.gw, "err", err)
			}
			return true // kept; the next round tries again
		}
		if n.gatewayFailures > 0 {
			n.o.Logger.Info("downlink: telling gateways back online what they missed again", "failed_rounds", n.gatewayFailures)
			n.gatewayFailures = 0
		}
		n.mu.Lock()
		if n.gateways[a.gw].Equal(a.since) { // else asked again meanwhile, from earlier: once more
			delete(n.gateways, a.gw)
		}
		n.mu.Unlock()
		if told > 0 {
			n.gatewayRetells.WithLabelValues("told").Inc()
		} else {
			n.gatewayRetells.WithLabelValues("nothing").Inc()
		}
	}
	return true
}

// retellGateway publishes again the state of each of gw's alerts that changed after since,
// oldest change first; it returns how many it told.
func (n *Notifier) retellGateway(ctx context.Context, gw vagt.GatewayID, since time.Time) (int, error) {
	evs, err := n.store.GatewayEventsSince(ctx, gw, since, retellGatewayAlerts)
	if err != nil {
		return 0, err
	}
	told := 0
	for _, ev := range slices.Backward(evs) {
		var d alerts.EventData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			n.o.Logger.Error("downlink: event not told again", "event", ev.ID, "err", fmt.Errorf("event data: %w", err))
			continue
		}
		if d.Alert.ID <= 0 {
			n.o.Logger.Error("downlink: event not told again: it names no alert", "event", ev.ID)
			continue
		}
		published, err := n.retellOne(ctx, d.Alert.ID)
		if err != nil && !errors.Is(err, errPermanent) {
			return told, err
		}
		if err != nil {
			n.o.Logger.Error("downlink: alert not told again", "alert", d.Alert.ID, "err", err)
			continue
		}
		if published {
			told++
		}
	}
	return told, nil
}
