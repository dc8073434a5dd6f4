package ingest

import (
	"fmt"
	"net"
	"net/http"

	"github.com/vagt-dk/vagt"
)

// refuseOversize refuses an MQTT message larger than a batch may be before it is queued:
// counted (rejected, too_large), dead-lettered without its payload, logged once per burst,
// and acknowledged at once. Acknowledging it out of order is safe — it will never be
// written, and the broker tracks acknowledgements by packet id — and it matters: until the
// PUBACK, paho keeps the whole packet, so holding it in the pipeline's order held up to the
// broker's window of them (twenty 10 MB publishes: 206 MB, issue 15 defect 5).
func (p *Pipeline) refuseOversize(topic string, size, limit int64, ack func()) {
	gw, lane, terr := vagt.ParseTopic(topic)
	if terr != nil {
		lane = "unknown"
	}
	err := fmt.Errorf("%w: %d bytes, at most %d", vagt.ErrTooLarge, size, limit)
	p.m.Rejected.WithLabelValues(vagt.Reason(err)).Inc()
	p.m.Messages.WithLabelValues(string(lane), "rejected").Inc()
	p.rejects.log(gw, topic, err)
	if p.dead != nil {
		p.dead(&Message{Topic: topic}, err)
	}
	ack()
	p.m.Acks.Inc()
}

// refuseHTTP answers a telemetry request refused before its batch reached the pipeline:
// counted by reason and logged at warn once per burst per reason and remote address
// (with the gateway it claimed, never its token), so token guessing is seen.
func (p *Pipeline) refuseHTTP(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	p.m.HTTPRefused.WithLabelValues(reason).Inc()
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	claimed, _, _ := r.BasicAuth()
	if vagt.GatewayID(claimed).Validate() != nil {
		claimed = "" // not an id: nothing worth logging
	}
	if n, ok := p.rejects.allow("http " + reason + " " + host); ok {
		p.logger.Warn("telemetry request refused", "status", status, "reason", reason, "remote", host, "gateway", claimed,
			"suppressed_since_last", n)
	}
	httpError(w, status, reason, msg)
}
