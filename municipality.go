package vagt

import (
	"fmt"
	"slices"
)

// MunicipalityCode is a Danish municipality's official code (kommunekode), e.g. 766 for
// Hedensted. Telemetry carries it so statistics can be made without personal data.
type MunicipalityCode uint16

// Region is one of Denmark's five regions, by its official code.
type Region uint16

// The five regions.
const (
	RegionNordjylland Region = 1081
	RegionMidtjylland Region = 1082
	RegionSyddanmark  Region = 1083
	RegionHovedstaden Region = 1084
	RegionSjaelland   Region = 1085
)

// String returns the region's Danish name.
func (r Region) String() string {
	switch r {
	case RegionNordjylland:
		return "Region Nordjylland"
	case RegionMidtjylland:
		return "Region Midtjylland"
	case RegionSyddanmark:
		return "Region Syddanmark"
	case RegionHovedstaden:
		return "Region Hovedstaden"
	case RegionSjaelland:
		return "Region Sjælland"
	}
	return fmt.Sprintf("Region(%d)", uint16(r))
}

// Municipality is one of the 98 Danish municipalities.
type Municipality struct {
	Code   MunicipalityCode
	Name   string
	Region Region
}

// municipalities lists the 98 municipalities since the 2007 reform, sorted by code.
// Christiansø (411) is administered by the state and is not among them.
var municipalities = []Municipality{
	{101, "København", RegionHovedstaden}, {147, "Frederiksberg", RegionHovedstaden},
	{151, "Ballerup", RegionHovedstaden}, {153, "Brøndby", RegionHovedstaden},
	{155, "Dragør", RegionHovedstaden}, {157, "Gentofte", RegionHovedstaden},
	{159, "Gladsaxe", RegionHovedstaden}, {161, "Glostrup", RegionHovedstaden},
	{163, "Herlev", RegionHovedstaden}, {165, "Albertslund", RegionHovedstaden},
	{167, "Hvidovre", RegionHovedstaden}, {169, "Høje-Taastrup", RegionHovedstaden},
	{173, "Lyngby-Taarbæk", RegionHovedstaden}, {175, "Rødovre", RegionHovedstaden},
	{183, "Ishøj", RegionHovedstaden}, {185, "Tårnby", RegionHovedstaden},
	{187, "Vallensbæk", RegionHovedstaden}, {190, "Furesø", RegionHovedstaden},
	{201, "Allerød", RegionHovedstaden}, {210, "Fredensborg", RegionHovedstaden},
	{217, "Helsingør", RegionHovedstaden}, {219, "Hillerød", RegionHovedstaden},
	{223, "Hørsholm", RegionHovedstaden}, {230, "Rudersdal", RegionHovedstaden},
	{240, "Egedal", RegionHovedstaden}, {250, "Frederikssund", RegionHovedstaden},
	{253, "Greve", RegionSjaelland}, {259, "Køge", RegionSjaelland},
	{260, "Halsnæs", RegionHovedstaden}, {265, "Roskilde", RegionSjaelland},
	{269, "Solrød", RegionSjaelland}, {270, "Gribskov", RegionHovedstaden},
	{306, "Odsherred", RegionSjaelland}, {316, "Holbæk", RegionSjaelland},
	{320, "Faxe", RegionSjaelland}, {326, "Kalundborg", RegionSjaelland},
	{329, "Ringsted", RegionSjaelland}, {330, "Slagelse", RegionSjaelland},
	{336, "Stevns", RegionSjaelland}, {340, "Sorø", RegionSjaelland},
	{350, "Lejre", RegionSjaelland}, {360, "Lolland", RegionSjaelland},
	{370, "Næstved", RegionSjaelland}, {376, "Guldborgsund", RegionSjaelland},
	{390, "Vordingborg", RegionSjaelland}, {400, "Bornholm", RegionHovedstaden},
	{410, "Middelfart", RegionSyddanmark}, {420, "Assens", RegionSyddanmark},
	{430, "Faaborg-Midtfyn", RegionSyddanmark}, {440, "Kerteminde", RegionSyddanmark},
	{450, "Nyborg", RegionSyddanmark}, {461, "Odense", RegionSyddanmark},
	{479, "Svendborg", RegionSyddanmark}, {480, "Nordfyns", RegionSyddanmark},
	{482, "Langeland", RegionSyddanmark}, {492, "Ærø", RegionSyddanmark},
	{510, "Haderslev", RegionSyddanmark}, {530, "Billund", RegionSyddanmark},
	{540, "Sønderborg", RegionSyddanmark}, {550, "Tønder", RegionSyddanmark},
	{561, "Esbjerg", RegionSyddanmark}, {563, "Fanø", RegionSyddanmark},
	{573, "Varde", RegionSyddanmark}, {575, "Vejen", RegionSyddanmark},
	{580, "Aabenraa", RegionSyddanmark}, {607, "Fredericia", RegionSyddanmark},
	{615, "Horsens", RegionMidtjylland}, {621, "Kolding", RegionSyddanmark},
	{630, "Vejle", RegionSyddanmark}, {657, "Herning", RegionMidtjylland},
	{661, "Holstebro", RegionMidtjylland}, {665, "Lemvig", RegionMidtjylland},
	{671, "Struer", RegionMidtjylland}, {706, "Syddjurs", RegionMidtjylland},
	{707, "Norddjurs", RegionMidtjylland}, {710, "Favrskov", RegionMidtjylland},
	{727, "Odder", RegionMidtjylland}, {730, "Randers", RegionMidtjylland},
	{740, "Silkeborg", RegionMidtjylland}, {741, "Samsø", RegionMidtjylland},
	{746, "Skanderborg", RegionMidtjylland}, {751, "Aarhus", RegionMidtjylland},
	{756, "Ikast-Brande", RegionMidtjylland}, {760, "Ringkøbing-Skjern", RegionMidtjylland},
	{766, "Hedensted", RegionMidtjylland}, {773, "Morsø", RegionNordjylland},
	{779, "Skive", RegionMidtjylland}, {787, "Thisted", RegionNordjylland},
	{791, "Viborg", RegionMidtjylland}, {810, "Brønderslev", RegionNordjylland},
	{813, "Frederikshavn", RegionNordjylland}, {820, "Vesthimmerlands", RegionNordjylland},
	{825, "Læsø", RegionNordjylland}, {840, "Rebild", RegionNordjylland},
	{846, "Mariagerfjord", RegionNordjylland}, {849, "Jammerbugt", RegionNordjylland},
	{851, "Aalborg", RegionNordjylland}, {860, "Hjørring", RegionNordjylland},
}

// Municipalities returns the 98 municipalities sorted by code. The slice is a copy.
func Municipalities() []Municipality { return slices.Clone(municipalities) }

// LookupMunicipality returns the municipality with the given code.
func LookupMunicipality(code MunicipalityCode) (Municipality, bool) {
	i, ok := slices.BinarySearchFunc(municipalities, code, func(m Municipality, c MunicipalityCode) int {
		return int(m.Code) - int(c)
	})
	if !ok {
		return Municipality{}, false
	}
	return municipalities[i], true
}

// Validate reports whether c is one of the 98 municipality codes.
func (c MunicipalityCode) Validate() error {
	if _, ok := LookupMunicipality(c); !ok {
		return fmt.Errorf("%w: %d", ErrUnknownMunicipality, c)
	}
	return nil
}

// String returns the municipality's name, or the bare code when it is unknown.
func (c MunicipalityCode) String() string {
	if m, ok := LookupMunicipality(c); ok {
		return m.Name
	}
	return fmt.Sprintf("%d", uint16(c))
}
