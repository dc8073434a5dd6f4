//go:build race

package chaos

// raceBuild: the suite runs under -race, and builds the chain's binaries with it too.
const raceBuild = true
