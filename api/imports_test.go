package api_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/vagt-dk/vagt"

// implementations are the api's adapters to a dependency. Their consumers declare what
// they need in their own words (night.Store in night.Check, careplan.Store in
// careplan.HomeFacts, the handlers' small interfaces); only the wiring hands an
// implementation to a consumer (issue 16: no package imports another for a word it does
// not own).
var implementations = []string{"api/sqlstore", "api/influx"}

// mayImport says whether a package (its folder in the module) may import an
// implementation: the wiring (api/server) and the commands. Tests may too (not asked:
// _test.go files are skipped).
func mayImport(pkg string) bool {
	return pkg == "api/server" || pkg == "cmd" || strings.HasPrefix(pkg, "cmd/")
}

// TestConsumersDoNotImportTheStore fails when a package other than the wiring or a command
// imports api/sqlstore or api/influx in its code (api/httpapi, api/night, api/careplan did,
// for the store's row types).
func TestConsumersDoNotImportTheStore(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files, allowed := 0, map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || name == "bin" || name == "node_modules" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg, file := filepath.ToSlash(rel), filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			target, ok := strings.CutPrefix(imp, module+"/")
			if !ok || !slices.Contains(implementations, target) || pkg == target {
				continue
			}
			if !mayImport(pkg) {
				t.Errorf("%s imports %s: declare the words in the consumer (or the api package) and let the store implement them; only api/server and cmd/ wire implementations",
					file, target)
				continue
			}
			allowed[pkg+" → "+target] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk must have seen the module, including the wiring's own imports: a walk that
	// found nothing would pass for the wrong reason.
	if files < 200 || !allowed["api/server → api/sqlstore"] || !allowed["api/server → api/influx"] {
		t.Fatalf("walked %d files from %s, allowed edges %v: not the module", files, root, allowed)
	}
}
