//go:build !race

package chain

const raceBuild = false
