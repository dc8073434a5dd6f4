package fhir

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api"
	"github.com/vagt-dk/vagt/api/alerts"
)

// Visit is a resolved alert as the care record sees it: who was helped, when, by whom,
// and what staff found. Only alerts that staff resolved (not the platform), that are not
// test alarms and whose home has a citizen become visits (sqlstore.Store.Visits).
type Visit struct {
	// Event is the alert's "resolved" event in the event log: the pull's position.
	Event        int64
	Alert        int64
	Municipality vagt.MunicipalityCode
	Citizen      int64
	Type         vagt.AlarmType
	RaisedAt     time.Time
	AckedAt      *time.Time
	AckedBy      string
	// Assignee is who said "I'll go" (presence, docs/alerts.md), ArrivedAt when they said
	// "arrived"; both empty when staff did not use those steps.
	Assignee   string
	ArrivedAt  *time.Time
	ResolvedAt time.Time
	ResolvedBy string
	Outcome    alerts.Outcome
}

// Start is when the visit began, as far as the platform knows: the arrival when it was
// recorded, else the acknowledgement (the member of staff took it and went), else the
// resolve itself.
func (v Visit) Start() time.Time {
	switch {
	case v.ArrivedAt != nil:
		return *v.ArrivedAt
	case v.AckedAt != nil:
		return *v.AckedAt
	}
	return v.ResolvedAt
}

// Performer is who made the visit: whoever said "arrived" (the assignee), else who
// resolved the alert.
func (v Visit) Performer() string {
	if v.ArrivedAt != nil && v.Assignee != "" {
		return v.Assignee
	}
	return v.ResolvedBy
}

// Organisation says how a Patient names the municipality that keeps its record: by SOR
// code when the municipality configured one, else by its municipality code (dk-core).
type Organisation func(vagt.MunicipalityCode) Identifier

// MunicipalityOrganisation identifies the municipality by its four-digit code.
func MunicipalityOrganisation(m vagt.MunicipalityCode) Identifier {
	return Identifier{System: SystemMunicipalityCodes, Value: fmt.Sprintf("%04d", uint16(m))}
}

// SOROrganisation names municipalities by the SOR codes given (for KL's gateway, which
// wants SOR), and the others by municipality code.
func SOROrganisation(codes map[vagt.MunicipalityCode]string) Organisation {
	return func(m vagt.MunicipalityCode) Identifier {
		if c, ok := codes[m]; ok {
			return Identifier{Use: "official", System: SystemSOR, Value: c}
		}
		return MunicipalityOrganisation(m)
	}
}

// outcomeDisplay is the Danish name of each outcome, for the locally defined code.
var outcomeDisplay = map[alerts.Outcome]string{
	alerts.OutcomeVisitedAllWell:    "Alarmbesøg: alt vel",
	alerts.OutcomeVisitedHelpGiven:  "Alarmbesøg: hjælp givet",
	alerts.OutcomeAmbulanceOrDoctor: "Alarmbesøg: ambulance eller læge tilkaldt",
	alerts.OutcomeFalseAlarm:        "Alarmbesøg: falsk alarm",
	alerts.OutcomeTechnicalFault:    "Alarmbesøg: teknisk fejl",
	alerts.OutcomeOther:             "Alarmbesøg: andet",
}

// LocalInterventionCode is the locally defined (level 3) intervention code of an outcome.
func LocalInterventionCode(o alerts.Outcome) Coding {
	d, ok := outcomeDisplay[o]
	if !ok {
		d = "Alarmbesøg"
	}
	return Coding{System: SystemLocallyDefinedInterventions, Code: localInterventionCode + string(o), Display: d}
}

// dateTime formats t as a FHIR dateTime with its zone (UTC), to the second.
func dateTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// ids of the resources: stable, so a care record that pulls twice gets the same resources.
func encounterID(alert int64) string { return "vagt-alert-" + strconv.FormatInt(alert, 10) }
func procedureID(alert int64) string {
	return "vagt-alert-" + strconv.FormatInt(alert, 10) + "-outcome"
}
func patientID(citizen int64) string { return "vagt-citizen-" + strconv.FormatInt(citizen, 10) }

// practitionerID names a member of staff by a hash of the login name: a login such as
// "oidc:anna@kommune.dk" holds characters a FHIR id may not.
func practitionerID(actor string) string {
	sum := sha256.Sum256([]byte(actor))
	return "vagt-user-" + hex.EncodeToString(sum[:10])
}

// fullURL is a resource's stable urn:uuid in a Bundle (an RFC 4122 version 5 UUID of its
// type and id), so that references inside the Bundle need no server base URL.
func fullURL(resourceType, id string) string {
	h := sha1.New()
	h.Write(uuidNamespace[:])
	h.Write([]byte(resourceType + "/" + id))
	u := h.Sum(nil)[:16]
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// uuidNamespace is vagt's namespace for name-based UUIDs (a random UUID, fixed forever).
var uuidNamespace = [16]byte{0x5f, 0x0c, 0x2e, 0x8a, 0x91, 0x3b, 0x4d, 0x27, 0xa6, 0x10, 0x7e, 0x4f, 0xd2, 0x88, 0x03, 0xc9}

// resources is what one visit becomes: the matched Encounter and Procedure, and the
// Patient and Practitioners they reference.
type resources struct {
	encounter     Encounter
	procedure     Procedure
	patient       Patient
	practitioners []Practitioner
}

// refFunc says how a resource references another: by the other's fullUrl in a Bundle
// (fullURL), or as "Type/id" between the lines of an NDJSON file (relativeRef).
type refFunc func(resourceType, id string) string

func relativeRef(resourceType, id string) string { return resourceType + "/" + id }

// build turns a visit into its resources.
func build(v Visit, org Organisation, refOf refFunc) resources {
	pat := Patient{ResourceType: resourcePatient, ID: patientID(v.Citizen), Meta: &Meta{Profile: []string{ProfilePatient}},
		Identifier:           []Identifier{{System: SystemVagtCitizen, Value: strconv.FormatInt(v.Citizen, 10)}},
		ManagingOrganization: &Reference{Identifier: ptr(org(v.Municipality))}}
	subject := &Reference{Reference: refOf(resourcePatient, pat.ID), Type: resourcePatient}

	var out resources
	out.patient = pat
	performer := practitioner(v.Performer())
	out.practitioners = append(out.practitioners, performer)
	participants := []EncounterParticipant{{
		Type:       []CodeableConcept{{Coding: []Coding{{System: SystemParticipationType, Code: CodePrimaryPerformer, Display: DisplayPrimary}}}},
		Individual: &Reference{Reference: refOf(resourcePractitioner, performer.ID), Type: resourcePractitioner},
	}}
	// Whoever else resolved, took or acknowledged the alarm took part too.
	seen := map[string]bool{v.Performer(): true, api.System: true, "": true}
	for _, who := range []string{v.ResolvedBy, v.Assignee, v.AckedBy} {
		if seen[who] {
			continue
		}
		seen[who] = true
		p := practitioner(who)
		out.practitioners = append(out.practitioners, p)
		participants = append(participants, EncounterParticipant{
			Type:       []CodeableConcept{{Coding: []Coding{{System: SystemParticipationType, Code: CodeParticipant, Display: DisplayParticipant}}}},
			Individual: &Reference{Reference: refOf(resourcePractitioner, p.ID), Type: resourcePractitioner},
		})
	}
	start := v.Start()
	out.encounter = Encounter{ResourceType: resourceEncounter, ID: encounterID(v.Alert), Meta: &Meta{Profile: []string{ProfileEncounter}},
		Identifier: []Identifier{{System: SystemVagtAlert, Value: strconv.FormatInt(v.Alert, 10)}},
		Status:     statusFinished,
		Class:      Coding{System: SystemActCode, Code: CodeHomeHealth, Display: "home health"},
		Type:       []CodeableConcept{{Coding: []Coding{{System: SystemCareSocialCodes, Code: CodeNotGranted, Display: DisplayNotGranted}}}},
		Subject:    subject, Participant: participants,
		Period:     &Period{Start: dateTime(start), End: dateTime(v.ResolvedAt)},
		ReasonCode: []CodeableConcept{{Text: "Alarm: " + v.Type.String() + " " + dateTime(v.RaisedAt)}},
	}
	out.procedure = Procedure{ResourceType: resourceProcedure, ID: procedureID(v.Alert), Meta: &Meta{Profile: []string{ProfileProcedure}},
		Status: statusCompleted,
		Code: &CodeableConcept{Coding: []Coding{
			{System: SystemFSIII, Code: CodeTilsynOmsorg, Display: DisplayTilsynOmsorg},
			LocalInterventionCode(v.Outcome),
		}},
		Subject:           subject,
		Encounter:         &Reference{Reference: refOf(resourceEncounter, out.encounter.ID), Type: resourceEncounter},
		PerformedDateTime: dateTime(start),
		Performer:         []ProcedurePerformer{{Actor: &Reference{Reference: refOf(resourcePractitioner, performer.ID), Type: resourcePractitioner}}},
	}
	return out
}

func practitioner(actor string) Practitioner {
	return Practitioner{ResourceType: resourcePractitioner, ID: practitionerID(actor), Meta: &Meta{Profile: []string{ProfilePractitioner}},
		Identifier: []Identifier{{System: SystemVagtUser, Value: actor}}}
}

func ptr[T any](v T) *T { return &v }

// entries turns visits into Bundle entries: each visit's Encounter and Procedure, and each
// Patient and Practitioner once, after the first visit that references it. search is
// whether the entries carry a search mode (a searchset).
func entries(vs []Visit, org Organisation, search bool, refOf refFunc) []BundleEntry {
	var out []BundleEntry
	seen := map[string]bool{}
	add := func(resourceType, id string, r any, mode string) {
		url := fullURL(resourceType, id)
		if seen[url] {
			return
		}
		seen[url] = true
		e := BundleEntry{FullURL: url, Resource: r}
		if search {
			e.Search = &BundleSearch{Mode: mode}
		}
		out = append(out, e)
	}
	for _, v := range vs {
		r := build(v, org, refOf)
		add(resourceEncounter, r.encounter.ID, r.encounter, searchModeMatch)
		add(resourceProcedure, r.procedure.ID, r.procedure, searchModeInclude)
		add(resourcePatient, r.patient.ID, r.patient, searchModeInclude)
		for _, p := range r.practitioners {
			add(resourcePractitioner, p.ID, p, searchModeInclude)
		}
	}
	return out
}
