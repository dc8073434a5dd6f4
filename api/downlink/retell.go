package downlink

import (
	"context"
	"errors"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
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
		err := n.retellOne(ctx, id)
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

func (n *Notifier) retellOne(ctx context.Context, id int64) error {
	a, err := n.store.Alert(ctx, id)
	if errors.Is(err, api.ErrNotFound) {
		return nil // deleted since (retention): nothing to tell
	}
	if err != nil {
		return err
	}
	state, at := helpNow(a) // presence.go
	seqs, err := n.store.AlertRaiseSeqs(ctx, id, vagt.MaxDownlinkEvents)
	if err != nil || len(seqs) == 0 {
		return err
	}
	msg := vagt.Downlink{Gateway: a.Gateway, Events: seqs, State: state, Time: at, Alert: uint64(id)}
	data, err := vagt.EncodeDownlink(&msg)
	if err != nil {
		return errors.Join(errPermanent, err)
	}
	if err := n.pub.Publish(ctx, vagt.Topic(msg.Gateway, vagt.LaneDownlink), data); err != nil {
		return err
	}
	n.published.Inc()
	n.retold.Inc()
	n.o.Logger.Debug("downlink told again", "gateway", msg.Gateway, "alert", id, "state", state, "events", len(seqs))
	return nil
}
