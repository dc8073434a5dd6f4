package registry

import (
	"fmt"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// The changes a manager makes to the registry after creation. A nil field is left as it is
// (PATCH semantics).

// DistrictChange renames a district.
type DistrictChange struct {
	Name *string `json:"name"`
}

// HomeChange moves a home to another district of its municipality or gives it another
// citizen (0: none).
type HomeChange struct {
	District *int64 `json:"district"`
	Citizen  *int64 `json:"citizen"`
}

// GatewayChange moves a gateway to another home of its municipality.
type GatewayChange struct {
	Home *vagt.HomeID `json:"home"`
}

// CitizenChange corrects a citizen's personal data; Contacts replaces the whole list.
type CitizenChange struct {
	Name       *string        `json:"name"`
	Address    *string        `json:"address"`
	KeyBoxNote *string        `json:"key_box_note"`
	Contacts   *[]api.Contact `json:"contacts"`
}

// GatewayDecommission is what decommissioning a gateway did.
type GatewayDecommission struct {
	Gateway Gateway `json:"gateway"`
	// DevicesRemoved are the installed devices that got the decommission date as removed_at.
	DevicesRemoved []vagt.DeviceID `json:"devices_removed"`
	// PendingDropped counts devices it reported that nobody registered; they are deleted.
	PendingDropped int `json:"pending_dropped"`
	// OfflineResolved is the gateway's open gateway_offline alert resolved with it (0: none).
	OfflineResolved int64 `json:"offline_alert_resolved,omitempty"`
	// Broker is what the operator runs on the broker host: the api does not write the
	// broker's password file.
	Broker string `json:"broker"`
}

// BrokerRevocation is the command that removes a gateway's password from the platform
// broker (deploy/mosquitto/README.md), followed by a reload.
func BrokerRevocation(id vagt.GatewayID) string {
	return fmt.Sprintf("mosquitto_passwd -D /etc/mosquitto/vagt/passwd %s && systemctl reload mosquitto", id)
}

// ValidDecommission checks a decommission date: not in the future of now.
func ValidDecommission(at, now time.Time) error {
	if at.After(now) {
		return &api.FieldError{Field: "decommissioned_at", Reason: "is in the future"}
	}
	return nil
}
