// Package fhir hands a resolved alarm visit to the municipality's care record as FHIR R4
// JSON, in the shape of KL's care and social profiles (FKI, github.com/hl7dk/KL-dk 1.2.0)
// and the locally defined intervention code system of KL's gateway profiles
// (github.com/hl7dk/kl-gateway 1.2.0, successor of kl-gateway-care-data): an Encounter
// for the visit, a Procedure ("leveret indsats") for what staff did and found, the
// Patient and Practitioner they reference, in a Bundle. The pull API (Service.Pull,
// paged by an opaque cursor over the alert event log) and the file export
// (Service.Export) are built on it; docs/fhir.md says what each element means.
package fhir

// The code systems, identifier systems and profiles the resources use. The KL codes were
// read from github.com/hl7dk/kl-term 2.3.0 (input/vocabulary/*.json); see docs/fhir.md.
const (
	// SystemActCode is HL7 v3 ActCode: the Encounter's class (HH: home health).
	SystemActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	// SystemParticipationType is HL7 v3 ParticipationType (PPRF: primary performer).
	SystemParticipationType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	// SystemCareSocialCodes is KL's code system of encounter types (KLEncounterTypes).
	SystemCareSocialCodes = "http://fhir.kl.dk/term/CodeSystem/CareSocialCodes"
	// SystemFSIII is Fællessprog III (FSIII), interventions at level 2.
	SystemFSIII = "urn:oid:1.2.208.176.2.21"
	// SystemLocallyDefinedInterventions holds a municipality's own level-3 interventions
	// (KL gateway, CodeSystem LocallyDefinedInterventions, content "fragment").
	SystemLocallyDefinedInterventions = "http://fhir.kl.dk/gateway/CodeSystem/LocallyDefinedInterventions"
	// SystemMunicipalityCodes is dk-core's code system of the Danish municipality codes.
	SystemMunicipalityCodes = "http://hl7.dk/fhir/core/CodeSystem/dk-core-municipality-codes"
	// SystemSOR is the Danish health organisation register (dk-core-sor-identifier).
	SystemSOR = "urn:oid:1.2.208.176.1.1"

	// vagt's own identifier systems: the care record keys its copies on them.
	SystemVagtCitizen = "urn:vagt:citizen"
	SystemVagtUser    = "urn:vagt:user"
	SystemVagtAlert   = "urn:vagt:alert"

	// The profiles the resources claim (meta.profile).
	ProfileEncounter    = "http://fhir.kl.dk/core/StructureDefinition/KLCommonCareSocialEncounter"
	ProfileProcedure    = "http://fhir.kl.dk/core/StructureDefinition/KLCommonCareSocialCompletedIntervention"
	ProfilePatient      = "http://fhir.kl.dk/core/StructureDefinition/KLCommonCitizen"
	ProfilePractitioner = "http://fhir.kl.dk/core/StructureDefinition/KLCommonPractitioner"
)

// The codes the resources use.
const (
	// CodeHomeHealth: a visit in the citizen's home (KL: "Visits in citizens homes").
	CodeHomeHealth = "HH"
	// CodeNotGranted is "udførelse af ikke-bevilget indsats": an intervention that was not
	// granted beforehand, done at the encounter — what an alarm visit is.
	CodeNotGranted        = "c03b426a-4348-407f-b343-f4baa9759c72"
	DisplayNotGranted     = "udførelse af ikke-bevilget indsats"
	CodeTilsynOmsorg      = "a3af0522-e228-4a6a-b5c2-c9fcf0f3b2c4" // FSIII, § 83 stk. 1 nr. 1
	DisplayTilsynOmsorg   = "Tilsyn/omsorg"
	CodePrimaryPerformer  = "PPRF"
	DisplayPrimary        = "primary performer"
	CodeParticipant       = "PART"
	DisplayParticipant    = "Participation"
	statusFinished        = "finished"
	statusCompleted       = "completed"
	bundleTypeSearchset   = "searchset"
	bundleTypeCollection  = "collection"
	searchModeMatch       = "match"
	searchModeInclude     = "include"
	resourceEncounter     = "Encounter"
	resourceProcedure     = "Procedure"
	resourcePatient       = "Patient"
	resourcePractitioner  = "Practitioner"
	resourceBundle        = "Bundle"
	localInterventionCode = "vagt-alarm-visit-"
)

// Meta carries the profiles a resource claims to conform to.
type Meta struct {
	Profile []string `json:"profile,omitempty"`
}

// Coding is a code from a code system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is one concept, coded in one or more systems, or as text.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Identifier is a business identifier.
type Identifier struct {
	Use    string `json:"use,omitempty"`
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

// Reference points at another resource, in the Bundle (reference) or by identifier.
type Reference struct {
	Reference  string      `json:"reference,omitempty"`
	Type       string      `json:"type,omitempty"`
	Identifier *Identifier `json:"identifier,omitempty"`
}

// Period is a time range; times are FHIR dateTimes with a zone.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// Encounter is the visit (KLCommonCareSocialEncounter).
type Encounter struct {
	ResourceType string                 `json:"resourceType"`
	ID           string                 `json:"id"`
	Meta         *Meta                  `json:"meta,omitempty"`
	Identifier   []Identifier           `json:"identifier,omitempty"`
	Status       string                 `json:"status"`
	Class        Coding                 `json:"class"`
	Type         []CodeableConcept      `json:"type,omitempty"`
	Subject      *Reference             `json:"subject,omitempty"`
	Participant  []EncounterParticipant `json:"participant,omitempty"`
	Period       *Period                `json:"period,omitempty"`
	ReasonCode   []CodeableConcept      `json:"reasonCode,omitempty"`
}

// EncounterParticipant is someone who took part in the visit.
type EncounterParticipant struct {
	Type       []CodeableConcept `json:"type,omitempty"`
	Individual *Reference        `json:"individual,omitempty"`
}

// Procedure is what was done and found (KLCommonCareSocialCompletedIntervention).
type Procedure struct {
	ResourceType      string               `json:"resourceType"`
	ID                string               `json:"id"`
	Meta              *Meta                `json:"meta,omitempty"`
	Status            string               `json:"status"`
	Code              *CodeableConcept     `json:"code,omitempty"`
	Subject           *Reference           `json:"subject,omitempty"`
	Encounter         *Reference           `json:"encounter,omitempty"`
	PerformedDateTime string               `json:"performedDateTime,omitempty"`
	Performer         []ProcedurePerformer `json:"performer,omitempty"`
}

// ProcedurePerformer is who did it.
type ProcedurePerformer struct {
	Actor *Reference `json:"actor,omitempty"`
}

// Patient is the citizen (KLCommonCitizen = dk-core-patient): identifiers only.
type Patient struct {
	ResourceType         string       `json:"resourceType"`
	ID                   string       `json:"id"`
	Meta                 *Meta        `json:"meta,omitempty"`
	Identifier           []Identifier `json:"identifier,omitempty"`
	ManagingOrganization *Reference   `json:"managingOrganization,omitempty"`
}

// Practitioner is a member of staff, named by the login the platform knows.
type Practitioner struct {
	ResourceType string       `json:"resourceType"`
	ID           string       `json:"id"`
	Meta         *Meta        `json:"meta,omitempty"`
	Identifier   []Identifier `json:"identifier,omitempty"`
}

// Bundle is a page of the pull API (searchset) or an export (collection).
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id,omitempty"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp,omitempty"`
	Link         []BundleLink  `json:"link,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// BundleLink is a link of a page (self, next).
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleEntry is one resource of a Bundle.
type BundleEntry struct {
	FullURL  string        `json:"fullUrl"`
	Resource any           `json:"resource"`
	Search   *BundleSearch `json:"search,omitempty"`
}

// BundleSearch says why an entry is in a searchset: it matched, or it was included.
type BundleSearch struct {
	Mode string `json:"mode"`
}
