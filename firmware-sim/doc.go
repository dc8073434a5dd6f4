// Package sim holds the device emulators behind vagt-sim: a social-alarm base unit on a
// serial port, Zigbee2MQTT devices on a local broker, scripted scenarios, and a load
// generator that plays thousands of gateways against the platform broker. Tests and the
// demo drive the real gateway and platform with them.
package sim
