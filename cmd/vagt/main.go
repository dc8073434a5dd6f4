// Command vagt runs the municipality platform's server components (vagt ingest, vagt api,
// ...). Each subcommand lives in its own file of this package and adds itself to commands
// in an init function; main only hands over to subcmd.
package main

import "github.com/vagt-dk/vagt/cmd/internal/subcmd"

// commands is filled by the subcommands' files.
var commands = subcmd.Set{}

func main() { subcmd.Main("vagt", commands) }
