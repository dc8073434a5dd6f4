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
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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
