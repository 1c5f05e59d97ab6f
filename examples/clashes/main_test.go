package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRun runs the example with each choice; run itself checks the plan
// that results.
func TestRun(t *testing.T) {
	for _, choose := range []string{"mine", "theirs"} {
		var out bytes.Buffer
		if err := run(context.Background(), &out, choose); err != nil {
			t.Fatalf("run(%s) = %v\n%s", choose, err, out.String())
		}
		if !strings.Contains(out.String(), "merge clash at /budget") {
			t.Errorf("run(%s) output lacks the clash:\n%s", choose, out.String())
		}
	}
	if err := run(context.Background(), &bytes.Buffer{}, "both"); err == nil {
		t.Error("run(both) = nil; want an error for a choice that is neither")
	}
}
