package gateway

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/vagt-dk/vagt/gateway/serial"
	"github.com/vagt-dk/vagt/gateway/zigbee"
)

// metric is one Prometheus series family on /metrics.
type metric struct {
	name, help, typ string
	label           string            // the label of values, "" for one unlabelled value
	value           any               // without a label
	values          map[string]uint64 // by label value
}

// The reasons /metrics always shows, at 0 until one happens, so a rate() has a series to
// work on; others seen are shown too.
var (
	readingReasons = []string{"invalid_id", "out_of_range", "unknown_kind", reasonTime}
	serialReasons  = []string{"bad_crc", "torn", "too_long", "noise", "malformed"}
	// What vagt.DecodeDownlink and vagt.CheckGateway refuse a downlink message for.
	downlinkReasons = []string{"malformed", "too_large", "unknown_version", "unknown_field", "missing_field",
		"out_of_range", "invalid_id", "gateway_mismatch"}
)

func withReasons(m map[string]uint64, known []string) map[string]uint64 {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]uint64{}
	}
	for _, r := range known {
		out[r] += 0
	}
	return out
}

func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeMetrics renders the snapshot in Prometheus' text format: the spool, the uplink,
// the clock, and what the serial line and Zigbee refused, by reason.
func writeMetrics(w io.Writer, s Snapshot) {
	ms := []metric{
		{name: "vagt_gateway_uplink_connected", help: "1 while connected to the platform broker", typ: "gauge", value: bit(s.UplinkUp)},
		{name: "vagt_gateway_uplink_subscribed", help: "1 while the broker granted the config and downlink lanes (0: no care plan, no news of help)", typ: "gauge", value: bit(s.UplinkSubscribe.Subscribed)},
		{name: "vagt_gateway_uplink_subscribe_failures_total", help: "attempts to subscribe to the config and downlink lanes that the broker refused (SUBACK 0x80) or did not answer", typ: "counter", value: s.UplinkSubscribe.Failures},
		{name: "vagt_gateway_sent_total", help: "items acknowledged by the platform broker", typ: "counter", value: s.Sent},
		{name: "vagt_gateway_spool_alarms", help: "alarm events waiting in the spool", typ: "gauge", value: s.Spool.Alarms},
		{name: "vagt_gateway_spool_readings", help: "readings waiting in the spool", typ: "gauge", value: s.Spool.BatchedReadings + s.Spool.PendingReadings},
		{name: "vagt_gateway_spool_bytes", help: "bytes the spool holds", typ: "gauge", value: s.Spool.Bytes},
		{name: "vagt_gateway_dropped_readings_total", help: "readings dropped because the spool was full", typ: "counter", value: s.Spool.DroppedReadings},
		{name: "vagt_gateway_readings_total", help: "readings spooled", typ: "counter", value: s.Counters.Readings},
		{name: "vagt_gateway_invalid_readings_total", help: "readings refused, all reasons", typ: "counter", value: s.Counters.InvalidReadings},
		{name: "vagt_gateway_refused_readings_total", help: "readings refused by reason (bad_time: telemetry under a clock outside the wire's range; the rules still saw it)",
			typ: "counter", label: "reason", values: withReasons(s.Counters.Refused, readingReasons)},
		{name: "vagt_gateway_alarm_frames_total", help: "serial alarm frames acknowledged (K) after their alarm was committed", typ: "counter", value: s.Counters.AlarmFrames},
		{name: "vagt_gateway_alarm_frames_not_acked_total", help: "serial alarm frames not acknowledged because their alarm could not be committed", typ: "counter", value: s.Counters.AlarmFramesNotAcked},
		{name: "vagt_gateway_open_alarm_episodes", help: "alarms raised and not cleared", typ: "gauge", value: s.Counters.OpenEpisodes},
		{name: "vagt_gateway_config_version", help: "home configuration version running", typ: "gauge", value: s.ConfigVersion},
		{name: "vagt_gateway_clock_trusted", help: "1 while the gateway trusts its clock; alarms raised at 0 are marked clock unsynced", typ: "gauge", value: bit(s.Clock.Trusted)},
		{name: "vagt_gateway_clock_steps_total", help: "steps of the clock seen (backwards, or forwards by more than 5 min)", typ: "counter", value: s.Clock.Steps},
		{name: "vagt_gateway_alarms_unconfirmed", help: "alarm raises the broker acknowledged and the platform has not confirmed on the downlink", typ: "gauge", value: s.Confirm.Unconfirmed},
		{name: "vagt_gateway_alarm_resends_total", help: "alarm raises sent again because the platform did not confirm them in time", typ: "counter", value: s.Confirm.Resent},
		{name: "vagt_gateway_alarm_resends_given_up_total", help: "alarm raises never confirmed by the platform after every resend", typ: "counter", value: s.Confirm.GaveUp},
		{name: "vagt_gateway_unsynced_alarms_total", help: "alarms spooled with the best time the gateway had, marked clock unsynced", typ: "counter", value: s.Clock.Unsynced},
		// Help confirmed in the home (help.go): the platform's downlink messages.
		{name: "vagt_gateway_downlink_applied_total", help: "downlink messages that moved an alarm event forward (the unit and Zigbee device told)", typ: "counter", value: s.Help.Applied},
		{name: "vagt_gateway_downlink_repeats_total", help: "downlink messages that changed nothing (redeliveries, late news, the same message on both links)", typ: "counter", value: s.Help.Repeats},
		{name: "vagt_gateway_downlink_dropped_total", help: "downlink messages dropped on arrival because the buffer was full (nobody took them)", typ: "counter", value: s.Help.Dropped},
		{name: "vagt_gateway_downlink_unknown_total", help: "downlink messages naming no event the gateway remembers", typ: "counter", value: s.Help.Unknown},
		{name: "vagt_gateway_downlink_refused_total", help: "downlink messages refused, by reason", typ: "counter", label: "reason", values: withReasons(s.Help.Refused, downlinkReasons)},
		{name: "vagt_gateway_help_link_down_told", help: "1 while the base units are told the platform is unreachable (no link up for help.link_down_after)", typ: "gauge", value: bit(s.Help.LinkDown)},
	}
	if st, ok := s.Serial.(serial.Stats); ok {
		ms = append(ms,
			metric{name: "vagt_gateway_serial_frames_total", help: "good frames from the base unit", typ: "counter", value: st.Frames},
			metric{name: "vagt_gateway_serial_rejected_total", help: "frames from the base unit rejected, by reason", typ: "counter", label: "reason", values: withReasons(st.Rejected, serialReasons)},
			metric{name: "vagt_gateway_serial_noise_bytes_total", help: "bytes outside any frame", typ: "counter", value: st.NoiseBytes},
			metric{name: "vagt_gateway_serial_reopens_total", help: "times the serial port was (re)opened", typ: "counter", value: st.Reopens},
			metric{name: "vagt_gateway_serial_duplicates_total", help: "alarm frames repeated by the unit after they were acked", typ: "counter", value: st.Duplicates},
			metric{name: "vagt_gateway_serial_acks_total", help: "K frames written to the unit", typ: "counter", value: st.Acks},
		)
	}
	if st, ok := s.Zigbee.(zigbee.Stats); ok {
		ms = append(ms,
			metric{name: "vagt_gateway_zigbee_messages_total", help: "Zigbee2MQTT messages of known devices", typ: "counter", value: st.Messages},
			metric{name: "vagt_gateway_zigbee_subscribe_failures_total", help: "attempts to subscribe to Zigbee2MQTT's topics the home broker refused (SUBACK 0x80) or did not answer", typ: "counter", value: st.SubscribeFailures},
			metric{name: "vagt_gateway_zigbee_refused_total", help: "Zigbee2MQTT payloads (or fields) refused, by reason", typ: "counter", label: "reason",
				values: map[string]uint64{"rejected": st.Rejected, "bad_availability": st.BadAvailability, "bad_field": st.BadFields, "unknown_device": st.UnknownDevice}},
		)
	}
	for _, m := range ms {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		if m.label == "" {
			fmt.Fprintf(w, "%s %v\n", m.name, m.value)
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(m.values)) {
			fmt.Fprintf(w, "%s{%s=%q} %d\n", m.name, m.label, k, m.values[k])
		}
	}
}
