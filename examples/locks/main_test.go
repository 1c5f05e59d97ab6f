package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRun runs the example; run itself checks that the locked counter
// ends at exactly 40.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run = %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), `the counter holds {"n":40}, 0 calls failed`) {
		t.Errorf("output lacks the locked counter at 40:\n%s", out.String())
	}
}
