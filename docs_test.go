package concord_test

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
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
	skip := map[string]bool{"bench": true, "interop": true, "histories": true, "examples": true, "testdata": true}
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

// packageFiles parses the source files of the package in dir (not its
// tests) with mode.
func packageFiles(t *testing.T, dir string, mode parser.Mode) (*token.FileSet, []*ast.File) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, mode)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return fset, files
}

// exportsOf reads the exported API of the package in dir from its source.
func exportsOf(t *testing.T, dir string) api {
	t.Helper()
	a := api{names: map[string]bool{}, fields: map[string]map[string]bool{}}
	_, files := packageFiles(t, dir, 0)
	for _, f := range files {
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
// identifier of concord or concordtest that README.md, a guide under
// docs/, ARCHITECTURE.md, TESTING.md or BENCHMARKS.md shows in code (concord.X, an option WithX,
// an error ErrX, a default DefaultX, the fields in RetryPolicy{A, B}) is
// declared. CHANGELOG.md is left out: it names the old names on purpose.
func TestDocsNameOnlyWhatExists(t *testing.T) {
	pkgs := map[string]api{"concord": exportsOf(t, "."), "concordtest": exportsOf(t, "concordtest")}
	declared := func(name string) bool { return pkgs["concord"].names[name] || pkgs["concordtest"].names[name] }
	for _, doc := range append([]string{"ARCHITECTURE.md", "TESTING.md", "BENCHMARKS.md"}, guides(t)...) {
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

// guides are the docs a reader is sent to: the README and every guide
// under docs/.
func guides(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("no guides under docs/ (%v)", err)
	}
	return append([]string{"README.md"}, docs...)
}

// TestGuidesAreLinked: every guide under docs/ is linked from the README
// and from the package documentation, and the README stays a ten-minute
// read (at most 15 KB).
func TestGuidesAreLinked(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	pkgDoc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(readme) > 15<<10 {
		t.Errorf("README.md is %d bytes; want at most 15 KB, the rest in guides", len(readme))
	}
	for _, g := range guides(t)[1:] {
		if !strings.Contains(string(readme), "("+g+")") {
			t.Errorf("README.md does not link %s", g)
		}
		if !strings.Contains(string(pkgDoc), g) {
			t.Errorf("doc.go does not name %s", g)
		}
	}
}

// goBlock is a fenced Go code block of a doc.
var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// snippetPrelude is what every doc's Go block may use without declaring
// it: the usual imports, the types the docs show, and the variables a
// fragment refers to (a client c, a resource widgets, a context ctx...).
const snippetPrelude = `package snippets

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/concord-go/concord"
	"github.com/concord-go/concord/concordtest"
)

var (
	_ = context.Background
	_ = errors.Is
	_ = fmt.Sprint
	_ = log.Print
	_ = slog.Default
	_ = http.MethodGet
	_ = url.PathEscape
	_ = testing.Short
	_ = time.Second
	_ = concord.New
	_ = concordtest.NewAPI
)

type (
	Widget struct {
		ID, Name, Color string
		Price, Stock    int
		Tags            []string
	}
	Entity struct{ Name string }
	Doc    struct{ Body string }
	Pod    struct{ Name string }
	Order  struct{ Number string }
	Issue  struct{ Title string }
)

var (
	ctx                  context.Context
	c                    *concord.Client
	tok, id              string
	widgets              *concord.Resource[Widget]
	orders               *concord.Resource[Order]
	issues               *concord.Resource[Issue]
	w, mine              Widget
	seen                 *concord.Result[Widget]
	err                  error
	myInstrumentedClient *http.Client
	mergeWidget          concord.MergeFunc[Widget]
)
`

// TestGuidesCodeCompiles type-checks every Go block of the README and the
// guides, so that a doc cannot show code that no longer compiles: a block
// with a top-level declaration as a file of its own, any other as the
// body of a function, both after snippetPrelude. Errors a fragment cannot
// avoid (a variable it declares only to show it, a := over a prelude
// name) are allowed; any other fails the test with the block's place.
func TestGuidesCodeCompiles(t *testing.T) {
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "source", nil)
	allowed := []string{"declared and not used", "imported and not used", "no new variables on left side", "is not used"}
	for _, doc := range guides(t) {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goBlock.FindAllSubmatchIndex(text, -1) {
			line := 1 + strings.Count(string(text[:m[2]]), "\n")
			block := strings.ReplaceAll(string(text[m[2]:m[3]]), "…", "")
			src := snippetPrelude + "\nfunc _() {\n" + block + "\n}\n"
			if regexp.MustCompile(`(?m)^(func|type) `).MatchString(block) {
				src = snippetPrelude + "\n" + block
			}
			f, err := parser.ParseFile(fset, doc, src, 0)
			if err != nil {
				t.Errorf("%s:%d: the Go block does not parse: %v", doc, line, err)
				continue
			}
			conf := types.Config{Importer: imp, Error: func(err error) {
				msg := err.Error()
				for _, a := range allowed {
					if strings.Contains(msg, a) {
						return
					}
				}
				t.Errorf("%s:%d: the Go block does not compile: %s", doc, line, msg[strings.Index(msg, ": ")+2:])
			}}
			_, _ = conf.Check("snippets", fset, []*ast.File{f}, nil)
		}
	}
}

// TestEveryExportedIdentifierIsDocumented: godoc is the reference, so every
// exported identifier of concord and concordtest (functions, methods of
// exported types, types, and each exported constant and variable, alone or
// in a documented group) has a doc comment that starts with its name.
func TestEveryExportedIdentifierIsDocumented(t *testing.T) {
	for _, dir := range []string{".", "concordtest"} {
		fset, files := packageFiles(t, dir, parser.ParseComments)
		for _, f := range files {
			check := func(name string, doc *ast.CommentGroup, pos token.Pos) {
				if !ast.IsExported(name) {
					return
				}
				text := ""
				if doc != nil {
					text = doc.Text()
				}
				if !regexp.MustCompile(`^(A |An |The )?` + regexp.QuoteMeta(name) + `\b`).MatchString(text) {
					t.Errorf("%s: %s has no doc comment starting with its name", fset.Position(pos), name)
				}
			}
			for _, decl := range f.Decls {
				switch d := decl.(type) {
				case *ast.FuncDecl:
					if d.Recv != nil {
						recv := d.Recv.List[0].Type
						if s, ok := recv.(*ast.StarExpr); ok {
							recv = s.X
						}
						if ix, ok := recv.(*ast.IndexExpr); ok {
							recv = ix.X
						}
						if ix, ok := recv.(*ast.IndexListExpr); ok {
							recv = ix.X
						}
						if id, ok := recv.(*ast.Ident); !ok || !ast.IsExported(id.Name) {
							continue
						}
					}
					check(d.Name.Name, d.Doc, d.Pos())
				case *ast.GenDecl:
					for _, spec := range d.Specs {
						switch s := spec.(type) {
						case *ast.TypeSpec:
							doc := s.Doc
							if doc == nil && len(d.Specs) == 1 {
								doc = d.Doc
							}
							check(s.Name.Name, doc, s.Pos())
						case *ast.ValueSpec:
							for _, n := range s.Names {
								if ast.IsExported(n.Name) && s.Doc == nil && d.Doc == nil && s.Comment == nil {
									t.Errorf("%s: %s has no doc comment, nor its group", fset.Position(n.Pos()), n.Name)
								}
							}
						}
					}
				}
			}
		}
	}
}

// upRef is a reference from a file of a lower layer to an identifier
// declared in a higher one, as ARCHITECTURE.md's table of them names it.
var upRef = regexp.MustCompile("(?m)^\\| `(\\w+\\.go)` \\| `(\\w+\\.go)` \\| [^|]+\\|$")

// TestLayersRunDownward keeps ARCHITECTURE.md's layers true: a file of the
// main package may name only identifiers declared in its own layer or
// below, except for the references ARCHITECTURE.md lists, each with its
// reason; a listed reference the code no longer makes must go from the
// list too. An identifier counts where the file names a package-level
// declaration of another file: not a field, a method or a local name.
func TestLayersRunDownward(t *testing.T) {
	doc, err := os.ReadFile("ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	rank := map[string]int{}
	for i, m := range regexp.MustCompile(`(?m)^\d+\. \*\*([^*]+)\*\*`).FindAllStringSubmatch(string(doc), -1) {
		rank[m[1]] = i + 1
	}
	allowed := map[string]bool{}
	for _, m := range upRef.FindAllStringSubmatch(string(doc), -1) {
		allowed[m[1]+" -> "+m[2]] = true
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	declaredIn, layer, parsed := map[string]string{}, map[string]int{}, map[string]*ast.File{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m := layerLine.FindSubmatch(src)
		if m == nil || rank[string(m[1])] == 0 {
			t.Fatalf("%s names no layer of ARCHITECTURE.md", path)
		}
		layer[path] = rank[string(m[1])]
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed[path] = f
		for name := range f.Scope.Objects {
			declaredIn[name] = path
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				declaredIn[fd.Name.Name] = path
			}
		}
	}
	seen := map[string]string{} // edge -> an identifier it names
	for path, f := range parsed {
		fields := map[*ast.Ident]bool{} // selectors, composite-literal keys, declared names
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				fields[n.Sel] = true
			case *ast.FuncDecl: // a method's name is no reference
				fields[n.Name] = true
			case *ast.KeyValueExpr:
				if id, ok := n.Key.(*ast.Ident); ok {
					fields[id] = true
				}
			case *ast.Ident:
				to, ok := declaredIn[n.Name]
				if ok && n.Obj == nil && !fields[n] && to != path && layer[to] > layer[path] {
					seen[path+" -> "+to] = n.Name
				}
			}
			return true
		})
	}
	for edge, name := range seen {
		if !allowed[edge] {
			t.Errorf("%s names %s, of a higher layer; ARCHITECTURE.md does not list this reference with its reason", edge, name)
		}
	}
	for edge := range allowed {
		if _, ok := seen[edge]; !ok {
			t.Errorf("ARCHITECTURE.md lists %s, a reference the code no longer makes", edge)
		}
	}
}
