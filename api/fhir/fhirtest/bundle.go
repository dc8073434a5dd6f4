// The Bundle: its type, entries, fullUrls and the references between its resources.

package fhirtest

import (
	"fmt"
	"strings"
)

// R4 code lists (required bindings of Bundle).
var (
	bundleType = []string{"document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection"}
	searchMode = []string{"match", "include", "outcome"}
)

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
