package fhir_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vagt-dk/vagt/api/fhir/fhirtest"
)

// entryOf returns the resource of the first entry of that type in a generic Bundle.
func entryOf(b map[string]any, rt string) map[string]any {
	for _, e := range b["entry"].([]any) {
		r := e.(map[string]any)["resource"].(map[string]any)
		if r["resourceType"] == rt {
			return r
		}
	}
	panic("no " + rt)
}

// The validator must catch what it claims to check: each broken page is rejected with a
// problem that names the rule.
func TestValidatorRejects(t *testing.T) {
	good, _ := pull(t, service(world()), staff766, pullQuery())
	for _, c := range []struct {
		name   string
		break_ func(b map[string]any)
		want   string
	}{
		{"encounter without status", func(b map[string]any) { delete(entryOf(b, "Encounter"), "status") }, "status: required"},
		{"encounter status unknown", func(b map[string]any) { entryOf(b, "Encounter")["status"] = "done" }, `"done" is not one of`},
		{"class not a Coding", func(b map[string]any) { entryOf(b, "Encounter")["class"] = []any{"HH"} }, "class: required (1..1), a Coding"},
		{"class of another system", func(b map[string]any) {
			entryOf(b, "Encounter")["class"].(map[string]any)["system"] = "http://snomed.info/sct"
		}, "class.system: must be"},
		{"encounter type not KL's", func(b map[string]any) {
			entryOf(b, "Encounter")["type"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"] = "home-visit"
		}, "not in the value set"},
		{"encounter type display wrong", func(b map[string]any) {
			entryOf(b, "Encounter")["type"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)["display"] = "alarm"
		}, "not the code system's display"},
		{"no period", func(b map[string]any) { delete(entryOf(b, "Encounter"), "period") }, "period: required by KL"},
		{"no period start", func(b map[string]any) {
			delete(entryOf(b, "Encounter")["period"].(map[string]any), "start")
		}, "period.start: required by KL"},
		{"time without zone", func(b map[string]any) {
			entryOf(b, "Encounter")["period"].(map[string]any)["start"] = "2026-11-23T03:13:00"
		}, "a zone is required"},
		{"not a real date", func(b map[string]any) {
			entryOf(b, "Encounter")["period"].(map[string]any)["end"] = "2026-02-30T03:13:00Z"
		}, "not a real time"},
		{"ends before it starts", func(b map[string]any) {
			entryOf(b, "Encounter")["period"].(map[string]any)["end"] = "2026-11-23T03:00:00Z"
		}, "per-1"},
		{"no subject", func(b map[string]any) { delete(entryOf(b, "Encounter"), "subject") }, "subject: required"},
		{"subject names no entry", func(b map[string]any) {
			entryOf(b, "Encounter")["subject"].(map[string]any)["reference"] = "urn:uuid:00000000-0000-5000-8000-000000000000"
		}, "names no entry"},
		{"subject is a Practitioner", func(b map[string]any) {
			enc := entryOf(b, "Encounter")
			enc["subject"].(map[string]any)["reference"] = enc["participant"].([]any)[0].(map[string]any)["individual"].(map[string]any)["reference"]
			delete(enc["subject"].(map[string]any), "type")
		}, "is a Practitioner, not a Patient"},
		{"bad id", func(b map[string]any) { entryOf(b, "Encounter")["id"] = "vagt alert/1" }, "not a FHIR id"},
		{"unknown element", func(b map[string]any) { entryOf(b, "Encounter")["performer"] = "anna" }, `has no element "performer"`},
		{"empty array", func(b map[string]any) { entryOf(b, "Encounter")["reasonCode"] = []any{} }, "empty array"},
		{"empty string", func(b map[string]any) {
			entryOf(b, "Practitioner")["identifier"].([]any)[0].(map[string]any)["value"] = ""
		}, "empty string"},
		{"null", func(b map[string]any) { entryOf(b, "Patient")["id"] = nil }, "null is not allowed"},
		{"procedure status not KL's", func(b map[string]any) { entryOf(b, "Procedure")["status"] = "in-progress" }, "KL allows completed or entered-in-error"},
		{"no FSIII level 2", func(b map[string]any) {
			code := entryOf(b, "Procedure")["code"].(map[string]any)
			code["coding"] = code["coding"].([]any)[1:]
		}, "exactly one FSIII level-2"},
		{"FSIII code not an intervention", func(b map[string]any) {
			entryOf(b, "Procedure")["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"] = "J1.1"
		}, "not in FSIIICareInterventions"},
		{"coding of a third system", func(b map[string]any) {
			code := entryOf(b, "Procedure")["code"].(map[string]any)
			code["coding"] = append(code["coding"].([]any), map[string]any{"system": "http://snomed.info/sct", "code": "225358003"})
		}, "the slicing is closed"},
		{"local code without display", func(b map[string]any) {
			delete(entryOf(b, "Procedure")["code"].(map[string]any)["coding"].([]any)[1].(map[string]any), "display")
		}, "display: required (1..1)"},
		{"no performedDateTime", func(b map[string]any) { delete(entryOf(b, "Procedure"), "performedDateTime") }, "performedDateTime: required"},
		{"patient without identifier", func(b map[string]any) { delete(entryOf(b, "Patient"), "identifier") }, "identifier: required"},
		{"SOR code too short", func(b map[string]any) {
			entryOf(b, "Patient")["managingOrganization"] = map[string]any{"identifier": map[string]any{"use": "official", "system": "urn:oid:1.2.208.176.1.1", "value": "12345"}}
		}, "at least 11 digits"},
		{"municipality code unknown", func(b map[string]any) {
			entryOf(b, "Patient")["managingOrganization"].(map[string]any)["identifier"].(map[string]any)["value"] = "0999"
		}, "not a Danish municipality code"},
		{"duplicate fullUrl", func(b map[string]any) {
			es := b["entry"].([]any)
			es[1].(map[string]any)["fullUrl"] = es[0].(map[string]any)["fullUrl"]
		}, "bdl-7"},
		{"fullUrl relative", func(b map[string]any) { b["entry"].([]any)[0].(map[string]any)["fullUrl"] = "Encounter/vagt-alert-1" }, "not an absolute URL"},
		{"searchset entry without mode", func(b map[string]any) { delete(b["entry"].([]any)[0].(map[string]any), "search") }, "matched or was included"},
		{"search in a collection", func(b map[string]any) { b["type"] = "collection"; b["timestamp"] = "2026-11-24T00:00:00Z" }, "bdl-2"},
		{"collection without timestamp", func(b map[string]any) {
			b["type"] = "collection"
			for _, e := range b["entry"].([]any) {
				delete(e.(map[string]any), "search")
			}
		}, "timestamp: required"},
		{"total in a collection", func(b map[string]any) {
			b["type"] = "collection"
			b["timestamp"] = "2026-11-24T00:00:00Z"
			b["total"] = 3
			for _, e := range b["entry"].([]any) {
				delete(e.(map[string]any), "search")
			}
		}, "bdl-1"},
		{"request in a searchset", func(b map[string]any) {
			b["entry"].([]any)[0].(map[string]any)["request"] = map[string]any{"method": "POST", "url": "Encounter"}
		}, "bdl-3"},
		{"unknown resource", func(b map[string]any) { entryOf(b, "Practitioner")["resourceType"] = "Person" }, "not a resource vagt emits"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b map[string]any
			if err := json.Unmarshal(good, &b); err != nil {
				t.Fatal(err)
			}
			c.break_(b)
			doc, _ := json.Marshal(b)
			p := fhirtest.Problems(doc)
			if len(p) == 0 {
				t.Fatalf("accepted:\n%s", doc)
			}
			if !strings.Contains(strings.Join(p, "\n"), c.want) {
				t.Fatalf("want a problem with %q, got:\n%s", c.want, strings.Join(p, "\n"))
			}
		})
	}
}

func TestNDJSONValidatorRejects(t *testing.T) {
	e, err := service(world()).Export(t.Context(), staff766, pullQuery())
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := e.WriteNDJSON(&sb); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(sb.String(), "\n"), "\n")
	for _, c := range []struct {
		name string
		doc  string
		want string
	}{
		{"a referenced patient missing", strings.Join(without(lines, `"resourceType":"Patient"`), "\n"), "names no resource of the file"},
		{"a line twice", strings.Join(append(lines, lines[0]), "\n"), "appears twice"},
		{"not JSON", strings.Join(append(lines, "{"), "\n"), "not a JSON object"},
		{"empty", "", "no resources"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := fhirtest.NDJSONProblems([]byte(c.doc))
			if !strings.Contains(strings.Join(p, "\n"), c.want) {
				t.Fatalf("want %q, got %v", c.want, p)
			}
		})
	}
}

func without(lines []string, marker string) []string {
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, marker) {
			out = append(out, l)
		}
	}
	return out
}
