//go:build race

package chain

// raceBuild: the suite runs under -race, and Build builds the chain's binaries with it too.
const raceBuild = true
