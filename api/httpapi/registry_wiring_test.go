package httpapi_test

import (
	"github.com/vagt-dk/vagt/api/httpapi"
	"github.com/vagt-dk/vagt/api/sqlstore"
)

// registryOf wires every area of the registry routes to the store's registry service, as
// api/server does.
func registryOf(s *sqlstore.Store) httpapi.Registry {
	rs := s.RegistryService
	return httpapi.Registry{Municipalities: rs, Districts: rs, Citizens: rs, Homes: rs, Gateways: rs, Devices: rs,
		DeviceTests: rs, CitizenData: rs, Secrets: rs}
}
