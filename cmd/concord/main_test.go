package main

import (
	"bytes"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for $EDITOR: with
// CONCORD_TEST_EDITOR set it edits the file it is given as the test says
// (and, first, lets "another writer" change the item), then exits.
func TestMain(m *testing.M) {
	if os.Getenv("CONCORD_TEST_EDITOR") != "" {
		os.Exit(fakeEditor(os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nope"}, {"probe"}, {"probe", "-d", "[1]", "http://x/y"}, {"probe", "ftp://x/y"}, {"edit"}} {
		var out, errs bytes.Buffer
		if code := run(args, nil, &out, &errs); code != 2 && !(len(args) > 1 && args[0] == "edit" && code == 1) {
			t.Errorf("run(%q) = %d; want 2", args, code)
		}
	}
}
