//go:build race

package alarmprop

// raceBuild: the suite runs under -race, and builds the chain's binaries with it too.
const raceBuild = true
