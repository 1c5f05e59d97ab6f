package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRun runs the example; run itself checks that both ways read every
// item once.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run = %v\n%s", err, out.String())
	}
	for _, want := range []string{"All read 23 items", "Page read 23 items in 5 pages"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
