package rollup

import "github.com/vagt-dk/vagt"

// Reporter is one device that sent a reading, with the municipality and gateway tags its
// readings carry: the roll-up keeps these, so erasure (by gateway) and retention (by
// municipality) can find what they must forget.
type Reporter struct {
	Municipality vagt.MunicipalityCode
	Gateway      vagt.GatewayID
	Device       vagt.DeviceID
}
