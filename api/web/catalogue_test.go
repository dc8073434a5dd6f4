package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// groups are the catalogue's top-level groups, one per page; they all exist from the start
// so that texts added for different pages merge without conflicts.
var groups = []string{"common", "console", "careplan", "stats", "night", "roster", "app", "citizen", "presence"}

// pluralForms are the keys of a text with plural forms (Intl.PluralRules' categories).
var pluralForms = []string{"zero", "one", "two", "few", "many", "other"}

var placeholder = regexp.MustCompile(`\{(\w+)\}`)

// catalogue is one language's texts flattened to dotted keys; a plural text is one key
// whose forms are joined.
type catalogue map[string][]string

// readCatalogue reads lang/<lang>.json, refusing duplicate keys (encoding/json would keep
// the last silently, and a merge of two helpers' additions can make one).
func readCatalogue(t *testing.T, lang string) catalogue {
	t.Helper()
	b, err := fs.ReadFile(Files, path.Join("lang", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("lang/%s.json is not valid JSON", lang)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	c := catalogue{}
	if err := walk(dec, "", c); err != nil {
		t.Fatalf("lang/%s.json: %v", lang, err)
	}
	return c
}

func walk(dec *json.Decoder, prefix string, out catalogue) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case string:
		out[prefix] = []string{v}
		return nil
	case json.Delim:
		if v != '{' {
			return fmt.Errorf("%s: a list; texts are strings or objects", prefix)
		}
	default:
		return fmt.Errorf("%s: %v is not a text", prefix, tok)
	}
	seen := map[string]bool{}
	obj := catalogue{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		key := k.(string)
		if seen[key] {
			return fmt.Errorf("%s: key %q twice", prefix, key)
		}
		seen[key] = true
		if err := walk(dec, key, obj); err != nil {
			if prefix == "" {
				return err
			}
			return fmt.Errorf("%s.%w", prefix, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	// An object whose keys are all plural forms, "other" among them, is one plural text.
	plural := seen["other"]
	for k := range seen {
		plural = plural && slices.Contains(pluralForms, k)
	}
	if plural {
		for _, k := range pluralForms {
			if texts, ok := obj[k]; ok {
				if len(texts) != 1 {
					return fmt.Errorf("%s.%s: a plural form must be a string", prefix, k)
				}
				out[prefix] = append(out[prefix], k+"="+texts[0])
			}
		}
		return nil
	}
	for k, v := range obj {
		if prefix == "" {
			out[k] = v
		} else {
			out[prefix+"."+k] = v
		}
	}
	return nil
}

func placeholders(texts []string) []string {
	set := map[string]bool{}
	for _, s := range texts {
		for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
			set[m[1]] = true
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestCatalogues: Danish and English hold the same keys, in the same groups, with the same
// placeholders per key and the same plural forms, and no text is empty.
func TestCatalogues(t *testing.T) {
	da, en := readCatalogue(t, "da"), readCatalogue(t, "en")
	for _, c := range []struct {
		lang string
		cat  catalogue
	}{{"da", da}, {"en", en}} {
		have := map[string]bool{}
		for key, texts := range c.cat {
			have[strings.SplitN(key, ".", 2)[0]] = true
			if !slices.Contains(groups, strings.SplitN(key, ".", 2)[0]) {
				t.Errorf("%s: %s is outside the page groups %v", c.lang, key, groups)
			}
			for _, s := range texts {
				if strings.TrimSpace(strings.TrimPrefix(s, formOf(s))) == "" {
					t.Errorf("%s: %s is empty", c.lang, key)
				}
			}
		}
		for _, g := range groups {
			if !have[g] {
				t.Errorf("%s: no group %q", c.lang, g)
			}
		}
	}
	for key, texts := range da {
		other, ok := en[key]
		if !ok {
			t.Errorf("%s is in da.json, not in en.json", key)
			continue
		}
		if p, q := placeholders(texts), placeholders(other); !slices.Equal(p, q) {
			t.Errorf("%s: placeholders %v in Danish, %v in English", key, p, q)
		}
		if (len(texts) > 1 || formOf(texts[0]) != "") != (len(other) > 1 || formOf(other[0]) != "") {
			t.Errorf("%s: a plural text in one language only", key)
		}
	}
	for key := range en {
		if _, ok := da[key]; !ok {
			t.Errorf("%s is in en.json, not in da.json", key)
		}
	}
}

// formOf is the plural form a flattened plural text starts with ("one="), or "".
func formOf(s string) string {
	for _, f := range pluralForms {
		if strings.HasPrefix(s, f+"=") {
			return f + "="
		}
	}
	return ""
}

var (
	// The keys the pages ask for: every string literal "group.key" in a script (t("x.y"),
	// field("x.y", "careplan.form.night"), ...), data-i18n="group.key", and the attribute
	// form "aria-label:group.key; title:group.key2". A key ending in "." is the prefix of
	// keys made from data (common.tech. + a technology), which the page checks with has().
	jsKey   = regexp.MustCompile(`"((?:` + strings.Join(groups, "|") + `)\.[a-zA-Z0-9_.]*[a-zA-Z0-9_])"`)
	htmlKey = regexp.MustCompile(`data-i18n="([^"]+)"`)
	attrKey = regexp.MustCompile(`data-i18n-attr="([^"]+)"`)
)

// TestCataloguesHoldEveryKeyThePagesUse: a key a page asks for with a literal (t("x.y"),
// data-i18n="x.y", data-i18n-attr="title:x.y") is in the catalogue, so no page shows a raw
// key.
func TestCataloguesHoldEveryKeyThePagesUse(t *testing.T) {
	da := readCatalogue(t, "da")
	files, err := fs.Glob(Files, "*")
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, name := range files {
		if ext := path.Ext(name); ext != ".js" && ext != ".html" {
			continue
		}
		b, err := fs.ReadFile(Files, name)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, m := range jsKey.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
		for _, m := range htmlKey.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
		for _, m := range attrKey.FindAllStringSubmatch(string(b), -1) {
			for _, pair := range strings.Split(m[1], ";") {
				if _, key, ok := strings.Cut(pair, ":"); ok {
					keys = append(keys, strings.TrimSpace(key))
				}
			}
		}
		for _, k := range keys {
			used++
			if _, ok := da[k]; !ok {
				t.Errorf("%s asks for %q, which the catalogue does not hold", name, k)
			}
		}
	}
	if used == 0 {
		t.Fatal("no page asks for a text: the patterns no longer match how pages use the catalogue")
	}
}
