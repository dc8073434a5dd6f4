package vagt

// Version is the platform's version, set at build time with
// -ldflags "-X github.com/vagt-dk/vagt.Version=...".
var Version = "0.1.0-dev"
