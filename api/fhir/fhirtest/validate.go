// Package fhirtest checks the FHIR R4 JSON that api/fhir emits against the rules that can
// be checked without the FHIR validator and the profiles' packages (which cannot be
// fetched here): JSON structure and element names, required elements and cardinalities
// of R4 and of the KL profiles for the resources vagt emits, the code systems and codes
// the profiles bind (as read from KL's terminology sources), id, reference and fullUrl
// formats, and dateTime/instant formats with their time zone. It is test support: the
// tests of api/fhir, api/sqlstore and api/httpapi use it, and it must reject broken
// resources (TestValidatorRejects).
package fhirtest

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/fhir"
)

//go:embed fsiii-care-interventions.tsv
var fsiiiTSV string

// fsiiiInterventions is FSIIICareInterventions: code → display.
var fsiiiInterventions = func() map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(fsiiiTSV))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		code, display, _ := strings.Cut(line, "\t")
		m[code] = display
	}
	return m
}()

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

// R4 code lists (required bindings of the base resources).
var (
	encounterStatus = []string{"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown"}
	eventStatus     = []string{"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}
	bundleType      = []string{"document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection"}
	searchMode      = []string{"match", "include", "outcome"}
	identifierUse   = []string{"usual", "official", "temp", "secondary", "old"}
	actEncounter    = []string{"AMB", "EMER", "FLD", "HH", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS", "VR"}
	// v3 ParticipationType codes an Encounter participant of a home visit may carry.
	participationType = []string{"ADM", "ATND", "CALLBCK", "CON", "DIS", "ESC", "REF", "SPRF", "PPRF", "PART", "translator", "emergency"}
)

// Element names each type may carry (R4). An element not listed is an error: a typo or an
// element of another FHIR version is not silently passed on.
var elements = map[string][]string{
	"Encounter": {"resourceType", "id", "meta", "implicitRules", "language", "text", "contained", "extension", "modifierExtension",
		"identifier", "status", "statusHistory", "class", "classHistory", "type", "serviceType", "priority", "subject", "episodeOfCare",
		"basedOn", "participant", "appointment", "period", "length", "reasonCode", "reasonReference", "diagnosis", "account",
		"hospitalization", "location", "serviceProvider", "partOf"},
	"Procedure": {"resourceType", "id", "meta", "implicitRules", "language", "text", "contained", "extension", "modifierExtension",
		"identifier", "instantiatesCanonical", "instantiatesUri", "basedOn", "partOf", "status", "statusReason", "category", "code",
		"subject", "encounter", "performedDateTime", "performedPeriod", "performedString", "performedAge", "performedRange",
		"recorder", "asserter", "performer", "location", "reasonCode", "reasonReference", "bodySite", "outcome", "report",
		"complication", "complicationDetail", "followUp", "note", "focalDevice", "usedReference", "usedCode"},
	"Patient": {"resourceType", "id", "meta", "implicitRules", "language", "text", "contained", "extension", "modifierExtension",
		"identifier", "active", "name", "telecom", "gender", "birthDate", "deceasedBoolean", "deceasedDateTime", "address",
		"maritalStatus", "multipleBirthBoolean", "multipleBirthInteger", "photo", "contact", "communication",
		"generalPractitioner", "managingOrganization", "link"},
	"Practitioner": {"resourceType", "id", "meta", "implicitRules", "language", "text", "contained", "extension", "modifierExtension",
		"identifier", "active", "name", "telecom", "address", "gender", "birthDate", "photo", "qualification", "communication"},
	"Bundle":                {"resourceType", "id", "meta", "implicitRules", "language", "identifier", "type", "timestamp", "total", "link", "entry", "signature"},
	"Bundle.entry":          {"link", "fullUrl", "resource", "search", "request", "response"},
	"Bundle.link":           {"relation", "url"},
	"Bundle.entry.search":   {"mode", "score"},
	"Meta":                  {"versionId", "lastUpdated", "source", "profile", "security", "tag"},
	"Coding":                {"system", "version", "code", "display", "userSelected"},
	"CodeableConcept":       {"coding", "text"},
	"Identifier":            {"use", "type", "system", "value", "period", "assigner"},
	"Reference":             {"reference", "type", "identifier", "display"},
	"Period":                {"start", "end"},
	"Encounter.participant": {"type", "period", "individual"},
	"Procedure.performer":   {"function", "actor", "onBehalfOf"},
}

var (
	idRe = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	// dateTimeRe is R4's dateTime: a time needs a zone.
	dateTimeRe = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	instantRe  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	uuidURNRe  = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	absURIRe   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.\-]*:\S+$`)
)

// checker collects the problems of one document.
type checker struct {
	problems []string
	// refs are the references found in resources, checked against the Bundle's entries.
	refs []ref
}

type ref struct {
	path, target, wantType string
}

func (c *checker) fail(path, format string, args ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

// Problems returns what is wrong with a FHIR JSON document (a resource or a Bundle of
// them), one line each; none means it passed every rule this package knows.
func Problems(doc []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	if dec.More() {
		return []string{"more than one JSON value"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{"not a JSON object"}
	}
	c := &checker{}
	c.json("", obj)
	rt, _ := obj["resourceType"].(string)
	if rt == "Bundle" {
		c.bundle(obj)
	} else {
		c.resource(rt, obj)
		for _, r := range c.refs {
			c.fail(r.path, "reference %q cannot be resolved outside a Bundle", r.target)
		}
	}
	return c.problems
}

// json checks the JSON representation rules (R4 "JSON representation"; ele-1): no null,
// no empty string, array or object anywhere.
func (c *checker) json(path string, v any) {
	switch x := v.(type) {
	case nil:
		c.fail(path, "null is not allowed")
	case string:
		if x == "" {
			c.fail(path, "empty string is not allowed")
		}
	case []any:
		if len(x) == 0 {
			c.fail(path, "empty array is not allowed")
		}
		for i, e := range x {
			c.json(fmt.Sprintf("%s[%d]", path, i), e)
		}
	case map[string]any:
		if len(x) == 0 {
			c.fail(path, "empty object is not allowed")
		}
		for k, e := range x {
			c.json(join(path, k), e)
		}
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// keys checks that obj has only the elements of its type.
func (c *checker) keys(path, typ string, obj map[string]any) {
	allowed := elements[typ]
	for k := range obj {
		if !slices.Contains(allowed, k) {
			c.fail(join(path, k), "%s has no element %q", typ, k)
		}
	}
}

func (c *checker) bundle(b map[string]any) {
	c.keys("", "Bundle", b)
	if id, ok := b["id"]; ok {
		c.id("id", id)
	}
	typ := c.code("type", b["type"], bundleType, true)
	if ts, ok := b["timestamp"]; ok {
		c.instant("timestamp", ts)
	} else if typ == "collection" {
		c.fail("timestamp", "required (1..1) in a collection (KL delivery report)")
	}
	if _, ok := b["total"]; ok && typ != "searchset" && typ != "history" {
		c.fail("total", "only in a searchset or history (bdl-1)")
	}
	for i, l := range array(c, "link", b["link"]) {
		p := fmt.Sprintf("link[%d]", i)
		lo := object(c, p, l)
		c.keys(p, "Bundle.link", lo)
		c.str(join(p, "relation"), lo["relation"], true)
		c.uri(join(p, "url"), lo["url"], true)
	}
	types := map[string]string{} // fullUrl → resourceType
	for i, e := range array(c, "entry", b["entry"]) {
		p := fmt.Sprintf("entry[%d]", i)
		eo := object(c, p, e)
		c.keys(p, "Bundle.entry", eo)
		if s, ok := eo["search"]; ok {
			if typ != "searchset" {
				c.fail(join(p, "search"), "only in a searchset (bdl-2)")
			}
			so := object(c, join(p, "search"), s)
			c.keys(join(p, "search"), "Bundle.entry.search", so)
			c.code(join(p, "search.mode"), so["mode"], searchMode, false)
		} else if typ == "searchset" {
			c.fail(join(p, "search"), "a searchset entry says whether it matched or was included")
		}
		if _, ok := eo["request"]; ok {
			c.fail(join(p, "request"), "only in a batch, transaction or history (bdl-3)")
		}
		if _, ok := eo["response"]; ok {
			c.fail(join(p, "response"), "only in a response or history (bdl-4)")
		}
		full, _ := eo["fullUrl"].(string)
		switch {
		case full == "":
			c.fail(join(p, "fullUrl"), "required: the resources reference each other by it")
		case strings.Contains(full, "/_history/"):
			c.fail(join(p, "fullUrl"), "cannot be version specific (bdl-8)")
		case strings.HasPrefix(full, "urn:uuid:") && !uuidURNRe.MatchString(full):
			c.fail(join(p, "fullUrl"), "%q is not a urn:uuid", full)
		case !strings.HasPrefix(full, "urn:uuid:") && !strings.HasPrefix(full, "https://") && !strings.HasPrefix(full, "http://"):
			c.fail(join(p, "fullUrl"), "%q is not an absolute URL or urn:uuid", full)
		}
		r, ok := eo["resource"].(map[string]any)
		if !ok {
			c.fail(join(p, "resource"), "required in a %s (bdl-5)", typ)
			continue
		}
		rt, _ := r["resourceType"].(string)
		if full != "" {
			if _, dup := types[full]; dup {
				c.fail(join(p, "fullUrl"), "%q appears twice (bdl-7)", full)
			}
			types[full] = rt
		}
		sub := &checker{}
		sub.resource(rt, r)
		for _, q := range sub.problems {
			c.problems = append(c.problems, p+".resource."+q)
		}
		for _, rf := range sub.refs {
			rf.path = p + ".resource." + rf.path
			c.refs = append(c.refs, rf)
		}
	}
	// KL: references are bundled (aggregation "bundled"): each must name an entry.
	for _, r := range c.refs {
		got, ok := types[r.target]
		switch {
		case !ok:
			c.fail(r.path, "reference %q names no entry of the Bundle", r.target)
		case got != r.wantType:
			c.fail(r.path, "reference %q is a %s, not a %s", r.target, got, r.wantType)
		}
	}
}

// resource checks one resource by its type.
func (c *checker) resource(rt string, r map[string]any) {
	if _, ok := elements[rt]; !ok || rt == "Bundle" {
		c.fail("resourceType", "%q is not a resource vagt emits", rt)
		return
	}
	c.keys("", rt, r)
	c.id("id", r["id"])
	if m, ok := r["meta"]; ok {
		mo := object(c, "meta", m)
		c.keys("meta", "Meta", mo)
		for i, p := range array(c, "meta.profile", mo["profile"]) {
			c.uri(fmt.Sprintf("meta.profile[%d]", i), p, true)
		}
	}
	for i, id := range array(c, "identifier", r["identifier"]) {
		c.identifier(fmt.Sprintf("identifier[%d]", i), id)
	}
	switch rt {
	case "Encounter":
		c.encounter(r)
	case "Procedure":
		c.procedure(r)
	case "Patient":
		c.patient(r)
	case "Practitioner":
		if len(array(c, "identifier", r["identifier"])) == 0 {
			c.fail("identifier", "required: the care record matches staff by it")
		}
	}
}

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

func (c *checker) procedure(r map[string]any) {
	st := c.code("status", r["status"], eventStatus, true)
	if st != "" && st != "completed" && st != "entered-in-error" {
		c.fail("status", "KL allows completed or entered-in-error, got %q", st)
	}
	c.reference("subject", r["subject"], "Patient", true)
	code, ok := r["code"]
	if !ok {
		c.fail("code", "required by KL (1..1)")
	} else {
		c.interventionCode("code", code)
	}
	if _, ok := r["performedDateTime"]; !ok {
		c.fail("performedDateTime", "required by KL (the start of the delivery)")
	} else {
		c.dateTime("performedDateTime", r["performedDateTime"])
	}
	if e, ok := r["encounter"]; ok {
		c.reference("encounter", e, "Encounter", true)
	}
	for i, p := range array(c, "performer", r["performer"]) {
		path := fmt.Sprintf("performer[%d]", i)
		po := object(c, path, p)
		c.keys(path, "Procedure.performer", po)
		c.reference(join(path, "actor"), po["actor"], "Practitioner", true)
	}
}

// interventionCode checks a completed intervention's code as KL slices it (closed, by
// system): exactly one FSIII level-2 intervention, at most one locally defined level-3
// code with code and display.
func (c *checker) interventionCode(path string, v any) {
	o := object(c, path, v)
	c.keys(path, "CodeableConcept", o)
	var level2, level3 int
	for i, cd := range array(c, join(path, "coding"), o["coding"]) {
		p := fmt.Sprintf("%s.coding[%d]", path, i)
		co := object(c, p, cd)
		c.keys(p, "Coding", co)
		code, _ := co["code"].(string)
		switch co["system"] {
		case fhir.SystemFSIII:
			level2++
			want, ok := fsiiiInterventions[code]
			if !ok {
				c.fail(p, "FSIII code %q is not in FSIIICareInterventions", code)
			} else if d, ok := co["display"]; ok && d != want {
				c.fail(join(p, "display"), "%q is not FSIII's display %q", d, want)
			}
		case fhir.SystemLocallyDefinedInterventions:
			level3++
			if code == "" {
				c.fail(join(p, "code"), "required (1..1) for a locally defined intervention")
			}
			if d, _ := co["display"].(string); d == "" {
				c.fail(join(p, "display"), "required (1..1) for a locally defined intervention")
			}
		default:
			c.fail(join(p, "system"), "%v is not FSIII or LocallyDefinedInterventions (the slicing is closed)", co["system"])
		}
	}
	if level2 != 1 {
		c.fail(join(path, "coding"), "needs exactly one FSIII level-2 intervention (1..1), has %d", level2)
	}
	if level3 > 1 {
		c.fail(join(path, "coding"), "at most one locally defined level-3 intervention (0..1), has %d", level3)
	}
}

func (c *checker) patient(r map[string]any) {
	ids := array(c, "identifier", r["identifier"])
	if len(ids) == 0 {
		c.fail("identifier", "required (dk-core-patient 1..*)")
	}
	for i, id := range ids {
		io := object(c, fmt.Sprintf("identifier[%d]", i), id)
		if io["system"] == "urn:oid:1.2.208.176.1.2" {
			if v, _ := io["value"].(string); !regexp.MustCompile(`^[0-9]{10}$`).MatchString(v) {
				c.fail(fmt.Sprintf("identifier[%d].value", i), "a CPR number is ten digits")
			}
		}
	}
	mo, ok := r["managingOrganization"].(map[string]any)
	if !ok {
		c.fail("managingOrganization", "required: who keeps the record (KL gateway 1..1)")
		return
	}
	c.keys("managingOrganization", "Reference", mo)
	io, ok := mo["identifier"].(map[string]any)
	if !ok {
		c.fail("managingOrganization.identifier", "required (1..1)")
		return
	}
	v, _ := io["value"].(string)
	switch io["system"] {
	case fhir.SystemSOR:
		if io["use"] != "official" {
			c.fail("managingOrganization.identifier.use", "a SOR identifier is official")
		}
		if !regexp.MustCompile(`^[0-9]{11,}$`).MatchString(v) {
			c.fail("managingOrganization.identifier.value", "a SOR code has at least 11 digits (min-digits-sor)")
		}
	case fhir.SystemMunicipalityCodes:
		var code uint16
		if _, err := fmt.Sscanf(v, "%04d", &code); err != nil || len(v) != 4 || vagt.MunicipalityCode(code).Validate() != nil {
			c.fail("managingOrganization.identifier.value", "%q is not a Danish municipality code", v)
		}
	default:
		c.fail("managingOrganization.identifier.system", "%v is neither SOR nor dk-core's municipality codes", io["system"])
	}
}

// concept checks a CodeableConcept bound (required) to the codes given per system.
func (c *checker) concept(path string, v any, bound map[string]map[string]string, required bool) {
	o := object(c, path, v)
	c.keys(path, "CodeableConcept", o)
	found := false
	for i, cd := range array(c, join(path, "coding"), o["coding"]) {
		p := fmt.Sprintf("%s.coding[%d]", path, i)
		co := object(c, p, cd)
		c.keys(p, "Coding", co)
		sys, _ := co["system"].(string)
		codes, ok := bound[sys]
		if !ok {
			continue
		}
		code, _ := co["code"].(string)
		want, ok := codes[code]
		if !ok {
			c.fail(join(p, "code"), "%q is not in the value set bound from %s", code, sys)
			continue
		}
		if d, ok := co["display"]; ok && d != want {
			c.fail(join(p, "display"), "%q is not the code system's display %q", d, want)
		}
		found = true
	}
	if required && !found {
		c.fail(path, "no coding from the required value set")
	}
}

func (c *checker) identifier(path string, v any) {
	o := object(c, path, v)
	c.keys(path, "Identifier", o)
	if u, ok := o["use"]; ok {
		c.code(join(path, "use"), u, identifierUse, false)
	}
	c.uri(join(path, "system"), o["system"], true)
	c.str(join(path, "value"), o["value"], true)
}

// reference checks a Reference and remembers its target for the Bundle.
func (c *checker) reference(path string, v any, wantType string, required bool) {
	if v == nil {
		if required {
			c.fail(path, "required (1..1)")
		}
		return
	}
	o := object(c, path, v)
	c.keys(path, "Reference", o)
	if t, ok := o["type"]; ok && t != wantType {
		c.fail(join(path, "type"), "must be %s, got %v", wantType, t)
	}
	target, _ := o["reference"].(string)
	if target == "" {
		c.fail(join(path, "reference"), "required: KL's references are to resources in the Bundle")
		return
	}
	c.refs = append(c.refs, ref{path: join(path, "reference"), target: target, wantType: wantType})
}

func (c *checker) id(path string, v any) {
	s, ok := v.(string)
	if !ok || !idRe.MatchString(s) {
		c.fail(path, "%v is not a FHIR id ([A-Za-z0-9-.]{1,64})", v)
	}
}

func (c *checker) code(path string, v any, allowed []string, required bool) string {
	s, ok := v.(string)
	if !ok {
		if v != nil || required {
			c.fail(path, "required code, got %v", v)
		}
		return ""
	}
	if !slices.Contains(allowed, s) {
		c.fail(path, "%q is not one of %v", s, allowed)
	}
	return s
}

func (c *checker) str(path string, v any, required bool) {
	if _, ok := v.(string); !ok && (v != nil || required) {
		c.fail(path, "a string is required, got %v", v)
	}
}

func (c *checker) uri(path string, v any, required bool) {
	s, ok := v.(string)
	if !ok {
		if v != nil || required {
			c.fail(path, "a uri is required, got %v", v)
		}
		return
	}
	if !absURIRe.MatchString(s) {
		c.fail(path, "%q is not an absolute uri", s)
	}
}

// dateTime checks a FHIR dateTime (a time needs its zone) and returns it when it has a
// time.
func (c *checker) dateTime(path string, v any) time.Time {
	s, _ := v.(string)
	if !dateTimeRe.MatchString(s) {
		c.fail(path, "%v is not a FHIR dateTime (with a time, a zone is required)", v)
		return time.Time{}
	}
	if len(s) <= 10 {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		c.fail(path, "%q is not a real time: %v", s, err)
	}
	return t
}

func (c *checker) instant(path string, v any) {
	s, _ := v.(string)
	if !instantRe.MatchString(s) {
		c.fail(path, "%v is not a FHIR instant (full time with zone)", v)
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		c.fail(path, "%q is not a real time: %v", s, err)
	}
}

func array(c *checker, path string, v any) []any {
	if v == nil {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		c.fail(path, "must be a JSON array (cardinality 0..*), got %T", v)
	}
	return a
}

func object(c *checker, path string, v any) map[string]any {
	o, ok := v.(map[string]any)
	if !ok {
		c.fail(path, "must be a JSON object, got %T", v)
		return map[string]any{}
	}
	return o
}

// NDJSONProblems checks an NDJSON file of resources (one per line, FHIR Bulk Data): each
// line as a resource, and every reference ("Type/id") naming a resource of the file.
func NDJSONProblems(doc []byte) []string {
	var problems []string
	have := map[string]bool{}
	var refs []ref
	sc := bufio.NewScanner(bytes.NewReader(doc))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		p := fmt.Sprintf("line %d: ", n)
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || obj == nil {
			problems = append(problems, p+"not a JSON object")
			continue
		}
		c := &checker{}
		c.json("", obj)
		rt, _ := obj["resourceType"].(string)
		c.resource(rt, obj)
		for _, q := range c.problems {
			problems = append(problems, p+q)
		}
		id, _ := obj["id"].(string)
		if have[rt+"/"+id] {
			problems = append(problems, p+rt+"/"+id+" appears twice")
		}
		have[rt+"/"+id] = true
		for _, r := range c.refs {
			r.path = p + r.path
			refs = append(refs, r)
		}
	}
	if n == 0 {
		problems = append(problems, "no resources")
	}
	for _, r := range refs {
		switch {
		case !strings.HasPrefix(r.target, r.wantType+"/"):
			problems = append(problems, fmt.Sprintf("%s: reference %q is not a %s/id", r.path, r.target, r.wantType))
		case !have[r.target]:
			problems = append(problems, fmt.Sprintf("%s: reference %q names no resource of the file", r.path, r.target))
		}
	}
	return problems
}
