package subcmd

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

var (
	flagLine    = regexp.MustCompile(`^  -([a-z0-9-]+)(?: (\S+))?$`)
	defaultPart = regexp.MustCompile(`\s*\(default (.*)\)$`)
)

// FlagReference turns a flag set's usage text (what -h prints) into a Markdown table of
// flag, environment variable, type, default and meaning, so that docs/configuration.md
// is made from the binaries themselves and cannot drift from them.
func FlagReference(usage string) string {
	var b strings.Builder
	b.WriteString("| flag | environment | type | default | meaning |\n|---|---|---|---|---|\n")
	lines := strings.Split(usage, "\n")
	for i := 0; i < len(lines); i++ {
		m := flagLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		name, typ := m[1], m[2]
		if typ == "" {
			typ = "bool"
		}
		var help []string
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "    \t") {
			i++
			help = append(help, strings.TrimSpace(lines[i]))
		}
		text := strings.Join(help, " ")
		def := ""
		if d := defaultPart.FindStringSubmatch(text); d != nil {
			def = "`" + d[1] + "`"
			text = defaultPart.ReplaceAllString(text, "")
		}
		text = strings.ReplaceAll(text, "|", `\|`)
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s | %s |\n", name, EnvName(name), typ, def, text)
	}
	return b.String()
}

// ReplaceSection returns doc with the text between "<!-- begin NAME -->" and
// "<!-- end NAME -->" replaced by content.
func ReplaceSection(doc, name, content string) (string, error) {
	begin, end := "<!-- begin "+name+" -->\n", "<!-- end "+name+" -->"
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("no section %q (%s ... %s)", name, strings.TrimSpace(begin), end)
	}
	return doc[:i+len(begin)] + content + doc[j:], nil
}

// SyncDoc puts each section's content into the document at path. With write it saves
// the result; without, it reports whether the document differs from what it should say.
func SyncDoc(path string, sections map[string]string, write bool) (stale bool, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	doc := string(raw)
	for name, content := range sections {
		if doc, err = ReplaceSection(doc, name, content); err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
	}
	if write {
		return false, os.WriteFile(path, []byte(doc), 0o644)
	}
	return doc != string(raw), nil
}
