package vagt

import (
	"fmt"
	"strings"
)

// Lane is one of a gateway's topics on the platform broker.
type Lane string

// The lanes (see docs/wire.md and the architecture).
const (
	LaneTelemetry Lane = "telemetry" // CBOR Batch, QoS 1
	LaneAlarm     Lane = "alarm"     // CBOR Alarm, QoS 1
	LaneStatus    Lane = "status"    // CBOR Status, QoS 1, retained; the will says offline
	LaneConfig    Lane = "config"    // CBOR home configuration, QoS 1, retained (api → gateway)
	LaneDownlink  Lane = "downlink"  // CBOR Downlink, QoS 1, not retained (api → gateway)
)

const topicPrefix = "vagt/v1/gw/"

// Topic returns the gateway's topic for the lane: vagt/v1/gw/{gw}/{lane}.
func Topic(gw GatewayID, lane Lane) string { return topicPrefix + string(gw) + "/" + string(lane) }

// SharedSubscription returns the filter with which a group of consumers splits a lane of
// every gateway between them: $share/{group}/vagt/v1/gw/+/{lane}.
func SharedSubscription(group string, lane Lane) string {
	return "$share/" + group + "/" + topicPrefix + "+/" + string(lane)
}

// NoGroup, given as a group, subscribes to a lane directly rather than in a shared group.
const NoGroup = "-"

// LaneSubscription returns the filter with which a consumer takes a lane of every gateway:
// shared in group, or — for NoGroup — directly, so that a persistent session keeps the
// subscription and the messages queued for it across a broker restart. (Mosquitto 2.0.11
// does not restore $share subscriptions after a restart: what gateways publish before the
// consumers subscribe again reaches nobody.)
func LaneSubscription(group string, lane Lane) string {
	if group == NoGroup {
		return Topic("+", lane)
	}
	return SharedSubscription(group, lane)
}

// ParseTopic returns the gateway and lane of a topic made by Topic.
func ParseTopic(topic string) (GatewayID, Lane, error) {
	rest, ok := strings.CutPrefix(topic, topicPrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: topic %q is not under %s", ErrInvalidID, clip(topic), topicPrefix)
	}
	gw, lane, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", fmt.Errorf("%w: topic %q has no lane", ErrInvalidID, clip(topic))
	}
	switch l := Lane(lane); l {
	case LaneTelemetry, LaneAlarm, LaneStatus, LaneConfig, LaneDownlink:
		id := GatewayID(gw)
		if err := id.Validate(); err != nil {
			return "", "", err
		}
		return id, l, nil
	}
	return "", "", fmt.Errorf("%w: topic %q: unknown lane", ErrInvalidID, clip(topic))
}
