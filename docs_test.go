package concord_test

import (
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
