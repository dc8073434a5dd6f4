package fhir_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vagt-dk/vagt"
	"github.com/vagt-dk/vagt/api/alerts"
	"github.com/vagt-dk/vagt/api/fhir"
	"github.com/vagt-dk/vagt/api/fhir/fhirtest"
)

// TestExampleInDocs: the example page in docs/fhir.md is what the code emits for its
// visit, and passes the validator. Run with VAGT_UPDATE_DOCS=1 to print the page anew.
func TestExampleInDocs(t *testing.T) {
	m := &memStore{last: 120, visits: []fhir.Visit{{Event: 117, Alert: 42, Municipality: 766, Citizen: 7, Type: vagt.AlarmFall,
		RaisedAt: t0, AckedAt: at(time.Minute), AckedBy: "anna", ResolvedAt: t0.Add(29 * time.Minute), ResolvedBy: "anna",
		Outcome: alerts.OutcomeVisitedHelpGiven}}}
	b, err := service(m).Pull(t.Context(), fhir.Caller{Actor: "care-record", Municipality: 766},
		fhir.Query{Base: "https://vagt.hedensted.dk/api/v1/fhir/Encounter", Since: "2026-11-23T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(b, "", "  ")
	if p := fhirtest.Problems(got); len(p) > 0 {
		t.Fatalf("example invalid: %v", p)
	}
	if os.Getenv("VAGT_UPDATE_DOCS") != "" {
		t.Logf("\n%s", got)
	}
	doc, err := os.ReadFile("../../docs/fhir.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- example page: api/fhir/example_test.go -->\n```json\n"
	i := bytes.Index(doc, []byte(marker))
	if i < 0 {
		t.Fatal("docs/fhir.md has no example page")
	}
	rest := doc[i+len(marker):]
	example := rest[:bytes.Index(rest, []byte("```"))]
	if strings.TrimSpace(string(example)) != string(got) {
		t.Fatalf("docs/fhir.md's example is not what the code emits; it is now:\n%s", got)
	}
}
