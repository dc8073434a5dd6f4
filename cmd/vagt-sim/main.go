// Command vagt-sim emulates what stands in the homes: welfare-technology devices on a serial
// line or a Zigbee2MQTT broker, scripted scenarios, and the load of thousands of gateways.
// Each subcommand lives in its own file of this package and adds itself to commands in an
// init function; main only hands over to subcmd.
package main

import "github.com/vagt-dk/vagt/cmd/internal/subcmd"

// commands is filled by the subcommands' files.
var commands = subcmd.Set{}

func main() { subcmd.Main("vagt-sim", commands) }
