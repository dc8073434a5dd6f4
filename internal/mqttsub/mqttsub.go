// Package mqttsub checks the answer to an MQTT SUBSCRIBE. A broker may refuse a topic
// filter with return code 0x80 (NATS when its permissions deny the topic or past its
// consumer limit, Mosquitto's dynamic-security plugin when a role denies it; Mosquitto's
// acl_file grants instead and then withholds the messages, which no SUBACK check can see:
// TestACLFileGrantsDeniedSubscription), and paho.mqtt.golang does not report that as the
// token's error: the codes are only in the SubscribeToken's Result. A refused subscription
// taken for a granted one is a consumer that reports itself healthy while nothing ever
// arrives, so every subscriber of vagt checks its answer here.
package mqttsub

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vagt-dk/vagt/internal/backoff"
)

// Failure is the SUBACK return code of a refused filter (MQTT 3.1.1, 3.9.3).
const Failure = 0x80

// ErrRefused: the broker answered, and refused at least one filter (0x80). The broker's
// answer will not change by asking again until its configuration does (an ACL, a limit):
// retry slowly and say so loudly.
var ErrRefused = errors.New("the broker refused the subscription")

// ErrNoAnswer: no SUBACK within the timeout.
var ErrNoAnswer = errors.New("the broker did not answer the subscription")

// RefusedError names every filter the broker refused; it matches ErrRefused.
type RefusedError struct {
	Topics []string // sorted
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%v: %s", ErrRefused, strings.Join(e.Topics, ", "))
}

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Check waits up to timeout for the answer to a Subscribe or SubscribeMultiple and
// returns nil only when the broker granted every filter. Otherwise: the token's error
// (connection lost, ...), ErrNoAnswer, or a *RefusedError naming the refused filters.
func Check(tok mqtt.Token, timeout time.Duration) error {
	if !tok.WaitTimeout(timeout) {
		return fmt.Errorf("%w within %s", ErrNoAnswer, timeout)
	}
	return Result(tok)
}

// Result is Check for a token known to be complete (one waited for by other means, such
// as a select on tok.Done()).
func Result(tok mqtt.Token) error {
	if err := tok.Error(); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	st, ok := tok.(*mqtt.SubscribeToken)
	if !ok {
		return fmt.Errorf("subscribe: not a subscribe token (%T)", tok)
	}
	var refused []string
	for topic, code := range st.Result() {
		if code >= Failure {
			refused = append(refused, topic)
		}
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		return &RefusedError{Topics: refused}
	}
	return nil
}

// Refused returns the filters err names as refused, nil when it is not a refusal.
func Refused(err error) []string {
	var r *RefusedError
	if errors.As(err, &r) {
		return r.Topics
	}
	return nil
}

// Until calls subscribe until it returns nil (true), waiting b's back-off between
// attempts and calling failed with each error. It gives up (false) when stop is closed or
// live reports false after a wait: the connection it subscribes on is gone, and the next
// connection subscribes anew. It is for a subscriber's on-connect handler, which paho runs
// in a goroutine of its own: a refused subscription is asked for again while connected,
// since reconnecting would not change the broker's answer, and an operator's fix of the
// ACL or the limit must take without a restart.
func Until(stop <-chan struct{}, live func() bool, b *backoff.Backoff, subscribe func() error, failed func(error)) bool {
	b.Reset()
	for {
		err := subscribe()
		if err == nil {
			return true
		}
		failed(err)
		if !b.Wait(stop) || !live() {
			return false
		}
	}
}
