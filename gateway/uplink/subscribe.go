package uplink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/internal/mqttsub"
)

// SubscribeState says whether the broker granted the uplink's subscriptions to its config
// and downlink lanes (QoS 1: the persistent session keeps what arrives while the gateway
// is away; or QoS 0, Options.LaneQoS0: it keeps nothing, and the api tells again). Without them the home never gets its care plan nor hears that help is coming,
// while alarms still go out: the gateway's /status and /metrics show it.
type SubscribeState struct {
	Subscribed bool     `json:"subscribed"`        // both granted on the current connection
	QoS        int      `json:"qos"`               // the QoS the broker granted (the lower of the two), -1 before a grant
	Refused    []string `json:"refused,omitempty"` // lanes the broker refused (SUBACK 0x80: its ACL, a limit), sorted
	Error      string   `json:"error,omitempty"`   // the last attempt's failure, "" once granted
	Failures   uint64   `json:"failures"`          // failed attempts since start
}

// subscriptions is the uplink's SubscribeState.
type subscriptions struct {
	subMu       sync.Mutex
	subOK       bool
	subQoS      int // granted, the lower of the lanes'; -1 none
	subRefused  []string
	subErr      string
	subFailing  int // failed attempts of the current burst
	subFailures atomic.Uint64
}

// Subscriptions returns the state of the config and downlink subscriptions.
func (u *Uplink) Subscriptions() SubscribeState {
	u.subMu.Lock()
	defer u.subMu.Unlock()
	qos := u.subQoS
	if !u.subOK {
		qos = -1
	}
	return SubscribeState{Subscribed: u.subOK, QoS: qos, Refused: append([]string(nil), u.subRefused...), Error: u.subErr,
		Failures: u.subFailures.Load()}
}

// subscribeLanes subscribes to the config and downlink lanes and reports whether the
// broker granted both. The first failure of a burst is logged as an error naming the
// lanes refused, then every tenth attempt; the recovery is logged with the count.
func (u *Uplink) subscribeLanes(ctx context.Context) bool {
	var errs []error
	qos, granted := byte(1), byte(2)
	if u.opts.LaneQoS0 {
		qos = 0
	}
	for _, l := range []struct {
		lane    vagt.Lane
		handler mqtt.MessageHandler
	}{{vagt.LaneConfig, u.onConfig}, {vagt.LaneDownlink, u.onDownlink}} {
		tok := u.client.Subscribe(vagt.Topic(u.opts.Gateway, l.lane), qos, l.handler)
		if !waitToken(ctx, tok, u.opts.PublishTimeout) {
			errs = append(errs, fmt.Errorf("%s: %w within %s", l.lane, mqttsub.ErrNoAnswer, u.opts.PublishTimeout))
			continue
		}
		if err := mqttsub.Result(tok); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, code := range tok.(*mqtt.SubscribeToken).Result() { // Result checked the type
			granted = min(granted, code)
		}
	}
	if ctx.Err() != nil {
		return false
	}
	err := errors.Join(errs...)
	var refused []string
	for _, e := range errs {
		refused = append(refused, mqttsub.Refused(e)...)
	}
	u.subMu.Lock()
	failing := u.subFailing
	u.subOK, u.subRefused, u.subQoS = err == nil, refused, int(granted)
	if err == nil {
		u.subErr, u.subFailing = "", 0
	} else {
		u.subErr = err.Error()
		u.subFailing++
	}
	u.subMu.Unlock()
	if err == nil {
		if failing > 0 {
			u.log.Info("uplink: config and downlink lanes subscribed", "failed_attempts", failing)
		}
		return true
	}
	u.subFailures.Add(1)
	if failing == 0 || (failing+1)%10 == 0 {
		u.log.Error("uplink: subscription to the config and downlink lanes failed: no care plan, no news of help; asking again while connected",
			"refused", refused, "attempt", failing+1, "err", err)
	}
	return false
}
