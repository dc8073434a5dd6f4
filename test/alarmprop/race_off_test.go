//go:build !race

package alarmprop

const raceBuild = false
