package gateway

import "time"

// An alarm kept until the platform confirms it (docs/gateway.md): the broker's PUBACK
// moves a raise to the spool's unconfirmed bucket; the downlink's news of it (received, or
// later) deletes it; the tick resends one not confirmed in time (spool/confirm.go).

// confirmAlarms turns the spool's confirmation on as configured — unless the link gives
// no downlink, when no confirmation can ever come and every alarm would be resent for
// nothing.
func (g *Gateway) confirmAlarms() error {
	after, attempts := time.Duration(g.cfg.Spool.ConfirmAfter), g.cfg.Spool.ConfirmAttempts
	if g.downlinks() == nil && after > 0 && attempts > 0 {
		g.log.Warn("alarms are not kept for the platform's confirmation: the link gives no downlink")
		after, attempts = 0, 0
	}
	return g.spool.ConfirmAlarms(after, attempts)
}

// confirmed takes the event seqs a downlink message named (on the pipeline).
func (g *Gateway) confirmed(seqs []uint64) {
	if _, err := g.spool.Confirm(seqs); err != nil {
		g.log.Error("confirm alarms in the spool", "err", err)
	}
}
