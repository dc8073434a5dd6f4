// Package gateway is the home agent (binary vagt-gateway): it reads welfare-technology
// devices over a serial line and from Zigbee2MQTT, runs the edge rules that must work while
// the uplink is down, keeps every reading and alarm in a durable spool, and sends them to
// the platform broker — alarms first, deleted only once the broker acknowledged them.
package gateway
