package concord_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// layerLine is the line after its package clause where a source file
// names its layer.
var layerLine = regexp.MustCompile(`(?m)^package \w+\n\n// Layer: ([^(\n]+) \(ARCHITECTURE\.md\)\.\n`)

// TestArchitectureListsEveryFile keeps ARCHITECTURE.md true: every source
// file of the module's packages (not the nested modules, examples or test
// files) is listed there with its job, and opens, after its package
// clause, with a line naming its layer.
func TestArchitectureListsEveryFile(t *testing.T) {
	doc, err := os.ReadFile("ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	skip := map[string]bool{"bench": true, "interop": true, "examples": true, "testdata": true}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (skip[path] || strings.HasPrefix(d.Name(), ".")) && path != ".":
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		if !strings.Contains(string(doc), "`"+filepath.ToSlash(path)+"`") {
			t.Errorf("ARCHITECTURE.md does not list %s", path)
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		layer := layerLine.FindSubmatch(src)
		if layer == nil || !strings.Contains(string(doc), "**"+string(layer[1])+"**") {
			t.Errorf("%s does not open with a line naming one of ARCHITECTURE.md's layers (// Layer: Name (ARCHITECTURE.md).)", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testName is a test, fuzz target, benchmark or example named in a doc.
var testName = regexp.MustCompile(`\b((?:Test|Fuzz|Benchmark|Example)[A-Z_]\w*)`)

// TestTestingNamesOnlyTestsThatExist keeps TESTING.md's promise-to-test
// table pointing at tests: every test it names (before any "/subtest") is
// a function in some test file of the repository, nested modules included,
// so that a test renamed or moved without its row fails here.
func TestTestingNamesOnlyTestsThatExist(t *testing.T) {
	doc, err := os.ReadFile("TESTING.md")
	if err != nil {
		t.Fatal(err)
	}
	var sources strings.Builder
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") && path != ".":
			return filepath.SkipDir
		case !strings.HasSuffix(path, "_test.go"):
			return nil
		}
		src, err := os.ReadFile(path)
		sources.Write(src)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	names := testName.FindAllStringSubmatch(string(doc), -1)
	if len(names) == 0 {
		t.Fatal("TESTING.md names no test")
	}
	for _, name := range names {
		declared := regexp.MustCompile(`(?m)^func (\([^)]*\) )?` + name[1] + `\(`)
		if !declared.MatchString(sources.String()) {
			t.Errorf("TESTING.md names %s, which no test file declares", name[1])
		}
	}
}

// api is what a package exports: its top-level names and methods, and the
// exported fields of each struct type.
type api struct {
	names  map[string]bool
	fields map[string]map[string]bool
}

// exportsOf reads the exported API of the package in dir from its source.
func exportsOf(t *testing.T, dir string) api {
	t.Helper()
	a := api{names: map[string]bool{}, fields: map[string]map[string]bool{}}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				a.names[d.Name.Name] = true
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							a.names[n.Name] = true
						}
					case *ast.TypeSpec:
						a.names[s.Name.Name] = true
						if st, ok := s.Type.(*ast.StructType); ok {
							a.fields[s.Name.Name] = map[string]bool{}
							for _, field := range st.Fields.List {
								for _, n := range field.Names {
									a.fields[s.Name.Name][n.Name] = true
								}
							}
						}
					}
				}
			}
		}
	}
	return a
}

var (
	codeSpan     = regexp.MustCompile("`([^`\n]+)`")
	qualified    = regexp.MustCompile(`\b(concord|concordtest)\.([A-Z]\w*)`)
	bareOption   = regexp.MustCompile(`(?:^|[^.\w])((?:With|Err|Default)[A-Z]\w*)`)
	structFields = regexp.MustCompile(`\b([A-Z]\w*)\{([A-Z][\w, ]*)\}`)
)

// TestDocsNameOnlyWhatExists keeps the docs true after a rename: every
// identifier of concord or concordtest that README.md, ARCHITECTURE.md,
// TESTING.md or BENCHMARKS.md shows in code (concord.X, an option WithX,
// an error ErrX, a default DefaultX, the fields in RetryPolicy{A, B}) is
// declared. CHANGELOG.md is left out: it names the old names on purpose.
func TestDocsNameOnlyWhatExists(t *testing.T) {
	pkgs := map[string]api{"concord": exportsOf(t, "."), "concordtest": exportsOf(t, "concordtest")}
	declared := func(name string) bool { return pkgs["concord"].names[name] || pkgs["concordtest"].names[name] }
	for _, doc := range []string{"README.md", "ARCHITECTURE.md", "TESTING.md", "BENCHMARKS.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, span := range codeSpan.FindAllStringSubmatch(string(text), -1) {
			for _, m := range qualified.FindAllStringSubmatch(span[1], -1) {
				if !pkgs[m[1]].names[m[2]] {
					t.Errorf("%s shows %s.%s, which %s does not declare", doc, m[1], m[2], m[1])
				}
			}
			for _, m := range bareOption.FindAllStringSubmatch(span[1], -1) {
				if !declared(m[1]) {
					t.Errorf("%s shows %s, which neither concord nor concordtest declares", doc, m[1])
				}
			}
			for _, m := range structFields.FindAllStringSubmatch(span[1], -1) {
				fields, ok := pkgs["concord"].fields[m[1]]
				if !ok {
					continue
				}
				for _, f := range strings.Split(m[2], ",") {
					if f = strings.TrimSpace(f); !fields[f] {
						t.Errorf("%s shows %s{%s}, but %s has no field %s", doc, m[1], m[2], m[1], f)
					}
				}
			}
		}
	}
}
