package concord_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestArchitectureListsEveryFile keeps ARCHITECTURE.md true: every source
// file of the module's packages (not the nested modules, examples or test
// files) is listed there with its job.
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
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
