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
