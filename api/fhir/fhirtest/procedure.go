// Procedure: the care intervention carried out, coded by FSIII.

package fhirtest

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"

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

// eventStatus is R4's EventStatus (a required binding of Procedure.status).
var eventStatus = []string{"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}

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
