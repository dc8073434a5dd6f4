package registry

import (
	"context"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
)

// The registry's contracts, by what a caller does with it. api/sqlstore implements them
// (checked at compile time in api/sqlstore/contracts.go); api/httpapi's handlers each
// depend on the one they use. They live here rather than in package api because they speak
// of this package's types, and this package uses api's errors.

// Directory lists and creates the registry's objects of a municipality.
type Directory interface {
	Municipalities(ctx context.Context) ([]Municipality, error)
	Districts(ctx context.Context, m vagt.MunicipalityCode) ([]District, error)
	CreateDistrict(ctx context.Context, m vagt.MunicipalityCode, name string) (int64, error)
	RegisterCitizen(ctx context.Context, scope api.Scope, c Citizen, actor string, now time.Time) (Citizen, error)
	Citizens(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode, actor string, now time.Time) ([]Citizen, error)
	Citizen(ctx context.Context, scope api.Scope, id int64, actor string, now time.Time) (Citizen, error)
	AddHome(ctx context.Context, scope api.Scope, h Home) (Home, error)
	Homes(ctx context.Context, scope api.Scope, m vagt.MunicipalityCode) ([]Home, error)
	Gateways(ctx context.Context, m vagt.MunicipalityCode) ([]Gateway, error)
	Devices(ctx context.Context, m vagt.MunicipalityCode, state DeviceState) ([]Device, error)
}

// Scopes tells which municipality (and district) an object belongs to, so a caller can
// decide access before it reads or changes the object.
type Scopes interface {
	CitizenMunicipality(ctx context.Context, id int64) (vagt.MunicipalityCode, error)
	HomeMunicipality(ctx context.Context, id vagt.HomeID) (vagt.MunicipalityCode, error)
	GatewayMunicipality(ctx context.Context, id vagt.GatewayID) (vagt.MunicipalityCode, error)
	DeviceMunicipality(ctx context.Context, id vagt.DeviceID) (vagt.MunicipalityCode, error)
	DeviceScope(ctx context.Context, id vagt.DeviceID) (vagt.MunicipalityCode, int64, error)
}

// Installs provisions gateways and installs, accepts and removes devices.
type Installs interface {
	ProvisionGateway(ctx context.Context, id vagt.GatewayID, home vagt.HomeID, secretHash, actor string, now time.Time) error
	InstallDevice(ctx context.Context, d Device, actor string, now time.Time) (Device, error)
	AcceptDevice(ctx context.Context, id vagt.DeviceID, tech vagt.Technology, label string, installedAt time.Time, actor string, now time.Time) (Device, error)
	RemoveDevice(ctx context.Context, id vagt.DeviceID, removedAt time.Time, actor string, now time.Time) (Device, error)
}

// DeviceTests is test mode and the record of devices' tests.
type DeviceTests interface {
	Device(ctx context.Context, id vagt.DeviceID) (Device, error)
	SetTestMode(ctx context.Context, dev vagt.DeviceID, until time.Time, actor string, now time.Time) error
	DevicesUntested(ctx context.Context, m vagt.MunicipalityCode, period time.Duration, now time.Time) ([]Device, error)
}

// Changes updates, decommissions and deletes registry objects; each change is audited in
// its own transaction.
type Changes interface {
	UpdateDistrict(ctx context.Context, scope api.Scope, id int64, c DistrictChange, actor string, now time.Time) (District, error)
	DeleteDistrict(ctx context.Context, scope api.Scope, id int64, actor string, now time.Time) error
	UpdateHome(ctx context.Context, scope api.Scope, id vagt.HomeID, c HomeChange, actor string, now time.Time) (Home, error)
	DecommissionHome(ctx context.Context, scope api.Scope, id vagt.HomeID, at time.Time, actor string, now time.Time) (Home, error)
	UpdateGateway(ctx context.Context, scope api.Scope, id vagt.GatewayID, c GatewayChange, actor string, now time.Time) (Gateway, error)
	DecommissionGateway(ctx context.Context, scope api.Scope, id vagt.GatewayID, at time.Time, actor string, now time.Time) (GatewayDecommission, error)
	RotateGatewayCredentials(ctx context.Context, scope api.Scope, id vagt.GatewayID, secretHash, actor string, now time.Time) (Gateway, error)
	UpdateCitizen(ctx context.Context, scope api.Scope, id int64, c CitizenChange, actor string, now time.Time) (Citizen, error)
}

// CitizenData is a citizen's own data: whose login is which citizen, the export of
// everything held about them, and erasure.
type CitizenData interface {
	CitizenOfUser(ctx context.Context, userID int64) (int64, error)
	CitizenGateways(ctx context.Context, scope api.Scope, citizen int64) ([]vagt.GatewayID, error)
	CitizenExport(ctx context.Context, scope api.Scope, citizen int64, actor string, now time.Time) (Export, error)
	EraseCitizen(ctx context.Context, scope api.Scope, citizen int64, actor string, now time.Time) (Erasure, error)
}
