// The data types the resources share: CodeableConcept, Identifier, Reference, id, code,
// string, uri, dateTime, instant.

package fhirtest

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// identifierUse is R4's IdentifierUse (a required binding of Identifier.use).
var identifierUse = []string{"usual", "official", "temp", "secondary", "old"}

var (
	idRe = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	// dateTimeRe is R4's dateTime: a time needs a zone.
	dateTimeRe = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	instantRe  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	uuidURNRe  = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	absURIRe   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.\-]*:\S+$`)
)

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
