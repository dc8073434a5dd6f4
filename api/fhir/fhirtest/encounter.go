// Encounter: the visit an alert led to, as KL's profile has it.

package fhirtest

import (
	"fmt"

	"github.com/vagt-dk/vagt/api/fhir"
)

// klEncounterTypes is KLEncounterTypes (the descendants of "kontaktaktivitet" in
// CareSocialCodes, kl-term 2.3.0): code → display.
var klEncounterTypes = map[string]string{
	"bb6fc544-7f4f-4b50-8868-1431e0df2381": "observation",
	"9f03dfbb-7a97-45a5-94db-d4c3501714a9": "opfølgning",
	"829ac647-c7fc-4964-836b-f708d886e0e3": "oplysning",
	"15775b0a-7ec6-469e-9d3c-a81fbc9a1b45": "udførelse af akutindsats",
	"c03b426a-4348-407f-b343-f4baa9759c72": "udførelse af ikke-bevilget indsats",
	"784275f1-6822-4a88-b361-d958007d5253": "udførelse af planlagt indsats",
	"9269c9a2-8220-447b-a127-811275b41062": "vurdering/bevilling",
	"124be95d-6924-4609-9d2a-e7c73ae3ab3d": "Skærmbesøg",
	"1b55a4b0-1156-4f58-b2df-b5c6014d9048": "Telefonisk",
}

// R4 code lists (required bindings of the base resources) and the v3 codes of an Encounter.
var (
	encounterStatus = []string{"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"}
	actEncounter    = []string{"AMB", "EMER", "FLD", "HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR"}
	// v3 ParticipationType codes an Encounter participant of a home visit may carry.
	participationType = []string{"ADM", "ATND", "CALLBCK", "CON", "DIS", "ESC", "REF", "SPRF", "PPRF", "PART", "translator", "emergency"}
)

func (c *checker) encounter(r map[string]any) {
	c.code("status", r["status"], encounterStatus, true)
	cl, ok := r["class"].(map[string]any)
	if !ok {
		c.fail("class", "required (1..1), a Coding")
	} else {
		c.keys("class", "Coding", cl)
		if cl["system"] != fhir.SystemActCode {
			c.fail("class.system", "must be %s, got %v", fhir.SystemActCode, cl["system"])
		}
		c.code("class.code", cl["code"], actEncounter, true)
	}
	types := array(c, "type", r["type"])
	if len(types) == 0 {
		c.fail("type", "required by KL (1..*) from KLEncounterTypes")
	}
	for i, t := range types {
		c.concept(fmt.Sprintf("type[%d]", i), t, map[string]map[string]string{fhir.SystemCareSocialCodes: klEncounterTypes}, true)
	}
	c.reference("subject", r["subject"], "Patient", true)
	for i, p := range array(c, "participant", r["participant"]) {
		path := fmt.Sprintf("participant[%d]", i)
		po := object(c, path, p)
		c.keys(path, "Encounter.participant", po)
		for j, t := range array(c, join(path, "type"), po["type"]) {
			tp := fmt.Sprintf("%s.type[%d]", path, j)
			to := object(c, tp, t)
			for k, cd := range array(c, join(tp, "coding"), to["coding"]) {
				co := object(c, fmt.Sprintf("%s.coding[%d]", tp, k), cd)
				if co["system"] != fhir.SystemParticipationType {
					c.fail(fmt.Sprintf("%s.coding[%d].system", tp, k), "must be %s", fhir.SystemParticipationType)
				}
				c.code(fmt.Sprintf("%s.coding[%d].code", tp, k), co["code"], participationType, true)
			}
		}
		c.reference(join(path, "individual"), po["individual"], "Practitioner", true)
	}
	per, ok := r["period"]
	if !ok {
		c.fail("period", "required by KL (1..1)")
		return
	}
	po := object(c, "period", per)
	c.keys("period", "Period", po)
	if _, ok := po["start"]; !ok {
		c.fail("period.start", "required by KL (1..1)")
	}
	start := c.dateTime("period.start", po["start"])
	if e, ok := po["end"]; ok {
		end := c.dateTime("period.end", e)
		if !start.IsZero() && !end.IsZero() && end.Before(start) {
			c.fail("period", "ends before it starts (per-1)")
		}
	}
}
