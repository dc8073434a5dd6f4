// Patient: the citizen — identifiers (a CPR number is ten digits) and the organisation that
// keeps the record.

package fhirtest

import (
	"fmt"
	"regexp"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/fhir"
)

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
